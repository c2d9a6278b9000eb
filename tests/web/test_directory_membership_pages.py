"""The organisation page shows each community role and lets the directory's writers set one."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Actor, World
from tests.web.conftest import HTML, csrf_on, sign_in


def test_a_platform_admin_sets_an_observer_role_on_the_organisation_page(
    client: TestClient, world: World, fr: Actor
) -> None:
    world.org("NODE-OPS", type_="eu-body", country=None)
    admin = world.user("NODE-OPS", roles=("platform-admin",))
    assert sign_in(client, admin.email).status_code == 303
    page = f"/directory/{fr.org_id}"
    token = csrf_on(client, page)
    r = client.post(
        f"{page}/memberships",
        headers=HTML,
        follow_redirects=False,
        data={"csrf_token": token, "community": "csirts-network", "role": "observer"},
    )
    assert r.status_code == 303, r.text
    shown = client.get(page, headers=HTML).text
    assert "CSIRTs Network · Observer" in shown or "Csirts Network · Observer" in shown

    bad = client.post(
        f"{page}/memberships",
        headers=HTML,
        follow_redirects=False,
        data={"csrf_token": token, "community": "csirts-network", "role": "chair"},
    )
    assert bad.status_code == 422
    assert "&#39;chair&#39; is not valid" in bad.text or "'chair' is not valid" in bad.text


def test_an_organisation_admin_is_not_offered_the_role_form(client: TestClient, world: World, fr: Actor) -> None:
    world.org("CERT-XB", country="DE", communities=("csirts-network",))
    assert sign_in(client, fr.email).status_code == 303
    assert "Set a community role" not in client.get(f"/directory/{world.orgs['CERT-XB']}", headers=HTML).text
