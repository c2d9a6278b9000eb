"""Webhook signing secrets are stored encrypted with the server key, and opened only to sign (issue 12)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.notify import webhook
from cybercrisis.notify.deliver import deliver_due
from cybercrisis.notify.service import notify_orgs
from tests.conftest import World
from tests.notify.helpers import add_route, outbox
from tests.notify.servers import HttpReceiver

ALERT = "alert--00000000-0000-4000-8000-000000000001"


def _queue(factory: sessionmaker[Session], org_id: str, n: int = 1) -> None:
    with unit_of_work(factory) as s:
        notify_orgs(
            s,
            event="alerts:alert:send",
            org_ids=[org_id],
            subject="s",
            body="b",
            object_id=ALERT,
            payload={"alert": ALERT},
            dedupe=f"alerts:alert:send:{ALERT}:{n}",
            marking="amber",
        )


def _raw_secrets(db: Session) -> list[str]:
    db.rollback()
    return list(db.execute(text("SELECT secret FROM notification_routes ORDER BY id")).scalars())


def test_the_generated_secret_is_shown_once_and_never_stored_in_clear(
    client: TestClient, world: World, db: Session
) -> None:
    world.org("CERT-FR", country="FR")
    admin = world.user("CERT-FR", roles=("org-admin",))
    body = {"events": ["alerts:*"], "channel": "webhook", "target": "https://soc.cert.fr.example/hook"}
    generated = client.post("/api/v1/notification-routes", json=body, headers=admin.headers).json()["secret"]
    chosen = "our-own-shared-secret-" + "s" * 178  # the longest the API takes: sealed, it is longer still
    r = client.post("/api/v1/notification-routes", json={**body, "secret": chosen}, headers=admin.headers)
    assert r.json()["secret"] == chosen
    raw = _raw_secrets(db)
    assert len(raw) == 2
    assert all(v.startswith("enc1:") for v in raw), raw
    assert generated not in raw[0]
    assert chosen not in raw[1]


def test_delivery_signs_with_the_secret_shown_once(
    world: World,
    db: Session,
    session_factory: sessionmaker[Session],
    receiver: HttpReceiver,
    delivery_settings: Settings,
) -> None:
    org = world.org("CERT-FR", country="FR")
    _, shown = add_route(session_factory, org, "webhook", receiver.url, ("alerts:*",), settings=delivery_settings)
    assert shown
    assert shown not in _raw_secrets(db)[0]
    _queue(session_factory, org)
    assert deliver_due(session_factory, settings=delivery_settings).sent == 1
    [(headers, body)] = receiver.requests
    assert webhook.verify(shown, body, headers["x-cybercrisis-signature"])


def test_a_secret_the_server_key_cannot_open_fails_that_route_only_with_a_clear_error(
    world: World,
    db: Session,
    session_factory: sessionmaker[Session],
    receiver: HttpReceiver,
    delivery_settings: Settings,
) -> None:
    org = world.org("CERT-FR", country="FR")
    other = world.org("CERT-Bund", country="DE")
    rekeyed = delivery_settings.model_copy(update={"secret_key": "a-new-server-key-" + "z" * 32})
    add_route(session_factory, org, "webhook", receiver.url, ("alerts:*",), settings=delivery_settings)
    add_route(session_factory, other, "webhook", receiver.url, ("alerts:*",), settings=rekeyed)
    with unit_of_work(session_factory) as s:
        notify_orgs(
            s,
            event="alerts:alert:send",
            org_ids=[org, other],
            subject="s",
            body="b",
            object_id=ALERT,
            payload={},
            dedupe=f"alerts:alert:send:{ALERT}",
            marking="amber",
        )

    stats = deliver_due(session_factory, settings=rekeyed)  # the server key changed since the first route

    assert (stats.sent, stats.retrying) == (1, 1)
    assert len(receiver.requests) == 1
    failed = next(m for m in outbox(db) if m.status == "pending")
    assert failed.last_error is not None
    assert "cannot be decrypted" in failed.last_error
    assert "create the route again" in failed.last_error


def test_secrets_stored_in_clear_by_an_older_version_are_sealed_at_start_and_still_sign(
    world: World,
    db: Session,
    session_factory: sessionmaker[Session],
    receiver: HttpReceiver,
    settings: Settings,
    delivery_settings: Settings,
) -> None:
    from cybercrisis.app import create_app

    org = world.org("CERT-FR", country="FR")
    legacy = "a-secret-from-before-the-upgrade"
    add_route(session_factory, org, "webhook", receiver.url, ("alerts:*",), settings=delivery_settings)
    with unit_of_work(session_factory) as s:
        s.execute(text("UPDATE notification_routes SET secret = :v"), {"v": legacy})
    assert _raw_secrets(db) == [legacy]

    app = create_app(settings)
    app.state.engine.dispose()

    [sealed] = _raw_secrets(db)
    assert sealed.startswith("enc1:")
    assert legacy not in sealed
    _queue(session_factory, org)
    assert deliver_due(session_factory, settings=delivery_settings).sent == 1
    [(headers, body)] = receiver.requests
    assert webhook.verify(legacy, body, headers["x-cybercrisis-signature"])
