"""Login throttling behind the reverse proxy the docs recommend: per account, and per client as the proxy reports it.

The test client connects from 10.0.0.2 (the proxy); X-Forwarded-For names the browser behind it (issue 12).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from tests.conftest import World

PASSWORD = "correct horse battery"
PROXY = ("10.0.0.2", 40000)


@pytest.fixture
def proxied(settings: Settings) -> Iterator[TestClient]:
    """The app configured to trust the proxy, reached through it."""
    from cybercrisis.app import create_app

    app: FastAPI = create_app(settings.model_copy(update={"trusted_proxies": "10.0.0.0/29"}))
    with TestClient(app, raise_server_exceptions=False, client=PROXY) as c:
        yield c
    app.state.engine.dispose()


def _login(client: TestClient, email: str, password: str, forwarded_for: str | None) -> Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    page = client.get("/login", headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    client.cookies.delete("cc_session")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1)},
        headers=headers,
        follow_redirects=False,
    )


def test_five_failures_from_one_browser_do_not_lock_another_browser_out_of_another_account(
    proxied: TestClient, world: World, db: Session
) -> None:
    world.org("CERT-AA", country="AT")
    victim, bystander = world.user("CERT-AA", password=PASSWORD), world.user("CERT-AA", password=PASSWORD)
    statuses = [_login(proxied, victim.email, "wrong password!", "198.51.100.7").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]

    assert _login(proxied, bystander.email, PASSWORD, "203.0.113.20").status_code == 303
    # the browser that failed is locked out of every account, and the account it tried is locked for everyone
    assert _login(proxied, bystander.email, PASSWORD, "198.51.100.7").status_code == 429
    assert _login(proxied, victim.email, PASSWORD, "203.0.113.20").status_code == 429
    clients = {
        json.loads(e.summary)["client"]
        for e in db.scalars(select(AuditEvent).where(AuditEvent.tag == "accounts:session:login-failed"))
    }
    assert clients == {"198.51.100.7"}


def test_the_account_locks_when_failures_come_from_many_browsers(proxied: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    victim = world.user("CERT-AA", password=PASSWORD)
    for n in range(5):
        _login(proxied, victim.email, "wrong password!", f"198.51.100.{n + 1}")
    assert _login(proxied, victim.email, PASSWORD, "203.0.113.20").status_code == 429


def test_a_forwarded_for_header_from_an_untrusted_client_is_ignored(
    settings: Settings, client: TestClient, world: World
) -> None:
    """Without the proxy trusted, a client cannot escape its own lock by naming other addresses."""
    world.org("CERT-AA", country="AT")
    victim, other = world.user("CERT-AA", password=PASSWORD), world.user("CERT-AA", password=PASSWORD)
    for n in range(5):
        _login(client, victim.email, "wrong password!", f"198.51.100.{n + 1}")
    assert _login(client, other.email, PASSWORD, "203.0.113.20").status_code == 429
