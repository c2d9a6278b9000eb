"""Notification routes API: organisation administrators set where their notifications go."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work
from cybercrisis.notify.models import NotificationRoute, OutboxMessage
from cybercrisis.notify.service import notify_orgs
from tests.conftest import Actor, World, count
from tests.notify.helpers import outbox

URL = "/api/v1/notification-routes"


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR")
    world.org("CERT-Bund", country="DE")
    return {
        "fr_admin": world.user("CERT-FR", roles=("org-admin",)),
        "fr": world.user("CERT-FR", roles=("analyst",)),
        "de_admin": world.user("CERT-Bund", roles=("org-admin",)),
    }


def _create(client: TestClient, actor: Actor, **body: object) -> dict[str, object]:
    r = client.post(URL, json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_org_admin_adds_a_webhook_and_sees_its_generated_secret_only_once(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    route = _create(
        client, cast["fr_admin"], events=["alerts:*"], channel="webhook", target="https://soc.cert.fr.example/hook"
    )
    assert isinstance(route["secret"], str)
    assert len(route["secret"]) >= 32
    assert route["organisation"] == cast["fr_admin"].org_id
    listed = client.get(URL, headers=cast["fr_admin"].headers).json()
    assert [r["id"] for r in listed] == [route["id"]]
    assert "secret" not in listed[0]
    assert count(db, AuditEvent, AuditEvent.tag == "notify:route:create") == 1


def test_given_secret_is_kept_and_email_routes_have_none(client: TestClient, cast: dict[str, Actor]) -> None:
    hook = _create(
        client,
        cast["fr_admin"],
        events=["*"],
        channel="webhook",
        target="http://soc.internal.example:8080/in",
        secret="s" * 20,
    )
    assert hook["secret"] == "s" * 20
    mail = _create(client, cast["fr_admin"], events=["alerts:*"], channel="email", target="soc@cert.fr.example")
    assert mail["secret"] is None


def test_analyst_cannot_manage_routes(client: TestClient, cast: dict[str, Actor], db: Session) -> None:
    body = {"events": ["*"], "channel": "email", "target": "me@cert.fr.example"}
    assert client.post(URL, json=body, headers=cast["fr"].headers).status_code == 403
    assert client.get(URL, headers=cast["fr"].headers).status_code == 403
    assert count(db, NotificationRoute) == 0


def test_admin_manages_only_their_own_organisations_routes(client: TestClient, cast: dict[str, Actor]) -> None:
    route = _create(client, cast["fr_admin"], events=["*"], channel="email", target="soc@cert.fr.example")
    de = cast["de_admin"]
    assert client.get(URL, headers=de.headers).json() == []
    assert client.get(f"{URL}?organisation={cast['fr'].org_id}", headers=de.headers).status_code == 403
    body = {"events": ["*"], "channel": "email", "target": "x@bund.example", "organisation": cast["fr"].org_id}
    assert client.post(URL, json=body, headers=de.headers).status_code == 403
    assert client.delete(f"{URL}/{route['id']}", headers=de.headers).status_code == 404
    assert client.delete(f"{URL}/999999", headers=de.headers).status_code == 404
    assert client.delete(f"{URL}/{route['id']}", headers=cast["fr"].headers).status_code == 403
    assert client.delete(f"{URL}/{route['id']}", headers=cast["fr_admin"].headers).status_code == 204
    assert client.get(URL, headers=cast["fr_admin"].headers).json() == []


PGP_NOT_A_KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "webhook", "target": "ftp://files.example/in"}, "target"),
        ({"channel": "webhook", "target": "https://user:pw@soc.example/in"}, "target"),
        ({"channel": "webhook", "target": "https:///no-host"}, "target"),
        ({"channel": "email", "target": "not-an-address"}, "target"),
        ({"channel": "email", "target": "a@b.example", "secret": "s" * 20}, "secret"),
        ({"channel": "webhook", "target": "https://soc.example/in", "secret": "short"}, "secret"),
        ({"channel": "webhook", "target": "https://soc.example/in", "pgp_public_key": PGP_NOT_A_KEY}, "pgp_public_key"),
        ({"channel": "email", "target": "a@b.example", "pgp_public_key": "hello"}, "pgp_public_key"),
        ({"channel": "email", "target": "a@b.example", "events": ["DROP TABLE;"]}, "events"),
        ({"channel": "email", "target": "a@b.example", "events": [" "]}, "events"),
        ({"channel": "sms", "target": "+33100000000"}, "channel"),
    ],
)
def test_invalid_route_is_refused_and_nothing_is_written(
    client: TestClient, cast: dict[str, Actor], db: Session, body: dict[str, object], field: str
) -> None:
    before = (count(db, NotificationRoute), count(db, AuditEvent))
    r = client.post(URL, json={"events": ["*"], **body}, headers=cast["fr_admin"].headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert (count(db, NotificationRoute), count(db, AuditEvent)) == before


def test_deleting_a_route_gives_up_its_undelivered_messages(
    client: TestClient, cast: dict[str, Actor], db: Session, session_factory: sessionmaker[Session]
) -> None:
    route = _create(client, cast["fr_admin"], events=["*"], channel="webhook", target="https://soc.example/in")
    with unit_of_work(session_factory) as s:
        notify_orgs(
            s,
            event="alerts:alert:send",
            org_ids=[cast["fr"].org_id],
            subject="s",
            body="b",
            object_id=None,
            payload={},
            dedupe="k",
            marking="amber",
        )
    assert client.delete(f"{URL}/{route['id']}", headers=cast["fr_admin"].headers).status_code == 204
    [msg] = outbox(db)
    assert (msg.status, msg.route_id, msg.last_error) == ("failed", None, "route deleted before delivery")
    assert count(db, OutboxMessage) == 1
    assert count(db, AuditEvent, AuditEvent.tag == "notify:route:delete") == 1


def test_email_route_takes_a_readable_pgp_key_and_refuses_a_broken_one(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pgpy = pytest.importorskip("pgpy", reason="PGP mail is optional: it needs the pgpy package, not installed")
        from pgpy.constants import KeyFlags, PubKeyAlgorithm

        key = pgpy.PGPKey.new(PubKeyAlgorithm.RSAEncryptOrSign, 2048)
        key.add_uid(pgpy.PGPUID.new("SOC", email="soc@cert.fr.example"), usage={KeyFlags.EncryptCommunications})
    body = {"events": ["*"], "channel": "email", "target": "soc@cert.fr.example"}
    route = _create(client, cast["fr_admin"], **body, pgp_public_key=str(key.pubkey))
    assert route["pgp"] is True
    r = client.post(URL, json={**body, "pgp_public_key": PGP_NOT_A_KEY}, headers=cast["fr_admin"].headers)
    assert r.status_code == 422
    r = client.post(URL, json={**body, "pgp_public_key": str(key)}, headers=cast["fr_admin"].headers)
    assert r.status_code == 422  # a private key is never what an organisation should upload
