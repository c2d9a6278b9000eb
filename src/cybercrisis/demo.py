"""The demo: the shipped directory, a few users, documents and incidents. Loading it twice changes nothing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis import datadir
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.accounts import security
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.config import Settings, get_settings
from cybercrisis.db import utcnow
from cybercrisis.directory.exchange import ImportResult, import_directory, org_id_for_key
from cybercrisis.documents import service as documents
from cybercrisis.incidents import service as incidents
from cybercrisis.incidents.models import Incident
from cybercrisis.incidents.schemas import IncidentIn, ReportIn
from cybercrisis.situation import contributions, sitreps
from cybercrisis.situation.schemas import ContributionIn, SectorImpact, SitrepIn

DEMO_FILE = Path(__file__).parent / "directory" / "demo_directory.json"

# (e-mail, organisation key, roles, display name). Role accounts, not people.
DEMO_USERS = [
    ("admin@cert-fr.example", "fr-csirt", ["org-admin"], "CERT-FR administrator"),
    ("analyst@cert-fr.example", "fr-csirt", ["analyst"], "CERT-FR duty analyst"),
    ("analyst@cert-bund.example", "de-csirt", ["analyst"], "CERT-Bund duty analyst"),
    ("analyst@ncsc-nl.example", "nl-csirt", ["analyst"], "NCSC-NL duty analyst"),
    ("analyst@cert-ee.example", "ee-csirt", ["analyst"], "CERT-EE duty analyst"),
    ("coordinator@enisa.example", "enisa", ["coordinator"], "ENISA CSIRTs Network secretariat"),
    ("operator@enisa.example", "enisa", ["platform-admin"], "Platform operator"),
    ("viewer@cert-ee.example", "ee-csirt", ["viewer"], "CERT-EE viewer"),
    # Situational awareness: a second ENISA coordinator (four eyes on reports) and more national contributors.
    ("secretariat@enisa.example", "enisa", ["coordinator"], "ENISA situational awareness secretariat"),
    ("analyst@csirt-italia.example", "it-csirt", ["analyst"], "CSIRT Italia duty analyst"),
    ("analyst@incibe-cert.example", "es-csirt", ["analyst"], "INCIBE-CERT duty analyst"),
    ("duty@ccb-crisis.example", "be-crisis", ["analyst"], "CCB crisis desk (BE)"),
    ("duty@mc-pl-crisis.example", "pl-crisis", ["analyst"], "Polish cyber crisis desk"),
    # Crisis coordination: the political level, national crisis desks, a SPOC (Reserve requests) and EC3.
    ("duty@council-presidency.example", "council-presidency", ["coordinator"], "Council Presidency crisis desk"),
    ("duty@gsc-ipcr.example", "council-gsc-ipcr", ["coordinator"], "GSC IPCR desk"),
    ("duty@anssi-crisis.example", "fr-crisis", ["coordinator"], "ANSSI cyber crisis desk (FR)"),
    ("duty@bsi-crisis.example", "de-crisis", ["coordinator"], "BSI cyber crisis desk (DE)"),
    ("spoc@anssi.example", "fr-spoc", ["analyst"], "ANSSI single point of contact (FR)"),
    ("press@dg-connect.example", "ec-dg-connect", ["coordinator"], "DG CONNECT spokesperson's office"),
    # ISAA reports are developed by Commission services and the EEAS (Council Recommendation of 6 June 2025,
    # C/2025/3445, recital 3): their drafting desks author the political-level reports.
    ("isaa@dg-connect.example", "ec-dg-connect", ["coordinator"], "DG CONNECT ISAA drafting desk"),
    ("isaa@eeas.example", "eeas", ["coordinator"], "EEAS ISAA drafting desk"),
    ("duty@ec3.example", "europol-ec3", ["analyst"], "Europol EC3 duty officer"),
]


@dataclass(frozen=True)
class DemoResult:
    directory: ImportResult
    users_created: int
    password: str | None  # set on the first load only


def credentials_file(data_dir: Path) -> Path:
    return data_dir / "demo-credentials.json"


def load(session: Session, *, data_dir: Path) -> DemoResult:
    result = import_directory(session, actor=SYSTEM, text=DEMO_FILE.read_text(encoding="utf-8"), fmt="json")
    existing = set(session.scalars(select(User.email)))
    wanted = [u for u in DEMO_USERS if u[0] not in existing]
    password = None
    if wanted:
        creds = credentials_file(data_dir)
        password = _saved_password(creds) or security.generate_password()
        for email, key, roles, name in wanted:
            accounts.create_user(
                session,
                actor=SYSTEM,
                org_ref=org_id_for_key(key),
                email=email,
                roles=roles,
                password=password,
                display_name=name,
            )
        datadir.ensure_private_dir(data_dir)
        datadir.write_private(creds, json.dumps({"password": password, "users": [u[0] for u in DEMO_USERS]}, indent=2))
        if len(wanted) == len(DEMO_USERS):
            _documents(session)
            _incidents(session)
            _situation(session)
            _crisis(session)
    return DemoResult(result, len(wanted), password)


def _saved_password(path: Path) -> str | None:
    try:
        value = json.loads(path.read_text())["password"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def _as_user(session: Session, email: str) -> Principal:
    user = session.scalars(select(User).where(User.email == email)).one()
    return accounts.principal_for(session, user)


def _documents(session: Session) -> None:
    fr = _as_user(session, "analyst@cert-fr.example")
    de = _as_user(session, "analyst@cert-bund.example")
    documents.create_document(
        session,
        actor=fr,
        kind="sop",
        tlp="green",
        share_with=ShareWith(),
        title="CERT-FR: SOP for cross-border incident notification",
        body="1. Check whether the notified incident is significant (NIS2 Art. 23(3)).\n2. Answer the entity's early "
        "warning without undue delay and where possible within 24 h of receiving it, with initial feedback and, on "
        "request, guidance (NIS2 Art. 23(5)); the early warning itself is the entity's (Art. 23(4)(a)).\n"
        "3. Inform the CSIRTs Network where a cross-border impact is possible.\n4. Record every step here.",
    )
    documents.create_document(
        session,
        actor=fr,
        kind="crisis-plan",
        tlp="amber+strict",
        share_with=ShareWith(organisations=[org_id_for_key("fr-crisis")]),
        title="National cyber crisis plan: activation thresholds (extract)",
        body="Extract of the national plan shared with the national crisis authority only.",
    )
    documents.create_document(
        session,
        actor=de,
        kind="contact-sheet",
        tlp="red",
        share_with=ShareWith(users=["analyst@cert-fr.example"]),
        title="Bilateral out-of-band contact sheet DE-FR",
        body="Out-of-band channel for the duty analysts of CERT-Bund and CERT-FR.",
    )
    documents.create_document(
        session,
        actor=de,
        kind="sop",
        tlp="clear",
        share_with=ShareWith(),
        title="Public guidance: reporting a cyber incident",
        body="Essential and important entities report significant incidents to their national CSIRT.",
    )


# --- incidents ------------------------------------------------------------------------------------------------
# Fictional scenarios. Observables use the documentation ranges (RFC 5737) and .example names; CVE-2024-3400
# (PAN-OS GlobalProtect) is real and public. FR, DE and NL share infrastructure, so they form a cross-border
# cluster; the AMBER+STRICT German incident shares one address too, and stays invisible to everyone else.
C2_HOST = "203.0.113.45"
C2_DOMAIN = "vpn-telemetry-update.example"
IMPLANT = "b45c653686541f2c394ba05e793c23763c8e61b1f61241fe754255f89447f54e"
NETWORK = ShareWith(communities=["csirts-network"])


@dataclass(frozen=True)
class _Scenario:
    author: str
    hours_ago: int
    incident: dict[str, Any]
    # (kind, hours after awareness, fields); the owner submits, the owner's CSIRT gives feedback.
    reports: tuple[tuple[str, int, dict[str, Any]], ...] = ()
    status: str | None = None
    entity: str | None = None  # organisation key in the demo directory
    share: ShareWith = field(default_factory=lambda: NETWORK)


def _obs(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"type": t, "value": v} for t, v in pairs]


IP, DOMAIN, URL, EMAIL, SHA256, CVE, CIDR, ASN = (
    "ipv4-addr",
    "domain-name",
    "url",
    "email-addr",
    "sha256",
    "cve",
    "ipv4-addr",
    "autonomous-system",
)


SCENARIOS = (
    _Scenario(
        "analyst@cert-fr.example",
        80,
        entity="fr-ch-bellerive",
        status="ongoing",
        incident={
            "title": "Ransomware at CH Bellerive: patient records and imaging offline",
            "description": "Encryption of the hospital's file servers and PACS after access through the VPN "
            "gateway. Emergency department on paper procedures; ambulances diverted for 6 hours.",
            "tlp": "amber",
            "countries": ["FR"],
            "sectors": ["health"],
            "entity_name": "CH Bellerive",
            "entity_category": "essential",
            "rsit_class": "information-content-security",
            "rsit_type": "unauthorised-information-modification",
            "root_cause": "malicious-actions",
            "significance": "significant",
            "significance_reason": "Severe operational disruption of the hospital: "
            "emergency department on paper procedures, ambulances diverted (NIS2 Art. 23(3)(a)).",
            "threat_severity": "high",
            "impact_severity": "red",
            "outlook": "stable",
            "suspected_malicious": True,
            "observables": _obs(
                (IP, C2_HOST),
                (CVE, "CVE-2024-3400"),
                (IP, "198.51.100.23"),
                (URL, "hxxps://files-transfer[.]example/u/7f3a"),
                (EMAIL, "restore-help@mailbox.example"),
                (SHA256, "68af38b6731bff32149b720f34c0e6ce5bdbf04cac48f979f29a10685d5bc898"),
            ),
        },
        reports=(
            (
                "early-warning",
                5,
                {
                    "summary": "Ransomware, hospital systems encrypted; initial access suspected "
                    "through the VPN gateway.",
                    "suspected_malicious": True,
                    "cross_border": False,
                },
            ),
            (
                "feedback",
                9,
                {
                    "summary": "Received.",
                    "guidance": "Isolate the VPN gateway, preserve its logs, "
                    "apply the vendor's CVE-2024-3400 mitigation.",
                    "law_enforcement_guidance": "File a complaint with the national cybercrime unit.",
                },
            ),
        ),
    ),
    _Scenario(
        "analyst@cert-bund.example",
        30,
        entity="de-nordlicht-energie",
        status="triage",
        incident={
            "title": "VPN gateways compromised via CVE-2024-3400 at Nordlicht Energie",
            "description": "Command injection on the GlobalProtect gateways; web shell and an implant calling a "
            "telemetry-like domain. The operator's partners in NL use the same appliance model.",
            "tlp": "amber",
            "countries": ["DE"],
            "sectors": ["energy"],
            "entity_name": "Nordlicht Energie",
            "entity_category": "essential",
            "rsit_class": "intrusions",
            "rsit_type": "system-compromise",
            "significance": "significant",
            "significance_reason": "Successful, suspectedly malicious access to the "
            "VPN gateways of an electricity operator, capable of severe operational disruption (Reg. (EU) 2024/2690 "
            "Art. 3(1)(e)); its partners in NL run the same appliance.",
            "root_cause": "malicious-actions",
            "threat_severity": "high",
            "impact_severity": "yellow",
            "outlook": "worsening",
            "suspected_malicious": True,
            "cross_border": True,
            "observables": _obs((IP, C2_HOST), (CVE, "CVE-2024-3400"), (DOMAIN, C2_DOMAIN), (SHA256, IMPLANT)),
        },
    ),
    _Scenario(
        "analyst@ncsc-nl.example",
        96,
        entity="nl-tulpbank",
        status="contained",
        incident={
            "title": "Unauthorised access to internal systems at Tulpbank through a VPN appliance",
            "description": "Attacker used VPN sessions to reach the internal ticketing system; no payment "
            "systems reached. Appliance rebuilt, credentials rotated.",
            "tlp": "green",
            "countries": ["NL"],
            "sectors": ["banking"],
            "entity_name": "Tulpbank",
            "entity_category": "essential",
            "rsit_class": "information-content-security",
            "rsit_type": "unauthorised-information-access",
            "root_cause": "malicious-actions",
            "significance": "significant",
            "significance_reason": "Successful, suspectedly malicious and "
            "unauthorised access capable of causing severe operational disruption (Reg. (EU) 2024/2690 Art. 3(1)(e)).",
            "threat_severity": "medium",
            "impact_severity": "yellow",
            "outlook": "improving",
            "suspected_malicious": True,
            "facts": {"financial_loss_eur": 120_000},
            "observables": _obs((DOMAIN, C2_DOMAIN), (ASN, "AS64500"), (CIDR, "192.0.2.0/24")),
        },
        reports=(
            (
                "early-warning",
                27,
                {
                    "summary": "Suspicious VPN sessions, investigation ongoing.",
                    "suspected_malicious": True,
                    "cross_border": False,
                },
            ),
            ("feedback", 30, {"summary": "Received.", "guidance": "Check the appliance against CVE-2024-3400."}),
            (
                "notification",
                60,
                {
                    "summary": "Access to internal ticketing confirmed.",
                    "severity_and_impact": "Medium; no customer funds affected.",
                    "indicators": _obs((SHA256, IMPLANT)),
                },
            ),
        ),
    ),
    _Scenario(
        "analyst@cert-ee.example",
        144,
        entity="ee-laanemere-dc",
        status="resolved",
        incident={
            "title": "DDoS on the authoritative DNS service of Läänemere DC",
            "description": "UDP reflection and random-subdomain attack on the authoritative name servers; "
            "government and banking domains hosted there unreachable for 95 minutes.",
            "tlp": "amber",
            "countries": ["EE"],
            "sectors": ["digital-infrastructure"],
            "entity_name": "Läänemere DC",
            "entity_type": "dns-service-provider",
            "rsit_class": "availability",
            "significance": "significant",
            "significance_reason": "The authoritative DNS service was completely "
            "unavailable for 95 minutes (Reg. (EU) 2024/2690 Art. 5).",
            "rsit_type": "ddos",
            "root_cause": "malicious-actions",
            "threat_severity": "medium",
            "impact_severity": "yellow",
            "outlook": "improving",
            "suspected_malicious": True,
            "facts": {"unavailability_minutes": 95, "limited_availability_minutes": 180, "users_affected": 1_400_000},
            "observables": _obs((CIDR, "198.51.100.0/24"), (ASN, "AS64511")),
        },
        reports=(
            (
                "early-warning",
                3,
                {"summary": "DDoS on authoritative DNS.", "suspected_malicious": True, "cross_border": False},
            ),
            ("feedback", 6, {"summary": "Received.", "guidance": "Scrubbing via the upstream provider."}),
            (
                "notification",
                20,
                {
                    "summary": "Service restored after 95 minutes.",
                    "severity_and_impact": "1.4 million users affected for over an hour.",
                },
            ),
        ),
    ),
    _Scenario(
        "analyst@cert-fr.example",
        10,
        status="ongoing",
        share=ShareWith(organisations=[org_id_for_key("es-csirt"), org_id_for_key("it-csirt")]),
        incident={
            "title": "Phishing wave impersonating health insurance and tax refunds in FR, ES and IT",
            "description": "SMS and e-mail lures promising a refund; the kit serves pages in French, Spanish and "
            "Italian from the same hosting. Shared bilaterally with INCIBE-CERT and CSIRT Italia so far.",
            "tlp": "amber",
            "pap": "green",
            "countries": ["FR", "ES", "IT"],
            "sectors": ["public-administration"],
            "entity_name": "Citizens (impersonation of public bodies)",
            "rsit_class": "fraud",
            "significance": "outside-nis2",
            "significance_reason": "No essential or important entity is affected: a "
            "fraud campaign against citizens, handled as a cyber threat.",
            "rsit_type": "phishing",
            "root_cause": "malicious-actions",
            "threat_severity": "medium",
            "impact_severity": "green",
            "outlook": "worsening",
            "suspected_malicious": True,
            "cross_border": True,
            "observables": _obs(
                (DOMAIN, "remboursement-sante-securise.example"),
                (DOMAIN, "devolucion-impuestos.example"),
                (DOMAIN, "rimborso-fiscale.example"),
                (URL, "hxxps://remboursement-sante-securise[.]example/login"),
                (EMAIL, "no-reply@remboursement-sante-securise.example"),
                (IP, "198.51.100.140"),
            ),
        },
    ),
    _Scenario(
        "analyst@cert-bund.example",
        20,
        entity="de-rheinwasser",
        status="ongoing",
        share=ShareWith(organisations=[org_id_for_key("de-ca")]),
        incident={
            "title": "Data exfiltration from the engineering network at Rheinwasser",
            "description": "Engineering workstation sent 4 GB to an external host. Shared with the competent "
            "authority only.",
            "tlp": "amber+strict",
            "countries": ["DE"],
            "sectors": ["drinking-water"],
            "entity_name": "Rheinwasser",
            "entity_category": "essential",
            "rsit_class": "information-content-security",
            "rsit_type": "data-leak",
            "significance": "significant",
            "significance_reason": "Suspected malicious access to the engineering "
            "network of a drinking-water supplier, capable of severe operational disruption (Reg. (EU) 2024/2690 "
            "Art. 3(1)(e)).",
            "root_cause": "malicious-actions",
            "threat_severity": "medium",
            "impact_severity": "green",
            "observables": _obs((IP, C2_HOST), (IP, "198.51.100.77")),
        },
        reports=(
            (
                "early-warning",
                2,
                {"summary": "Exfiltration detected.", "suspected_malicious": True, "cross_border": False},
            ),
            ("feedback", 4, {"summary": "Received.", "guidance": "Preserve the workstation image."}),
        ),
    ),
)


def _incidents(session: Session) -> None:
    """A handful of incidents in several Member States: some correlated, some overdue, one AMBER+STRICT."""
    now = utcnow().replace(second=0, microsecond=0)
    for sc in SCENARIOS:
        actor = _as_user(session, sc.author)
        aware = now - timedelta(hours=sc.hours_ago)
        data = IncidentIn.model_validate(
            {
                **sc.incident,
                "aware_at": aware,
                "share_with": sc.share.model_dump(),
                "entity": org_id_for_key(sc.entity) if sc.entity else None,
            }
        )
        incident = incidents.create_incident(session, actor=actor, data=data)
        for kind, after, fields in sc.reports:
            report = ReportIn.model_validate({"kind": kind, "submitted_at": aware + timedelta(hours=after), **fields})
            incidents.submit_report(session, actor=actor, incident_id=incident.id, data=report)
        if sc.status:
            incidents.update_incident(
                session, actor=actor, incident_id=incident.id, version=incident.version, changes={"status": sc.status}
            )


# --- situational awareness ------------------------------------------------------------------------------------
# A live picture a newcomer reads in ten seconds: eight Member States report for today (00:00 to 24:00 UTC), France
# at the top of the scale and asking for help, the energy sector hit in FR, DE and PL. Three of them also reported
# for yesterday, whose technical report ENISA has published (which closed yesterday to contributions); today's
# operational report is still a draft of ENISA's, so today stays open. Contributions that link AMBER incidents are
# AMBER themselves (a contribution is marked at least as strictly as what it links).
CONTRIBUTION_AUDIENCE = ShareWith(communities=["csirts-network", "eu-cyclone"])
RANSOMWARE = SCENARIOS[0].incident["title"]
NORDLICHT = SCENARIOS[1].incident["title"]
TULPBANK = SCENARIOS[2].incident["title"]
DNS_DDOS = SCENARIOS[3].incident["title"]
PHISHING = SCENARIOS[4].incident["title"]


@dataclass(frozen=True)
class _National:
    author: str
    country: str
    step: int  # 0 (normal) to 3 (crisis) on the default four-step scale; mapped onto the deployment's own scale
    outlook: str
    sectors: tuple[tuple[str, str], ...]
    tlp: str = "green"
    incidents: tuple[str, ...] = ()  # titles of demo incidents
    services: tuple[str, ...] = ()
    entities: int | None = None
    measures: str = ""
    needs: str = ""
    assistance: bool = False
    narrative: str = ""


TODAY = (
    _National(
        "analyst@cert-fr.example",
        "FR",
        3,
        "worsening",
        (("energy", "red"), ("health", "yellow")),
        tlp="amber",
        incidents=(RANSOMWARE, PHISHING),
        entities=7,
        services=("Electricity distribution control in two regions", "Hospital imaging and patient records"),
        measures="National cyber crisis cell activated at 06:00 UTC. OT networks of the two distributors isolated "
        "and run by hand. Mitigation of CVE-2024-3400 ordered for every operator of essential services.",
        needs="Forensic support for OT networks: two incident response teams with industrial control experience "
        "for 72 hours.",
        assistance=True,
        narrative="Two regional electricity distributors report intrusions into their OT networks through the same "
        "VPN appliance model as the CH Bellerive ransomware. Supply holds on manual operation; short local outages "
        "are possible tonight. The phishing wave impersonating public bodies goes on.",
    ),
    _National(
        "analyst@cert-bund.example",
        "DE",
        2,
        "stable",
        (("energy", "yellow"), ("transport", "yellow")),
        tlp="amber",
        incidents=(NORDLICHT,),
        entities=3,
        services=("Remote access of two energy operators", "Scheduling at a rail freight operator"),
        measures="Compromised VPN gateways taken offline; indicators shared in the CSIRTs Network.",
        narrative="Exploitation of CVE-2024-3400 at energy operators, linked to the French cases by shared "
        "infrastructure. A rail freight operator reports disrupted scheduling after a similar intrusion.",
    ),
    _National(
        "analyst@ncsc-nl.example",
        "NL",
        1,
        "improving",
        (("banking", "green"), ("digital-infrastructure", "yellow")),
        incidents=(TULPBANK,),
        entities=1,
        measures="Tulpbank's appliance rebuilt and credentials rotated; sector-wide scan for CVE-2024-3400.",
        narrative="The Tulpbank intrusion is contained. VPN appliances of banks and of the internet exchange are "
        "being checked for the same compromise.",
    ),
    _National(
        "duty@ccb-crisis.example",
        "BE",
        1,
        "stable",
        (("public-administration", "yellow"),),
        services=("Websites of two federal agencies (intermittent)",),
        measures="DDoS mitigation through the upstream providers.",
        narrative="Hacktivist DDoS on federal websites, claimed on social media; limited impact.",
    ),
    _National(
        "analyst@cert-ee.example",
        "EE",
        0,
        "improving",
        (("digital-infrastructure", "green"),),
        tlp="amber",
        incidents=(DNS_DDOS,),
        narrative="The DDoS on authoritative DNS is resolved; no new impact. Monitoring continues.",
    ),
    _National(
        "duty@mc-pl-crisis.example",
        "PL",
        2,
        "worsening",
        (("energy", "red"),),
        entities=1,
        services=("District heating control in one city",),
        measures="Heating plant on manual control; CERT Polska on site.",
        needs="Indicators of the French and German energy cases, to check for the same actor.",
        narrative="Wiper on the control system of a district heating plant; heating maintained by hand.",
    ),
    _National(
        "analyst@csirt-italia.example",
        "IT",
        1,
        "worsening",
        (("public-administration", "yellow"),),
        tlp="amber",
        incidents=(PHISHING,),
        measures="Takedown requests for the phishing domains; public warning issued.",
        narrative="The phishing wave impersonating the tax agency is growing: 40 000 text messages reported in "
        "24 hours.",
    ),
    _National(
        "analyst@incibe-cert.example",
        "ES",
        0,
        "stable",
        (("public-administration", "green"),),
        tlp="amber",
        incidents=(PHISHING,),
        measures="Phishing domains taken down.",
        narrative="The phishing wave reached Spain; no further impact.",
    ),
)

YESTERDAY = (
    _National(
        "analyst@cert-fr.example",
        "FR",
        2,
        "worsening",
        (("health", "red"), ("energy", "yellow")),
        tlp="amber",
        incidents=(RANSOMWARE,),
        entities=2,
        services=("Hospital imaging and patient records",),
        measures="Hospital on paper procedures; VPN gateways of health operators checked.",
        narrative="Ransomware at CH Bellerive; suspicious VPN sessions at an electricity distributor.",
    ),
    _National(
        "analyst@cert-bund.example",
        "DE",
        2,
        "stable",
        (("energy", "yellow"),),
        tlp="amber",
        incidents=(NORDLICHT,),
        entities=1,
        services=("Remote access of an energy operator",),
        narrative="Web shell and implant on the VPN gateways of Nordlicht Energie.",
    ),
    _National(
        "analyst@ncsc-nl.example",
        "NL",
        2,
        "stable",
        (("banking", "yellow"),),
        incidents=(TULPBANK,),
        entities=1,
        narrative="Unauthorised access at Tulpbank through its VPN appliance; being contained.",
    ),
)

TECHNICAL_SUMMARY = (
    "Exploitation of CVE-2024-3400 on VPN gateways links incidents in FR, DE and NL: they share a command-and-"
    "control address and domain. Patch or mitigate exposed gateways, and hunt for the shared indicators."
)
OPERATIONAL_SUMMARY = (
    "France is at the top of the scale: intrusions into the OT networks of two electricity distributors, and a "
    "request for forensic support. Germany and Poland report degraded energy services. The outlook worsens in "
    "France, Poland and Italy."
)
OPERATIONAL_DECISIONS = "Whether to answer France's request for OT forensic teams, and from where."


def _scale_step(scale: list[str], step: int) -> str:
    """A step of the default four-step scale on the deployment's own scale (same place, least to most severe)."""
    return scale[round(step * (len(scale) - 1) / 3)]


