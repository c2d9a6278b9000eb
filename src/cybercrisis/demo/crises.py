"""The demo's crisis: escalated to IPCR, with decisions, actions, assistance, a public statement and a hand-off."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.schemas import ShareWith
from cybercrisis.config import get_settings
from cybercrisis.db import utcnow
from cybercrisis.demo.incidents import C2_HOST, NORDLICHT, RANSOMWARE, TULPBANK, incident_ids
from cybercrisis.demo.users import as_user
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.incidents.models import Incident

CRISIS_TITLE = "Coordinated ransomware campaign against hospitals and energy operators"


def load_crisis(session: Session) -> None:
    """One active cross-border crisis, escalated to IPCR information-sharing mode, with decisions and actions."""
    from cybercrisis.access.policy import read_filter
    from cybercrisis.crises import actions, decisions, escalations, governance
    from cybercrisis.crises import service as crises
    from cybercrisis.crises.schemas import ActionIn, ConsultationIn, CrisisIn, DecisionIn

    settings = get_settings()
    now = utcnow().replace(second=0, microsecond=0)
    enisa = as_user(session, "coordinator@enisa.example")
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
    escalations.propose_escalation(
        session,
        actor=enisa,
        crisis_id=crisis.id,
        to="eu-cyclone",
        settings=settings,
        rationale="Impact on essential services in three Member States.",
    )
    fr_crisis = as_user(session, "duty@anssi-crisis.example")
    decisions.record_decision(
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
    esc = escalations.propose_escalation(
        session,
        actor=enisa,
        crisis_id=crisis.id,
        to="ipcr-information-sharing",
        settings=settings,
        rationale="Hospitals diverting ambulances; political-level situational awareness needed.",
    )
    gsc = as_user(session, "duty@gsc-ipcr.example")
    governance.record_consultation(
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
    escalations.answer_escalation(
        session,
        actor=gsc,
        crisis_id=crisis.id,
        escalation_id=esc.id,
        agree=True,
        comment="IPCR information-sharing mode activated in consultation with the Presidency.",
        settings=settings,
    )
    presidency = as_user(session, "duty@council-presidency.example")
    decisions.record_decision(
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
        actions.create_action(
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
    from cybercrisis.assistance import catalogue, lifecycle, offers, requesting
    from cybercrisis.assistance.schemas import CapabilityIn, OfferIn, Recipients, RequestIn

    de = as_user(session, "analyst@cert-bund.example")
    nl = as_user(session, "analyst@ncsc-nl.example")
    ot = catalogue.create_capability(
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
    catalogue.create_capability(
        session,
        actor=nl,
        data=CapabilityIn(kind="incident-response", title="Incident response team", notice_hours=24, people=3),
    )
    fr_crisis = as_user(session, "duty@anssi-crisis.example")
    between = requesting.create_request(
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
    offer = offers.make_offer(
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
    offers.make_offer(
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
    offers.decide_offer(
        session,
        actor=fr_crisis,
        request_id=between.id,
        offer_id=offer.id,
        accept=True,
        comment="Accepted: please contact the ANSSI crisis desk.",
    )
    # Reg. (EU) 2025/38: the crisis authority (a Reserve user, Art. 14(3)(a)) asks; its SPOC transmits (Art. 15(3)(a)).
    reserve = requesting.create_request(
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
    spoc = as_user(session, "spoc@anssi.example")
    lifecycle.transmit_request(session, actor=spoc, request_id=reserve.id)
    enisa = as_user(session, "coordinator@enisa.example")
    offers.make_offer(
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

    enisa = as_user(session, "coordinator@enisa.example")
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
            actor=as_user(session, email),
            communication_id=statement.id,
            version=statement.current_version,
            verdict=Verdict.APPROVE,
            comment="",
        )


def _handoff(session: Session) -> None:
    """CERT-FR hands the hospital ransomware's indicators to the national cybercrime unit."""
    from cybercrisis.handoffs import service as handoffs
    from cybercrisis.handoffs.schemas import ChosenObservable, HandoffIn

    fr = as_user(session, "analyst@cert-fr.example")
    incident = incident_ids(session, (RANSOMWARE,))[0]
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
