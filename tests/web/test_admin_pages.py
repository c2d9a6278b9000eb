"""Account and administration pages: API tokens, the users of an organisation, the audit log."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Actor, World
from tests.web.conftest import HTML, csrf_on, sign_in


def test_revoked_token_stops_working(signed_in: TestClient, app: FastAPI) -> None:
    token_page = "/account/tokens"
    r = signed_in.post(
        token_page,
        headers=HTML,
        data={"csrf_token": csrf_on(signed_in, token_page), "name": "short", "expires_days": "1"},
    )
    shown = re.search(r'value="(cc_[^"]+)"', r.text)
    assert shown
    token = shown.group(1)
    page = signed_in.get(token_page, headers=HTML)
    revoke = re.search(r'action="(/account/tokens/[^"]+/revoke)"', page.text)
    assert revoke
    r = signed_in.post(
        revoke.group(1), data={"csrf_token": csrf_on(signed_in, token_page)}, headers=HTML, follow_redirects=False
    )
    assert r.status_code == 303
    assert "Revoked" in signed_in.get(token_page, headers=HTML).text
    with TestClient(app) as fresh:
        assert fresh.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_org_admin_creates_a_user_and_sees_the_generated_password_once(signed_in: TestClient) -> None:
    r = signed_in.post(
        "/admin/users",
        headers=HTML,
        data={
            "csrf_token": csrf_on(signed_in, "/admin/users"),
            "email": "new.analyst@xf.example",
            "display_name": "New analyst",
            "roles": ["analyst"],
            "password": "",
        },
    )
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert re.search(r'id="new-password"[^>]*value="[^"]{12,}"', r.text)
    later = signed_in.get("/admin/users", headers=HTML)
    assert "new.analyst@xf.example" in later.text
    assert 'id="new-password"' not in later.text


def test_org_admin_cannot_deactivate_themself(signed_in: TestClient, fr: Actor) -> None:
    r = signed_in.post(
        f"/admin/users/{fr.user_id}",
        headers=HTML,
        data={"csrf_token": csrf_on(signed_in, "/admin/users"), "roles": ["org-admin"]},
    )
    assert r.status_code == 409
    assert "You cannot deactivate yourself" in r.text


def test_analyst_has_no_users_or_audit_pages(client: TestClient, world: World, fr: Actor) -> None:
    analyst = world.user("CERT-XF", roles=("analyst",))
    sign_in(client, analyst.email)
    overview = client.get("/", headers=HTML)
    assert 'href="/admin/users"' not in overview.text
    assert 'href="/admin/audit"' not in overview.text
    assert client.get("/admin/users", headers=HTML).status_code == 403
    assert client.get("/admin/audit", headers=HTML).status_code == 403


def test_audit_page_lists_own_events_and_platform_admin_verifies_the_chain(
    client: TestClient, world: World, fr: Actor
) -> None:
    sign_in(client, fr.email)
    page = client.get("/admin/audit", headers=HTML)
    assert page.status_code == 200
    assert "accounts:session:login" in page.text
    assert "Verify chain" not in page.text  # organisation admins read, platform admins verify

    operator = world.user("CERT-XF", roles=("platform-admin",))
    client.cookies.clear()
    sign_in(client, operator.email)
    r = client.post("/admin/audit/verify", headers=HTML, data={"csrf_token": csrf_on(client, "/admin/audit")})
    assert r.status_code == 200
    assert "The chain is intact." in r.text


@pytest.mark.parametrize(
    "path", ["/", "/directory", "/documents", "/documents/new", "/admin/users", "/account/tokens", "/admin/audit"]
)
def test_pages_have_no_inline_scripts_or_styles_for_the_csp(signed_in: TestClient, path: str) -> None:
    r = signed_in.get(path, headers=HTML)
    assert r.status_code == 200
    assert " style=" not in r.text
    assert "<style" not in r.text
    assert re.search(r"<script(?![^>]*\bsrc=)", r.text) is None
    assert re.search(r"\son[a-z]+=", r.text) is None  # no inline event handlers