def _incident_ids(session: Session, titles: tuple[str, ...]) -> list[str]:
    return [session.scalars(select(Incident.id).where(Incident.title == t)).one() for t in titles]


def _contribute(session: Session, settings: Settings, n: _National, start: datetime, end: datetime) -> None:
    data = ContributionIn(
        country=n.country,
        period_start=start,
        period_end=end,
        status=_scale_step(contributions.scale_of(settings), n.step),
        outlook=n.outlook,
        sectors=[SectorImpact(sector=s, impact=i) for s, i in n.sectors],
        services_disrupted=list(n.services),
        entities_affected=n.entities,
        incidents=_incident_ids(session, n.incidents),
        measures=n.measures,
        needs=n.needs,
        assistance_requested=n.assistance,
        narrative=n.narrative,
        tlp=n.tlp,
        share_with=CONTRIBUTION_AUDIENCE,
    )
    contributions.create(session, actor=_as_user(session, n.author), data=data, settings=settings)


def _situation(session: Session) -> None:
    """National contributions for today and yesterday, yesterday's published technical report, today's draft."""
    settings = get_settings()
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow, yesterday = today + timedelta(days=1), today - timedelta(days=1)
    if today + timedelta(days=settings.contribution_window_days) >= now:  # yesterday is still open
        for n in YESTERDAY:
            _contribute(session, settings, n, yesterday, today)
    for n in TODAY:
        _contribute(session, settings, n, today, tomorrow)

    coordinator = _as_user(session, "coordinator@enisa.example")
    secretariat = _as_user(session, "secretariat@enisa.example")
    technical = sitreps.draft(
        session,
        actor=coordinator,
        settings=settings,
        data=SitrepIn(level="technical", period_start=yesterday, period_end=today, tlp="amber"),
    )
    sitreps.edit(
        session,
        actor=coordinator,
        sitrep_id=technical.id,
        version=technical.current_version,
        changes={"summary": TECHNICAL_SUMMARY},
    )
    sitreps.approve(
        session, actor=secretariat, sitrep_id=technical.id, version=technical.current_version, settings=settings
    )
    sitreps.publish(
        session, actor=secretariat, sitrep_id=technical.id, version=technical.current_version, settings=settings
    )

    operational = sitreps.draft(
        session,
        actor=coordinator,
        settings=settings,
        data=SitrepIn(level="operational", period_start=today, period_end=tomorrow, tlp="amber"),
    )
    sitreps.edit(
        session,
        actor=coordinator,
        sitrep_id=operational.id,
        version=operational.current_version,
        changes={"summary": OPERATIONAL_SUMMARY, "decisions_needed": OPERATIONAL_DECISIONS},
    )


