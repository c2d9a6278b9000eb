"""Users, roles and tokens through the API."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from cybercrisis.accounts import security
from cybercrisis.accounts.models import ApiToken, User
from cybercrisis.db import utcnow
from tests.conftest import World, count


def test_org_admin_creates_a_user_in_their_own_organisation_with_a_generated_password(
    client: TestClient, world: World
) -> None:
    world.org("CERT-AA", country="AT")
    admin = world.user("CERT-AA", roles=("org-admin",))
    r = client.post(
        "/api/v1/users",
        json={"email": "New.Analyst@cert-aa.example", "roles": ["analyst"]},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["email"] == "new.analyst@cert-aa.example"
    assert body["organisation"] == admin.org_id
    assert len(body["password"]) >= security.MIN_PASSWORD_LENGTH


def test_org_admin_cannot_create_users_elsewhere_or_grant_platform_admin(
    client: TestClient, world: World, db: Session
) -> None:
    world.org("CERT-AA", country="AT")
    world.org("CERT-BB", country="BE")
    admin = world.user("CERT-AA", roles=("org-admin",))
    before = count(db, User)
    other_org = client.post(
        "/api/v1/users",
        json={"email": "x@cert-bb.example", "roles": ["analyst"], "organisation": "CERT-BB"},
        headers=admin.headers,
    )
    escalation = client.post(
        "/api/v1/users",
        json={"email": "y@cert-aa.example", "roles": ["platform-admin"]},
        headers=admin.headers,
    )
    assert other_org.status_code == escalation.status_code == 403
    assert count(db, User) == before


def test_analyst_cannot_manage_users(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    analyst = world.user("CERT-AA", roles=("analyst",))
    r = client.post("/api/v1/users", json={"email": "z@cert-aa.example", "roles": ["viewer"]}, headers=analyst.headers)
    assert r.status_code == 403
    assert "accounts:user:write" in r.json()["detail"]


def test_unknown_role_and_duplicate_email_are_refused(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    admin = world.user("CERT-AA", roles=("org-admin",))
    r = client.post("/api/v1/users", json={"email": "z@cert-aa.example", "roles": ["superuser"]}, headers=admin.headers)
    assert r.status_code == 422
    assert "valid: viewer" in r.json()["detail"]
    r = client.post("/api/v1/users", json={"email": admin.email, "roles": ["viewer"]}, headers=admin.headers)
    assert r.status_code == 409


def test_deactivated_user_token_stops_working(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    admin = world.user("CERT-AA", roles=("org-admin",))
    analyst = world.user("CERT-AA", roles=("analyst",))
    assert client.get("/api/v1/me", headers=analyst.headers).status_code == 200
    r = client.patch(f"/api/v1/users/{analyst.user_id}", json={"is_active": False}, headers=admin.headers)
    assert r.status_code == 200
    assert r.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=analyst.headers).status_code == 401


def test_token_is_shown_once_stored_hashed_and_revocable(client: TestClient, world: World, db: Session) -> None:
    world.org("CERT-AA", country="AT")
    analyst = world.user("CERT-AA", roles=("analyst",))
    r = client.post("/api/v1/tokens", json={"name": "script", "expires_days": 7}, headers=analyst.headers)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    stored = db.get(ApiToken, r.json()["id"])
    assert stored is not None
    assert token not in (stored.token_hash, stored.prefix)
    assert stored.token_hash == security.digest(token)
    assert "token" not in client.get("/api/v1/tokens", headers=analyst.headers).json()[0]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/tokens/{r.json()['id']}", headers=analyst.headers).status_code == 200
    revoked = client.get("/api/v1/me", headers=headers)
    assert revoked.status_code == 401
    assert revoked.headers["www-authenticate"] == "Bearer"


def test_expired_token_is_refused(client: TestClient, world: World, db: Session) -> None:
    world.org("CERT-AA", country="AT")
    analyst = world.user("CERT-AA", roles=("analyst",))
    db.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    r = client.get("/api/v1/me", headers=analyst.headers)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_scoped_token_cannot_do_more_than_its_scopes(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT", communities=("csirts-network",))
    analyst = world.user("CERT-AA", roles=("analyst",))
    r = client.post("/api/v1/tokens", json={"scopes": ["directory:organisation:read"]}, headers=analyst.headers)
    read_only = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/api/v1/organisations", headers=read_only).status_code == 200
    write = client.post("/api/v1/documents", json={"title": "t", "tlp": "green"}, headers=read_only)
    assert write.status_code == 403


def test_token_scopes_cannot_exceed_the_users_roles(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    viewer = world.user("CERT-AA", roles=("viewer",))
    r = client.post("/api/v1/tokens", json={"scopes": ["accounts:user:write"]}, headers=viewer.headers)
    assert r.status_code == 422


def test_basic_auth_with_email_and_token_is_accepted(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    analyst = world.user("CERT-AA", roles=("analyst",))
    assert client.get("/api/v1/me", auth=(analyst.email, analyst.token)).status_code == 200
    assert client.get("/api/v1/me", auth=("someone.else@x.example", analyst.token)).status_code == 401
    assert client.get("/api/v1/me", auth=(analyst.email, "correct horse battery")).status_code == 401


def test_production_password_hashes_are_argon2id() -> None:
    security.configure(time_cost=3, memory_kib=65536)
    try:
        h = security.hash_password("a long enough password")
        assert h.startswith("$argon2id$")
        assert "m=65536,t=3" in h
        assert security.verify_password(h, "a long enough password")
        assert not security.verify_password(h, "wrong password here")
        assert not security.verify_password(None, "anything at all")
    finally:
        security.configure(time_cost=1, memory_kib=1024)
