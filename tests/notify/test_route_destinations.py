"""Webhooks reach only what the outbound policy allows: refused when the route is made, and again on delivery.

This module's server allows no network (CYBERCRISIS_OUTBOUND_ALLOW empty), as a deployment does by default.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.notify.deliver import deliver_due
from cybercrisis.notify.models import NotificationRoute
from cybercrisis.notify.service import notify_orgs
from tests.conftest import Actor, World, count
from tests.notify.helpers import add_route, outbox
from tests.notify.servers import HttpReceiver
from tests.test_outbound import PUBLIC, fake_dns

URL = "/api/v1/notification-routes"
SECRET = "a-shared-secret-of-some-length"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"outbound_allow": ""})


@pytest.fixture
def admin(world: World) -> Actor:
    world.org("CERT-FR", country="FR")
    return world.user("CERT-FR", roles=("org-admin",))


def _queue(factory: sessionmaker[Session], org_id: str) -> None:
    with unit_of_work(factory) as s:
        notify_orgs(
            s,
            event="alerts:alert:send",
            org_ids=[org_id],
            subject="s",
            body="b",
            object_id=None,
            payload={},
            dedupe="alerts:alert:send:1",
            marking="amber",
        )


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        ("http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("http://[::1]/", "::1 is a loopback address"),
        ("http://localhost:8000/api/v1/me", "localhost resolves to a loopback address"),
        ("http://10.1.2.3/", "10.1.2.3 is a private address"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback (IPv4-mapped) address"),
    ],
)
def test_webhook_aimed_inside_is_refused_naming_target_and_nothing_is_written(
    client: TestClient, admin: Actor, db: Session, target: str, refused: str
) -> None:
    before = (count(db, NotificationRoute), count(db, AuditEvent))
    r = client.post(URL, json={"events": ["*"], "channel": "webhook", "target": target}, headers=admin.headers)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "target"
    assert error["message"].startswith(refused)
    assert "CYBERCRISIS_OUTBOUND_ALLOW" in error["message"]
    assert (count(db, NotificationRoute), count(db, AuditEvent)) == before


@pytest.fixture
def allowing_client(settings: Settings) -> Iterator[TestClient]:
    from cybercrisis.app import create_app

    app = create_app(settings.model_copy(update={"outbound_allow": "127.0.0.0/8,::1/128,10.0.0.0/8"}))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    app.state.engine.dispose()


def test_webhook_inside_an_allowed_network_is_accepted(allowing_client: TestClient, admin: Actor, db: Session) -> None:
    for target in (
        "http://127.0.0.1:5432/",
        "http://[::1]/",
        "http://localhost:8000/in",
        "http://10.1.2.3/",
        "http://[::ffff:127.0.0.1]/",
    ):
        body = {"events": ["*"], "channel": "webhook", "target": target}
        assert allowing_client.post(URL, json=body, headers=admin.headers).status_code == 201, target
    assert count(db, AuditEvent, AuditEvent.tag == "notify:route:create") == 5
    r = allowing_client.post(
        URL, json={"events": ["*"], "channel": "webhook", "target": "http://169.254.169.254/"}, headers=admin.headers
    )
    assert r.status_code == 422


def test_webhook_whose_name_now_resolves_inside_is_not_sent(
    admin: Actor,
    db: Session,
    session_factory: sessionmaker[Session],
    receiver: HttpReceiver,
    delivery_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    fake_dns(monkeypatch, {"hooks.partner.example": PUBLIC})  # public when the route is made
    add_route(session_factory, admin.org_id, "webhook", f"http://hooks.partner.example:{port}/in", secret=SECRET)
    _queue(session_factory, admin.org_id)
    fake_dns(monkeypatch, {"hooks.partner.example": "127.0.0.1"})  # the receiver's address when it is delivered
    assert deliver_due(session_factory, settings=delivery_settings).retrying == 1
    assert receiver.requests == []
    [row] = outbox(db)
    assert row.status == "pending"
    assert row.last_error == (
        "webhook not sent: its host's address is a loopback address, which the outbound policy refuses (the "
        "operator may allow its network in CYBERCRISIS_OUTBOUND_ALLOW)"
    )


def test_webhook_made_while_its_network_was_allowed_is_not_sent_once_it_is_not(
    admin: Actor,
    db: Session,
    session_factory: sessionmaker[Session],
    receiver: HttpReceiver,
    delivery_settings: Settings,
) -> None:
    add_route(session_factory, admin.org_id, "webhook", receiver.url, secret=SECRET, outbound_allow="127.0.0.0/8")
    _queue(session_factory, admin.org_id)
    assert deliver_due(session_factory, settings=delivery_settings).retrying == 1
    assert receiver.requests == []
    assert "loopback" in (outbox(db)[0].last_error or "")
    allowed = delivery_settings.model_copy(update={"outbound_allow": "127.0.0.1"})
    assert deliver_due(session_factory, settings=allowed, now=outbox(db)[0].next_attempt_at).sent == 1
    assert len(receiver.requests) == 1