CRISIS_TITLE = "Coordinated ransomware campaign against hospitals and energy operators"


def _crisis(session: Session) -> None:
    """One active cross-border crisis, escalated to IPCR information-sharing mode, with decisions and actions."""
    from cybercrisis.access.policy import read_filter
    from cybercrisis.crises import service as crises
    from cybercrisis.crises.schemas import ActionIn, ConsultationIn, CrisisIn, DecisionIn

    settings = get_settings()
    now = utcnow().replace(second=0, microsecond=0)
    enisa = _as_user(session, "coordinator@enisa.example")
    wanted = (RANSOMWARE, NORDLICHT, TULPBANK)
    linked = list(session.scalars(select(Incident.id).where(Incident.title.in_(wanted), read_filter(enisa, Incident))))
    # The CSIRTs Network, and the French SPOC, which asks the EU Cybersecurity Reserve for help in it.
    audience = ShareWith(communities=["csirts-network"], organisations=[org_id_for_key("fr-spoc")])
    crisis = crises.open_crisis(
        session,
        actor=enisa,
        settings=settings,
        data=CrisisIn(
            title=CRISIS_TITLE,
            incidents=linked,
            tlp="amber",
            criteria=["multi-member-state-impact"],
            suspected_criminal=True,
            share_with=audience,
            description="Ransomware and VPN-appliance intrusions (CVE-2024-3400) hit hospitals and energy operators in "
            "FR, DE and NL with shared infrastructure; public services are disrupted.",
            justification="Significant impact in at least two Member States (FR, DE, NL) with shared attacker "
            "infrastructure; FR reports its response capacity stretched and asks for OT forensics.",
        ),
    )
    # ENISA is the secretariat (NIS2 Art. 15(2), 16(2)): it opens the crisis room and proposes moves, but the
    # members decide. The French crisis authority, a member of EU-CyCLONe, records the operational decision.
    crises.propose_escalation(
        session,
        actor=enisa,
        crisis_id=crisis.id,
        to="eu-cyclone",
        settings=settings,
        rationale="Impact on essential services in three Member States.",
    )
    fr_crisis = _as_user(session, "duty@anssi-crisis.example")
    crises.record_decision(
        session,
        actor=fr_crisis,
        crisis_id=crisis.id,
        settings=settings,
        data=DecisionIn(
            level="operational",
            kind="response",
            title="Share the campaign's indicators across the CSIRTs Network",
            options=["share now at TLP:AMBER", "wait for attribution"],
            rationale="Same C2 seen in three incidents.",
        ),
    )
    # IPCR information-sharing mode is activated by the Presidency, or by the GSC, the Commission services or the
    # EEAS in consultation with the Presidency (Council Implementing Decision (EU) 2018/1993, IPCR arrangements).
    # Those who may activate it must read the crisis first: a proposal adds no reader, and only the originator
    # (ENISA here) widens the audience.
    crises.set_sharing(
        session,
        actor=enisa,
        crisis_id=crisis.id,
        tlp="amber",
        share_with=ShareWith(
            communities=["csirts-network", "eu-cyclone"],
            organisations=[
                org_id_for_key("fr-spoc"),
                org_id_for_key("council-presidency"),
                org_id_for_key("council-gsc-ipcr"),
            ],
        ),
    )
    esc = crises.propose_escalation(
        session,
        actor=enisa,
        crisis_id=crisis.id,
        to="ipcr-information-sharing",
        settings=settings,
        rationale="Hospitals diverting ambulances; political-level situational awareness needed.",
    )
    gsc = _as_user(session, "duty@gsc-ipcr.example")
    crises.record_consultation(
        session,
        actor=gsc,
        crisis_id=crisis.id,
        escalation_id=esc.id,
        data=ConsultationIn(
            consulted=org_id_for_key("council-presidency"),
            consulted_at=now - timedelta(minutes=20),
            view="The Presidency supports information-sharing mode and asks for an ISAA report for COREPER.",
        ),
    )
    crises.answer_escalation(
        session,
        actor=gsc,
        crisis_id=crisis.id,
        escalation_id=esc.id,
        agree=True,
        comment="IPCR information-sharing mode activated in consultation with the Presidency.",
        settings=settings,
    )
    presidency = _as_user(session, "duty@council-presidency.example")
    crises.record_decision(
        session,
        actor=presidency,
        crisis_id=crisis.id,
        settings=settings,
        data=DecisionIn(
            level="political",
            kind="political-measure",
            title="Prepare options of the cyber diplomacy toolbox",
            options=["joint statement by the High Representative", "démarches", "no measure yet"],
            rationale="Attribution not yet established; options to be ready for COREPER.",
        ),
    )
    for key, title, hours in (
        ("fr-csirt", "Share forensic findings from CH Bellerive", -2),
        ("de-crisis", "Brief EU-CyCLONe on energy-sector exposure", 4),
        ("ec-dg-connect", "Draft the ISAA report for COREPER with the EEAS", 20),
    ):
        crises.create_action(
            session,
            actor=enisa,
            crisis_id=crisis.id,
            settings=settings,
            data=ActionIn(title=title, assignee=org_id_for_key(key), due_at=now + timedelta(hours=hours)),
        )
    _assistance(session, crisis.id, now)
    _statement(session, crisis.id, now)
    _handoff(session)


