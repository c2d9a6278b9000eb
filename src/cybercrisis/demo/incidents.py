"""The demo's incidents: fictional scenarios in several Member States, some correlated, some overdue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.schemas import ShareWith
from cybercrisis.db import utcnow
from cybercrisis.demo.users import as_user
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.incidents import service as incidents
from cybercrisis.incidents.models import Incident
from cybercrisis.incidents.schemas import IncidentIn, ReportIn

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


def load_incidents(session: Session) -> None:
    """A handful of incidents in several Member States: some correlated, some overdue, one AMBER+STRICT."""
    now = utcnow().replace(second=0, microsecond=0)
    for sc in SCENARIOS:
        actor = as_user(session, sc.author)
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


RANSOMWARE = SCENARIOS[0].incident["title"]
NORDLICHT = SCENARIOS[1].incident["title"]
TULPBANK = SCENARIOS[2].incident["title"]
DNS_DDOS = SCENARIOS[3].incident["title"]
PHISHING = SCENARIOS[4].incident["title"]


def incident_ids(session: Session, titles: tuple[str, ...]) -> list[str]:
    return [session.scalars(select(Incident.id).where(Incident.title == t)).one() for t in titles]
