"""The demo's incidents: several Member States, a cross-border cluster, overdue and submitted reports."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import demo
from cybercrisis.access.principal import Principal
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.demo import incidents as demo_incidents
from cybercrisis.demo import situation as demo_situation
from cybercrisis.errors import Conflict, NotFound
from cybercrisis.incidents import recurrence, service
from cybercrisis.incidents.models import Incident
from cybercrisis.situation import contributions, picture, sitrep_versions, sitreps
from cybercrisis.situation.models import Contribution, Sitrep
from cybercrisis.situation.schemas import ContributionIn
from tests.conftest import count


@pytest.fixture
def loaded(session_factory: sessionmaker[Session], tmp_path: Path) -> None:
    with unit_of_work(session_factory) as s:
        demo.load(s, data_dir=tmp_path)


def as_user(db: Session, email: str) -> Principal:
    return accounts.principal_for(db, db.scalars(select(User).where(User.email == email)).one())


def by_title(db: Session, start: str) -> Incident:
    return db.scalars(select(Incident).where(Incident.title.startswith(start))).one()


def test_demo_has_correlated_cross_border_and_overdue_incidents(loaded: None, db: Session) -> None:
    fr = as_user(db, "analyst@cert-fr.example")
    de = as_user(db, "analyst@cert-bund.example")
    incidents = db.scalars(select(Incident)).all()
    assert len(incidents) == len(demo_incidents.SCENARIOS) >= 6
    assert {"FR", "DE", "NL", "IT", "ES", "EE"} <= {c for i in incidents for c in i.countries}

    ransomware = by_title(db, "Ransomware at CH Bellerive")
    linked = {c.incident.title for c in service.correlations(db, principal=fr, incident_id=ransomware.id)}
    assert "VPN gateways compromised via CVE-2024-3400 at Nordlicht Energie" in linked
    cluster = service.cluster(db, principal=fr, incident_id=ransomware.id)
    assert {c for i in cluster for c in i.countries} == {"FR", "DE", "NL"}

    # The AMBER+STRICT incident shares an address with the cluster, but only its owner sees the link.
    strict = by_title(db, "Data exfiltration from the engineering network")
    assert strict.tlp == "amber+strict"
    assert strict.id not in {i.id for i in cluster}
    assert strict.id in {i.id for i in service.cluster(db, principal=de, incident_id=ransomware.id)}

    overdue = service.deadlines_for(db, principal=fr, status="overdue")
    assert {(r.kind, i.title.split(":")[0]) for r, i in overdue} >= {
        ("notification", "Ransomware at CH Bellerive"),
        ("early-warning", "VPN gateways compromised via CVE-2024-3400 at Nordlicht Energie"),
    }
    # The phishing wave affects no NIS2 entity (outside NIS2): no clock runs for it, so it is never overdue.
    phishing = by_title(db, "Phishing wave")
    assert phishing.significance == "outside-nis2" and phishing.id not in {i.id for _, i in overdue}
    now = utcnow()
    tulpbank = {r.kind: r.status_at(now) for r in service.reports_of(db, by_title(db, "Unauthorised access").id)}
    assert tulpbank["early-warning"] == "late" and tulpbank["notification"] == "on-time"
    assert recurrence.assess(db, by_title(db, "Phishing wave"), principal=fr).suggest_escalation


# --- situational awareness ----------------------------------------------------------------------------------------


def test_demo_picture_shows_member_states_at_a_glance(loaded: None, db: Session, settings: Settings) -> None:
    coordinator = as_user(db, "coordinator@enisa.example")
    live = picture.compute(db, coordinator, settings)
    reported = {code: c["status"] for code, c in live["countries"].items() if c["status"]}
    assert len(reported) >= 6
    assert reported["FR"] == contributions.scale_of(settings)[-1]
    assert {"DE", "PL"} <= {code for code, c in live["countries"].items() if c["impact"] in ("yellow", "red")}
    assert live["marking"] == "amber"  # contributions that link AMBER incidents are AMBER themselves
    fr = db.scalars(select(Contribution).where(Contribution.country == "FR").order_by(Contribution.period_end)).all()
    assert [c.assistance_requested for c in fr] == [False, True]  # yesterday's, then today's
    linked = db.scalars(select(Incident).where(Incident.id.in_(fr[-1].incident_ids))).all()
    assert linked and all("FR" in i.countries for i in linked)


def test_demo_reports_published_technical_and_draft_operational(loaded: None, db: Session, settings: Settings) -> None:
    fr = as_user(db, "analyst@cert-fr.example")  # a CSIRTs Network member outside ENISA
    technical = db.scalars(select(Sitrep).where(Sitrep.level == "technical")).one()
    assert technical.published_version is not None
    published = sitreps.view(db, reader=fr, sitrep_id=technical.id, settings=settings)
    assert published.version.state == "published" and published.version.text["summary"]
    assert published.picture.headline and published.marking == "amber"
    versions = sitrep_versions.versions_for(db, as_user(db, "coordinator@enisa.example"), technical)
    assert versions[-1].approved_by_id != versions[-1].created_by_id  # four eyes

    operational = db.scalars(select(Sitrep).where(Sitrep.level == "operational")).one()
    assert operational.state == "draft" and operational.published_version is None
    for outsider in (fr, as_user(db, "analyst@cert-bund.example"), as_user(db, "duty@ccb-crisis.example")):
        with pytest.raises(NotFound):
            sitreps.view(db, reader=outsider, sitrep_id=operational.id, settings=settings)
    draft = sitreps.view(
        db, reader=as_user(db, "secretariat@enisa.example"), sitrep_id=operational.id, settings=settings
    )
    assert {n.key: n.value for n in draft.picture.headline}["contributions"] >= 6


def test_demo_publication_closed_yesterday_and_left_today_open(loaded: None, db: Session, settings: Settings) -> None:
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    contributions.check_period(db, today, today + timedelta(days=1), settings)  # no error: open
    with pytest.raises(Conflict, match="is closed"):
        contributions.check_period(db, today - timedelta(days=1), today, settings)
    # The draft operational report did not close today: a Member State still reports for it.
    c = contributions.create(
        db,
        actor=as_user(db, "analyst@cert-fr.example"),
        settings=settings,
        data=ContributionIn(
            country="FR",
            period_start=today,
            period_end=today + timedelta(days=1),
            status=contributions.scale_of(settings)[1],
            outlook="improving",
        ),
    )
    assert c.state == "submitted"


def test_loading_the_demo_again_adds_no_situation_data(
    loaded: None, session_factory: sessionmaker[Session], tmp_path: Path, db: Session
) -> None:
    before = (count(db, Contribution), count(db, Sitrep))
    assert before[0] == len(demo_situation.TODAY) + len(demo_situation.YESTERDAY) and before[1] == 2
    with unit_of_work(session_factory) as s:
        demo.load(s, data_dir=tmp_path)
    assert (count(db, Contribution), count(db, Sitrep)) == before


def test_demo_crisis_is_escalated_to_ipcr_with_assistance_and_a_statement_awaiting_approval(
    loaded: None, db: Session, settings: Settings
) -> None:
    from cybercrisis.comms import reading as comms
    from cybercrisis.crises import room
    from cybercrisis.crises.models import Crisis

    crisis = db.scalars(select(Crisis)).one()
    presidency = as_user(db, "duty@council-presidency.example")
    seen = room.room(db, presidency, crisis.id, settings)
    assert (seen.status, seen.stage, seen.level) == ("open", "ipcr-information-sharing", "political")
    assert {d.kind for d in seen.decisions} >= {"escalation", "political-measure", "response"}
    assert any(a.overdue for a in seen.actions)
    # The French crisis desk sees both its requests with their offers, and one statement waiting for two approvals.
    # It asked the Reserve itself (Reg. (EU) 2025/38 Art. 14(3)); its SPOC transmitted that request (Art. 15(3)(a)).
    fr_crisis = as_user(db, "duty@anssi-crisis.example")
    mine = room.room(db, fr_crisis, crisis.id, settings)
    requests = {r.urgency: r for r in mine.assistance_requests}
    assert set(requests) == {"immediate", "urgent"} and requests["immediate"].state == "in-support"
    assert (requests["immediate"].offers, requests["urgent"].offers) == (2, 1)
    spoc = room.room(db, as_user(db, "spoc@anssi.example"), crisis.id, settings)
    assert [r.urgency for r in spoc.assistance_requests] == ["urgent"]  # the one it transmitted to the Reserve
    (statement,) = mine.communications
    waiting = comms.waiting_for_many(db, [comms.get(db, fr_crisis, statement.id)])[statement.id]
    assert statement.state == "draft" and len(waiting) == 2
    # CERT-FR sees the hand-off of its hospital incident to the national cybercrime unit.
    assert [
        h.recipient.name for h in room.room(db, as_user(db, "analyst@cert-fr.example"), crisis.id, settings).handoffs
    ] == ["OFAC"]
