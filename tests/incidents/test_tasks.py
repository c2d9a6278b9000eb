"""The NIS2 deadline sweep and incident notifications, delivered to a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.schemas import ShareWith
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.directory import service as directory
from cybercrisis.incidents.models import Report
from cybercrisis.incidents.tasks import sweep_deadlines
from cybercrisis.notify.deliver import deliver_due
from cybercrisis.notify.models import OutboxMessage
from tests.conftest import Actor, World, count
from tests.notify.conftest import delivery_settings, smtp
from tests.notify.servers import SmtpSink

__all__ = ["delivery_settings", "smtp"]


@pytest.fixture
def cast(world: World, session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Grid-FR", type_="entity", country="FR", parent="CERT-FR")
    with unit_of_work(session_factory) as s:
        for short, address in (
            ("CERT-FR", "soc@cert-fr.example"),
            ("CERT-Bund", "lage@cert-bund.example"),
            ("Grid-FR", "cert@grid.example"),
        ):
            directory.create_contact(
                s,
                actor=SYSTEM,
                org_id=world.orgs[short],
                kind="email",
                label="SOC",
                value=address,
                pgp_fingerprint=None,
                tlp="green",
                share_with=ShareWith(),
            )
    return {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund"), "grid": world.user("Grid-FR")}


def _incident(client: TestClient, actor: Actor, aware: datetime, **over: object) -> dict[str, object]:
    body = {
        "title": "Grid SCADA compromise",
        "tlp": "amber",
        "aware_at": aware.isoformat(),
        "countries": ["FR"],
        "share_with": {"communities": ["csirts-network"]},
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


SIGNIFICANT = {"significance": "significant", "significance_reason": "grid operations disrupted for 2 hours"}


def _decide(client: TestClient, actor: Actor, incident_id: object, value: str) -> None:
    r = client.post(
        f"/api/v1/incidents/{incident_id}/significance",
        json={"value": value, "reason": f"re-assessed as {value}"},
        headers=actor.headers,
    )
    assert r.status_code == 200, r.text


def test_overdue_and_due_soon_reports_are_notified_once_and_delivered_by_mail(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    db: Session,
    delivery_settings: Settings,
    smtp: SmtpSink,
) -> None:
    now = datetime.now(UTC)
    overdue = _incident(client, cast["fr"], now - timedelta(hours=30), **SIGNIFICANT)  # early warning 6 h overdue
    due_soon = _incident(client, cast["fr"], now - timedelta(hours=68), title="Second")  # notification due in 4 h
    _decide(client, cast["fr"], due_soon["id"], "significant")  # decided late: its clocks ran from awareness
    # The early warning of the second one is overdue too: submit it so that only its notification is left.
    client.post(
        f"/api/v1/incidents/{due_soon['id']}/reports",
        json={"kind": "early-warning", "summary": "s"},
        headers=cast["fr"].headers,
    )
    first = sweep_deadlines(session_factory, delivery_settings, now)
    assert first["overdue"] >= 1 and first["reminded"] >= 1
    again = sweep_deadlines(session_factory, delivery_settings, now + timedelta(minutes=5))
    assert again == {"reminded": 0, "overdue": 0}
    events = {(m.event, m.object_id) for m in db.scalars(select(OutboxMessage))}
    assert ("incidents:report:overdue", overdue["id"]) in events
    assert ("incidents:report:reminder", due_soon["id"]) in events
    db.rollback()
    assert (
        db.scalars(select(Report).where(Report.kind == "early-warning", Report.incident_id == overdue["id"]))
        .one()
        .overdue_notified_at
    )
    stats = deliver_due(session_factory, settings=delivery_settings)
    assert stats.sent >= 2
    subjects = [m["Subject"] for m in smtp.messages_to("soc@cert-fr.example")]
    assert any("Grid SCADA compromise" in s for s in subjects)


def test_report_submitted_by_the_entity_notifies_its_csirt(
    client: TestClient, cast: dict[str, Actor], db: Session, world: World
) -> None:
    inc = _incident(
        client,
        cast["fr"],
        datetime.now(UTC) - timedelta(hours=1),
        entity=world.orgs["Grid-FR"],
        share_with={"organisations": [world.orgs["Grid-FR"]]},
    )
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/reports",
        json={"kind": "early-warning", "summary": "s"},
        headers=cast["grid"].headers,
    )
    assert r.status_code == 201, r.text
    msgs = db.scalars(select(OutboxMessage).where(OutboxMessage.event == "incidents:report:submit")).all()
    assert [m.target for m in msgs] == ["soc@cert-fr.example"]


def test_red_incidents_reach_their_named_users_only_never_organisation_channels(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    db: Session,
    delivery_settings: Settings,
) -> None:
    named = {"users": [cast["de"].email]}
    _incident(client, cast["fr"], datetime.now(UTC) - timedelta(hours=30), tlp="red", share_with=named, **SIGNIFICANT)
    sweep_deadlines(session_factory, delivery_settings)
    # The named users (the author and the CERT-Bund analyst) at their own addresses; no organisation address.
    targets = {m.target for m in db.scalars(select(OutboxMessage))}
    assert targets == {cast["fr"].email, cast["de"].email}
    assert all("TLP:RED" in m.subject for m in db.scalars(select(OutboxMessage)))


def test_escalation_notifies_the_community_members_who_may_now_read_it(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    inc = _incident(client, cast["fr"], datetime.now(UTC) - timedelta(hours=1), share_with={}, countries=["FR", "DE"])
    assert count(db, OutboxMessage) == 0
    assert (
        client.post(f"/api/v1/incidents/{inc['id']}/escalate", json={}, headers=cast["fr"].headers).status_code == 200
    )
    db.rollback()  # a fresh snapshot: SQLite would otherwise show the one read before the escalation
    msgs = db.scalars(select(OutboxMessage).where(OutboxMessage.event == "incidents:incident:escalate")).all()
    assert [m.target for m in msgs] == ["lage@cert-bund.example"]


def test_an_incident_not_decided_significant_never_gets_a_deadline_or_a_reminder(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    db: Session,
    delivery_settings: Settings,
) -> None:
    now = datetime.now(UTC)
    reported = _incident(client, cast["fr"], now - timedelta(hours=30), title="A scan of the perimeter")
    near_miss = _incident(client, cast["fr"], now - timedelta(hours=70), title="Phishing caught by the filter")
    _decide(client, cast["fr"], near_miss["id"], "near-miss")
    for inc in (reported, near_miss):
        got = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
        assert {r["due_at"] for r in got["reports"]} == {None}
        assert {r["status"] for r in got["reports"]} == {"not-due"}
    assert sweep_deadlines(session_factory, delivery_settings, now + timedelta(days=40)) == {
        "reminded": 0,
        "overdue": 0,
    }
    assert count(db, OutboxMessage, OutboxMessage.event.like("incidents:report:%")) == 0
    assert client.get("/api/v1/deadlines?status=open", headers=cast["fr"].headers).json() == []


def test_exercise_incidents_never_get_a_deadline_even_when_significant(
    client: TestClient,
    cast: dict[str, Actor],
    db: Session,
    session_factory: sessionmaker[Session],
    delivery_settings: Settings,
) -> None:
    from sqlalchemy import update

    from cybercrisis.incidents.models import Incident

    inc = _incident(client, cast["fr"], datetime.now(UTC) - timedelta(hours=30), title="Exercise inject 3")
    with unit_of_work(session_factory) as s:  # an exercise incident (exercises mark their objects so)
        s.execute(update(Incident).where(Incident.id == inc["id"]).values(exercise=True))
    _decide(client, cast["fr"], inc["id"], "significant")
    got = client.get(f"/api/v1/incidents/{inc['id']}/significance", headers=cast["fr"].headers).json()
    assert got["significance"] == "significant" and got["clocks_run"] is False and got["exercise"] is True
    assert sweep_deadlines(session_factory, delivery_settings) == {"reminded": 0, "overdue": 0}


def test_a_downgraded_incident_stops_its_reminders_and_keeps_what_was_submitted(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    db: Session,
    delivery_settings: Settings,
) -> None:
    now = datetime.now(UTC)
    inc = _incident(client, cast["fr"], now - timedelta(hours=30), **SIGNIFICANT)
    client.post(
        f"/api/v1/incidents/{inc['id']}/reports",
        json={"kind": "early-warning", "summary": "s", "submitted_at": (now - timedelta(hours=2)).isoformat()},
        headers=cast["fr"].headers,
    )
    # While significant: the CSIRT's feedback is due 22 h from now (reminded 20 h from now), the notification in 42 h.
    assert sweep_deadlines(session_factory, delivery_settings, now + timedelta(hours=20))["reminded"] == 1
    _decide(client, cast["fr"], inc["id"], "not-significant")
    later = sweep_deadlines(session_factory, delivery_settings, now + timedelta(days=40))
    assert later == {"reminded": 0, "overdue": 0}
    got = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    reports = {r["kind"]: r for r in got["reports"]}
    assert reports["early-warning"]["status"] == "late"  # submitted: kept as it was
    assert reports["notification"]["due_at"] is None and reports["final"]["due_at"] is None
    history = client.get(f"/api/v1/incidents/{inc['id']}/significance", headers=cast["fr"].headers).json()
    assert [(d["previous"], d["value"]) for d in history["decisions"]] == [
        ("reported", "significant"),
        ("significant", "not-significant"),
    ]
