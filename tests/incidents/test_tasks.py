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


def test_overdue_and_due_soon_reports_are_notified_once_and_delivered_by_mail(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    db: Session,
    delivery_settings: Settings,
    smtp: SmtpSink,
) -> None:
    now = datetime.now(UTC)
    overdue = _incident(client, cast["fr"], now - timedelta(hours=30))  # early warning 6 h overdue
    due_soon = _incident(client, cast["fr"], now - timedelta(hours=68), title="Second")  # notification due in 4 h
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
    _incident(
        client, cast["fr"], datetime.now(UTC) - timedelta(hours=30), tlp="red", share_with={"users": [cast["de"].email]}
    )
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
