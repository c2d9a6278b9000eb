"""Signed webhooks delivered to a real HTTP receiver that checks the HMAC; errors are retried later."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.notify import webhook
from cybercrisis.notify.deliver import deliver_due
from cybercrisis.notify.models import OutboxMessage
from cybercrisis.notify.service import notify_orgs
from tests.conftest import World
from tests.notify.helpers import add_route, outbox
from tests.notify.servers import HttpReceiver, free_port

SECRET = "a-shared-secret-of-some-length"


@pytest.fixture
def org(world: World) -> str:
    return world.org("CERT-FR", country="FR")


def _queue(factory: sessionmaker[Session], org_id: str) -> None:
    with unit_of_work(factory) as s:
        notify_orgs(
            s,
            event="alerts:alert:send",
            org_ids=[org_id],
            subject="s",
            body="b",
            object_id="alert--00000000-0000-4000-8000-000000000001",
            payload={"alert": "alert--00000000-0000-4000-8000-000000000001", "tlp": "amber"},
            dedupe="alerts:alert:send:alert--00000000-0000-4000-8000-000000000001",
            marking="amber",
        )


def test_webhook_arrives_signed_and_the_receiver_verifies_the_signature(
    org: str,
    db: Session,
    session_factory: sessionmaker[Session],
    receiver: HttpReceiver,
    delivery_settings: Settings,
) -> None:
    route_id, _ = add_route(session_factory, org, "webhook", receiver.url, ("alerts:*",), secret=SECRET)
    _queue(session_factory, org)
    assert deliver_due(session_factory, settings=delivery_settings).sent == 1
    [(headers, body)] = receiver.requests
    assert webhook.verify(SECRET, body, headers["x-cybercrisis-signature"])
    assert not webhook.verify("another-secret-entirely", body, headers["x-cybercrisis-signature"])
    assert not webhook.verify(SECRET, body + b" ", headers["x-cybercrisis-signature"])
    [row] = outbox(db)
    assert headers["x-cybercrisis-event"] == "alerts:alert:send"
    assert headers["x-cybercrisis-delivery"] == row.dedupe_key == f"{row.dedupe_key.rsplit(':', 1)[0]}:{route_id}"
    assert headers["content-type"] == "application/json"
    document = json.loads(body)
    assert document["event"] == "alerts:alert:send"
    assert document["object_id"] == "alert--00000000-0000-4000-8000-000000000001"
    assert document["payload"]["tlp"] == "amber"
    assert document["id"] == row.id
    assert document["sent_at"]
    assert row.status == "sent"


def test_receiver_error_is_retried_later_then_delivered_once(
    org: str,
    db: Session,
    session_factory: sessionmaker[Session],
    receiver: HttpReceiver,
    delivery_settings: Settings,
) -> None:
    add_route(session_factory, org, "webhook", receiver.url, ("*",), secret=SECRET)
    _queue(session_factory, org)
    receiver.status = 500
    now = utcnow()
    assert deliver_due(session_factory, settings=delivery_settings, now=now).retrying == 1
    [row] = outbox(db)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "webhook answered HTTP 500")
    assert row.next_attempt_at == now + timedelta(seconds=30)
    receiver.status = 204
    assert deliver_due(session_factory, settings=delivery_settings, now=now + timedelta(seconds=10)).claimed == 0
    assert deliver_due(session_factory, settings=delivery_settings, now=now + timedelta(seconds=30)).sent == 1
    assert deliver_due(session_factory, settings=delivery_settings, now=now + timedelta(hours=1)).claimed == 0
    assert len(receiver.requests) == 2  # the refused one and the delivered one
    assert outbox(db)[0].status == "sent"


def test_unreachable_receiver_is_recorded_without_url_or_secret(
    org: str, db: Session, session_factory: sessionmaker[Session], delivery_settings: Settings
) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook?token=do-not-log-me"
    add_route(session_factory, org, "webhook", url, ("*",), secret=SECRET)
    _queue(session_factory, org)
    assert deliver_due(session_factory, settings=delivery_settings).retrying == 1
    [row] = outbox(db)
    assert row.last_error == "webhook unreachable (ConnectError)"
    assert isinstance(row, OutboxMessage)
