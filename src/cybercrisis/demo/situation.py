"""The demo's situational awareness: national contributions for today and yesterday, and two reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from cybercrisis.access.schemas import ShareWith
from cybercrisis.config import Settings, get_settings
from cybercrisis.db import utcnow
from cybercrisis.demo.incidents import DNS_DDOS, NORDLICHT, PHISHING, RANSOMWARE, TULPBANK, incident_ids
from cybercrisis.demo.users import as_user
from cybercrisis.situation import contributions, sitreps
from cybercrisis.situation.schemas import ContributionIn, SectorImpact, SitrepIn

# A live picture a newcomer reads in ten seconds: eight Member States report for today (00:00 to 24:00 UTC), France
# at the top of the scale and asking for help, the energy sector hit in FR, DE and PL. Three of them also reported
# for yesterday, whose technical report ENISA has published (which closed yesterday to contributions); today's
# operational report is still a draft of ENISA's, so today stays open. Contributions that link AMBER incidents are
# AMBER themselves (a contribution is marked at least as strictly as what it links).
CONTRIBUTION_AUDIENCE = ShareWith(communities=["csirts-network", "eu-cyclone"])


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
        incidents=incident_ids(session, n.incidents),
        measures=n.measures,
        needs=n.needs,
        assistance_requested=n.assistance,
        narrative=n.narrative,
        tlp=n.tlp,
        share_with=CONTRIBUTION_AUDIENCE,
    )
    contributions.create(session, actor=as_user(session, n.author), data=data, settings=settings)


def load_situation(session: Session) -> None:
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

    coordinator = as_user(session, "coordinator@enisa.example")
    secretariat = as_user(session, "secretariat@enisa.example")
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
