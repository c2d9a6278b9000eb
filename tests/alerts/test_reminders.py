"""Reminders and escalation of unacknowledged alerts, with a controlled clock: each happens once per recipient."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import jobs
from cybercrisis.alerts.models import AlertRecipient
from cybercrisis.alerts.tasks import SweepStats, remind_and_escalate
from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.notify.deliver import deliver_due
from cybercrisis.notify.models import OutboxMessage
from tests.conftest import Actor, World, count
from tests.notify.helpers import add_contact, add_route, outbox
from tests.notify.servers import SmtpSink

REMIND, ESCALATE = "alerts:alert:reminder", "alerts:alert:escalate"


@pytest.fixture
def cast(world: World, session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR")
    world.org("CERT-Bund", country="DE")
    world.org("CERT-PL", country="PL")
    cast = {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund"), "pl": world.user("CERT-PL")}
    # PL routes alert traffic to its SOC webhook, and has a 24/7 desk and a duty officer for emergencies.
    add_route(session_factory, cast["pl"].org_id, "webhook", "https://soc.cert.pl.example/hook", ("alerts:*",))
    add_contact(session_factory, cast["pl"].org_id, "24x7-desk", "desk@cert.pl.example")
    add_contact(session_factory, cast["pl"].org_id, "duty-officer", "duty@cert.pl.example")
    add_contact(session_factory, cast["pl"].org_id, "duty-officer", "+48 600 000 000")  # not e-mail: skipped
    add_contact(session_factory, cast["de"].org_id, "email", "cert@bund.example")
    return cast


def _send(client: TestClient, cast: dict[str, Actor], **body: object) -> tuple[str, datetime]:
    r = client.post(
        "/api/v1/alerts",
        json={
            "title": "Ransomware on hospitals",
            "tlp": "amber",
            "recipients": {"organisations": [cast["de"].org_id, cast["pl"].org_id]},
            **body,
        },
        headers=cast["fr"].headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"], datetime.fromisoformat(r.json()["created"])


def _sweep(factory: sessionmaker[Session], at: datetime) -> SweepStats:
    with unit_of_work(factory) as s:
        return remind_and_escalate(s, now=at)


def _recipient(db: Session, alert_id: str, org_id: str) -> AlertRecipient:
    db.rollback()
    row = db.get(AlertRecipient, (alert_id, org_id), populate_existing=True)
    assert row is not None
    return row


def test_silent_recipient_is_reminded_once_then_escalated_once_to_its_24x7_contacts(
    client: TestClient, cast: dict[str, Actor], db: Session, session_factory: sessionmaker[Session]
) -> None:
    alert_id, sent = _send(client, cast)
    assert client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=cast["de"].headers).status_code == 200

    assert _sweep(session_factory, sent + timedelta(minutes=59)) == SweepStats(0, 0)
    assert _sweep(session_factory, sent + timedelta(minutes=61)) == SweepStats(reminded=1, escalated=0)
    # Run again (and later, before escalation): nothing new.
    assert _sweep(session_factory, sent + timedelta(minutes=61)) == SweepStats(0, 0)
    assert _sweep(session_factory, sent + timedelta(minutes=200)) == SweepStats(0, 0)
    reminders = outbox(db, OutboxMessage.event == REMIND)
    assert [(m.channel, m.target) for m in reminders] == [("webhook", "https://soc.cert.pl.example/hook")]
    assert _recipient(db, alert_id, cast["pl"].org_id).reminded_at == sent + timedelta(minutes=61)
    assert _recipient(db, alert_id, cast["de"].org_id).reminded_at is None  # acknowledged: left alone

    assert _sweep(session_factory, sent + timedelta(minutes=241)) == SweepStats(reminded=0, escalated=1)
    assert _sweep(session_factory, sent + timedelta(minutes=241)) == SweepStats(0, 0)
    assert _sweep(session_factory, sent + timedelta(days=3)) == SweepStats(0, 0)
    escalations = outbox(db, OutboxMessage.event == ESCALATE)
    assert sorted((m.channel, m.target) for m in escalations) == [
        ("email", "desk@cert.pl.example"),
        ("email", "duty@cert.pl.example"),
        ("webhook", "https://soc.cert.pl.example/hook"),
    ]
    assert all("ESCALATION" in m.subject for m in escalations)
    assert _recipient(db, alert_id, cast["pl"].org_id).escalated_at == sent + timedelta(minutes=241)
    tags = [AuditEvent.object_id == alert_id]
    assert count(db, AuditEvent, AuditEvent.tag == REMIND, *tags) == 1
    assert count(db, AuditEvent, AuditEvent.tag == ESCALATE, *tags) == 1


def test_job_runner_sweeps_twice_and_still_reminds_once(
    client: TestClient, cast: dict[str, Actor], db: Session, session_factory: sessionmaker[Session]
) -> None:
    alert_id, sent = _send(client, cast, remind_after_minutes=5, escalate_after_minutes=30)
    job = [j for j in jobs.registered() if j.name == "alert_reminders"]
    settings = Settings(database_url="sqlite://")
    at = sent + timedelta(minutes=6)
    assert jobs.run_due(session_factory, settings, "runner-a", at, jobs=job) == ["alert_reminders"]
    assert jobs.run_due(session_factory, settings, "runner-b", at + timedelta(minutes=1), jobs=job) == [
        "alert_reminders"
    ]
    # Both recipients are silent: one reminder each, whatever the number of sweeps.
    assert count(db, AuditEvent, AuditEvent.tag == REMIND, AuditEvent.object_id == alert_id) == 2
    assert len(outbox(db, OutboxMessage.event == REMIND)) == 2  # DE's e-mail contact, PL's webhook
    runs = db.scalars(select(AuditEvent.request_id).where(AuditEvent.tag == REMIND)).all()
    assert all(str(r).startswith("job-alert_reminders-") for r in runs)


def test_escalation_already_due_at_the_first_sweep_goes_out_without_a_reminder(
    client: TestClient, cast: dict[str, Actor], db: Session, session_factory: sessionmaker[Session]
) -> None:
    alert_id, sent = _send(client, cast, remind_after_minutes=10, escalate_after_minutes=10)
    assert _sweep(session_factory, sent + timedelta(minutes=11)) == SweepStats(reminded=0, escalated=2)
    assert outbox(db, OutboxMessage.event == REMIND) == []
    assert _recipient(db, alert_id, cast["de"].org_id).escalated_at is not None


def test_acknowledgement_after_the_reminder_stops_the_escalation(
    client: TestClient, cast: dict[str, Actor], db: Session, session_factory: sessionmaker[Session]
) -> None:
    alert_id, sent = _send(client, cast)
    assert _sweep(session_factory, sent + timedelta(minutes=61)).reminded == 2
    client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=cast["pl"].headers)
    assert _sweep(session_factory, sent + timedelta(minutes=241)) == SweepStats(reminded=0, escalated=1)
    assert {m.target for m in outbox(db, OutboxMessage.event == ESCALATE)} == {"cert@bund.example"}


def test_escalation_e_mail_reaches_the_24x7_desk_through_a_real_smtp_server(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    smtp: SmtpSink,
    delivery_settings: Settings,
) -> None:
    alert_id, sent = _send(client, cast)
    at = sent + timedelta(minutes=241)
    _sweep(session_factory, at)
    stats = deliver_due(session_factory, settings=delivery_settings, now=at)
    assert stats.sent >= 2
    [desk] = smtp.messages_to("desk@cert.pl.example")
    assert desk["X-Cybercrisis-Event"] == ESCALATE
    assert "Ransomware on hospitals" in str(desk["Subject"])
    assert alert_id in desk.get_payload()  # type: ignore[operator]
    assert len(smtp.messages_to("duty@cert.pl.example")) == 1