def _assistance(session: Session, crisis_id: str, now: datetime) -> None:
    """Two requests with offers: one between Member States (accepted), one to the EU Cybersecurity Reserve."""
    from cybercrisis.assistance import service as assistance
    from cybercrisis.assistance.schemas import CapabilityIn, OfferIn, Recipients, RequestIn

    de = _as_user(session, "analyst@cert-bund.example")
    nl = _as_user(session, "analyst@ncsc-nl.example")
    ot = assistance.create_capability(
        session,
        actor=de,
        data=CapabilityIn(
            kind="forensics",
            title="OT forensics team (energy, water)",
            notice_hours=12,
            people=2,
            description="Two analysts for ICS/SCADA forensics, German and English, with their own kit.",
        ),
    )
    assistance.create_capability(
        session,
        actor=nl,
        data=CapabilityIn(kind="incident-response", title="Incident response team", notice_hours=24, people=3),
    )
    fr_crisis = _as_user(session, "duty@anssi-crisis.example")
    between = assistance.create_request(
        session,
        actor=fr_crisis,
        data=RequestIn(
            needs=["forensics", "incident-response"],
            urgency="immediate",
            crisis=crisis_id,
            description="OT forensics for two grid operators hit by the campaign; our teams are on the hospitals.",
            affected_entity="Two regional grid operators",
            entity_type="essential",
            impact="red",
            severity="high",
            spillover="medium",
            measures_taken="SCADA networks isolated; national CSIRT on site at the hospitals.",
            other_support="None yet.",
            recipients=Recipients(communities=["csirts-network", "eu-cyclone"]),
        ),
    )
    offer = assistance.make_offer(
        session,
        actor=de,
        request_id=between.id,
        data=OfferIn(
            capability="forensics",
            people=2,
            available_from=now + timedelta(hours=12),
            capability_id=ot.id,
            conditions="Travel and lodging by the requester; up to 10 days.",
        ),
    )
    assistance.make_offer(
        session,
        actor=nl,
        request_id=between.id,
        data=OfferIn(
            capability="incident-response",
            people=3,
            available_from=now + timedelta(hours=24),
            conditions="Remote support first; on site after 48 h.",
        ),
    )
    assistance.decide_offer(
        session,
        actor=fr_crisis,
        request_id=between.id,
        offer_id=offer.id,
        accept=True,
        comment="Accepted: please contact the ANSSI crisis desk.",
    )
    # Reg. (EU) 2025/38: the crisis authority (a Reserve user, Art. 14(3)(a)) asks; its SPOC transmits (Art. 15(3)(a)).
    reserve = assistance.create_request(
        session,
        actor=fr_crisis,
        data=RequestIn(
            needs=["incident-response"],
            urgency="urgent",
            crisis=crisis_id,
            description="Incident response for CH Bellerive's restoration of patient records and imaging.",
            affected_entity="CH Bellerive (hospital)",
            entity_type="essential",
            impact="red",
            severity="high",
            spillover="low",
            measures_taken="Backups verified; emergency department on paper procedures.",
            other_support="CERT-Bund forensics accepted for the grid operators.",
            recipients=Recipients(reserve=True),
            potential_impact="high",
        ),
    )
    spoc = _as_user(session, "spoc@anssi.example")
    assistance.transmit_request(session, actor=spoc, request_id=reserve.id)
    enisa = _as_user(session, "coordinator@enisa.example")
    assistance.make_offer(
        session,
        actor=enisa,
        request_id=reserve.id,
        data=OfferIn(
            capability="incident-response",
            people=4,
            available_from=now + timedelta(hours=36),
            conditions="Deployed from a Reserve provider (Aegis Response) under the Reserve's terms; summary report "
            "of the service provided, results and lessons learned after support ends.",
        ),
    )


