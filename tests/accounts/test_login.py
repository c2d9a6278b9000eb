"""Password login for the UI: sessions, CSRF, throttling."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.accounts.models import WebSession
from cybercrisis.audit.models import AuditEvent
from tests.conftest import World, count

PASSWORD = "correct horse battery"


def _login(client: TestClient, email: str, password: str) -> object:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def test_login_sets_an_httponly_session_cookie_and_stores_only_its_hash(
    client: TestClient, world: World, db: Session
) -> None:
    world.org("CERT-AA", country="AT")
    user = world.user("CERT-AA", password=PASSWORD)
    r = _login(client, user.email, PASSWORD)
    assert r.status_code == 303  # type: ignore[attr-defined]
    cookie = r.headers["set-cookie"]  # type: ignore[attr-defined]
    assert "cc_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    secret = client.cookies.get("cc_session")
    rows = db.scalars(select(WebSession)).all()
    assert len(rows) == 1
    assert rows[0].id_hash != secret
    assert client.get("/api/v1/me").json()["email"] == user.email


def test_login_without_the_form_token_is_refused(client: TestClient, world: World, db: Session) -> None:
    world.org("CERT-AA", country="AT")
    user = world.user("CERT-AA", password=PASSWORD)
    r = client.post("/login", data={"email": user.email, "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403
    assert count(db, WebSession) == 0


def test_cookie_session_api_write_needs_the_csrf_header(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT", communities=("csirts-network",))
    user = world.user("CERT-AA", password=PASSWORD)
    _login(client, user.email, PASSWORD)
    r = client.post("/api/v1/documents", json={"title": "t", "tlp": "green"})
    assert r.status_code == 403
    assert "CSRF" in r.json()["detail"]


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    client: TestClient, world: World, db: Session
) -> None:
    world.org("CERT-AA", country="AT")
    user = world.user("CERT-AA", password=PASSWORD)
    statuses = [_login(client, user.email, "wrong password!").status_code for _ in range(5)]  # type: ignore[attr-defined]
    assert statuses == [401, 401, 401, 401, 429]
    locked = _login(client, user.email, PASSWORD)
    assert locked.status_code == 429  # type: ignore[attr-defined]
    assert "Too many failed attempts" in locked.text  # type: ignore[attr-defined]
    assert count(db, WebSession) == 0
    failures = db.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.tag == "accounts:session:login-failed")
    )
    assert failures == 5


def test_unknown_email_and_wrong_password_give_the_same_answer(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    user = world.user("CERT-AA", password=PASSWORD)
    a = _login(client, "nobody@cert-aa.example", PASSWORD)
    b = _login(client, user.email, "wrong password!")
    assert a.status_code == b.status_code == 401  # type: ignore[attr-defined]
    assert "Wrong e-mail or password." in a.text
    assert "Wrong e-mail or password." in b.text


def test_logout_ends_the_server_side_session(client: TestClient, world: World, db: Session) -> None:
    world.org("CERT-AA", country="AT")
    user = world.user("CERT-AA", password=PASSWORD)
    _login(client, user.email, PASSWORD)
    csrf = db.scalars(select(WebSession.csrf_token)).one()
    r = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert count(db, WebSession) == 0
    assert count(db, AuditEvent, AuditEvent.tag == "accounts:session:logout") == 1