def _statement(session: Session, crisis_id: str, now: datetime) -> None:
    """A joint public statement waiting for two of its four approvals, under embargo until tomorrow 09:00 UTC."""
    from cybercrisis.comms import service as comms
    from cybercrisis.comms.models import Verdict
    from cybercrisis.comms.schemas import CommunicationIn, TranslationIn

    enisa = _as_user(session, "coordinator@enisa.example")
    tomorrow = (now + timedelta(days=1)).replace(hour=9, minute=0)
    statement = comms.create(
        session,
        actor=enisa,
        data=CommunicationIn(
            crisis=crisis_id,
            title="Joint statement on ransomware attacks against hospitals and energy operators",
            body="EU Member States, supported by ENISA and the CSIRTs Network, are responding together to ransomware "
            "attacks that disrupted hospitals and energy operators in several Member States. Essential services are "
            "being restored. Organisations using affected VPN appliances should apply the vendor's fixes now.",
            translations={
                "fr": TranslationIn(
                    title="Déclaration commune sur les attaques par rançongiciel contre des hôpitaux "
                    "et des opérateurs d'énergie",
                    body="Les États membres de l'UE, avec l'ENISA et "
                    "le réseau des CSIRT, répondent ensemble aux attaques par rançongiciel.",
                ),
                "de": TranslationIn(
                    title="Gemeinsame Erklärung zu Ransomware-Angriffen auf Krankenhäuser und Energieversorger",
                    body="Die EU-Mitgliedstaaten reagieren gemeinsam, unterstützt "
                    "von der ENISA und dem CSIRTs-Netzwerk, auf Ransomware-Angriffe.",
                ),
            },
            approvers=[org_id_for_key(k) for k in ("enisa", "fr-crisis", "de-crisis", "ec-dg-connect")],
            embargo_until=tomorrow,
            tlp="amber",
        ),
    )
    for email in ("coordinator@enisa.example", "duty@anssi-crisis.example"):
        comms.give_verdict(
            session,
            actor=_as_user(session, email),
            communication_id=statement.id,
            version=statement.current_version,
            verdict=Verdict.APPROVE,
            comment="",
        )


def _handoff(session: Session) -> None:
    """CERT-FR hands the hospital ransomware's indicators to the national cybercrime unit."""
    from cybercrisis.handoffs import service as handoffs
    from cybercrisis.handoffs.schemas import ChosenObservable, HandoffIn

    fr = _as_user(session, "analyst@cert-fr.example")
    incident = _incident_ids(session, (RANSOMWARE,))[0]
    handoffs.create(
        session,
        actor=fr,
        data=HandoffIn(
            incident=incident,
            recipient=org_id_for_key("fr-police-cyber"),
            reason="Suspected extortion by a ransomware group; the hospital filed a complaint.",
            observables=[
                ChosenObservable(type="ipv4-addr", value=C2_HOST),
                ChosenObservable(type="email-addr", value="restore-help@mailbox.example"),
            ],
        ),
    )
