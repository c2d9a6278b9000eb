"""The authority policy: acting as someone, token scopes, who manages whom, and acts for the organisation.

Each test here reproduces a finding of issue 12 against the API and fails on the code before the policy existed.
"""

from __future__ import annotations

import itertools

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.permissions import READ_SCOPES, ROLE_PERMISSIONS, Permission, Role
from cybercrisis.accounts.models import ApiToken, User
from cybercrisis.accounts.service import SYSTEM
from tests.conftest import World, count

INCIDENT = {"title": "Ransomware at a hospital", "tlp": "red", "aware_at": "2026-11-28T08:00:00Z"}


# --- finding 1: impersonation ---------------------------------------------------------------------------------


def test_an_org_admin_cannot_mint_a_token_for_another_user(client: TestClient, world: World, db: Session) -> None:
    world.org("ENISA", type_="eu-body", country=None)
    admin = world.user("ENISA", roles=("org-admin",))
    operator = world.user("ENISA", roles=("platform-admin",))
    before = count(db, ApiToken)
    r = client.post("/api/v1/tokens", json={"user": operator.email}, headers=admin.headers)
    assert r.status_code == 403, r.text
    assert "token" not in r.json()
    assert count(db, ApiToken) == before


def test_a_platform_admin_cannot_mint_a_token_for_the_author_of_a_red_incident(
    client: TestClient, world: World
) -> None:
    world.org("CERT-FR")
    author = world.user("CERT-FR", roles=("analyst",))
    operator = world.user("CERT-FR", roles=("platform-admin",))
    created = client.post("/api/v1/incidents", json=INCIDENT, headers=author.headers)
    assert created.status_code == 201, created.text
    r = client.post("/api/v1/tokens", json={"user": author.user_id}, headers=operator.headers)
    assert r.status_code == 403
    assert client.get(f"/api/v1/incidents/{created.json()['id']}", headers=operator.headers).status_code == 404


def test_a_user_mints_their_own_token_and_the_operator_cli_mints_any(world: World, db: Session) -> None:
    from cybercrisis.accounts import service

    world.org("CERT-FR")
    analyst = world.user("CERT-FR", roles=("analyst",))
    text, token = service.create_token(db, actor=SYSTEM, user_ref=analyst.email, expires_days=1)
    assert token.user_id == analyst.user_id and text
    db.rollback()


def test_an_org_admin_cannot_demote_or_disable_a_platform_admin_of_the_same_organisation(
    client: TestClient, world: World, db: Session
) -> None:
    world.org("ENISA", type_="eu-body", country=None)
    admin = world.user("ENISA", roles=("org-admin",))
    operator = world.user("ENISA", roles=("platform-admin",))
    demote = client.patch(f"/api/v1/users/{operator.user_id}", json={"roles": ["viewer"]}, headers=admin.headers)
    disable = client.patch(f"/api/v1/users/{operator.user_id}", json={"is_active": False}, headers=admin.headers)
    assert demote.status_code == disable.status_code == 403
    db.rollback()
    user = db.get(User, operator.user_id)
    assert user is not None and user.roles == ["platform-admin"] and user.is_active


def test_an_org_admin_still_manages_the_users_it_outranks(client: TestClient, world: World) -> None:
    world.org("CERT-FR")
    admin = world.user("CERT-FR", roles=("org-admin",))
    analyst = world.user("CERT-FR", roles=("analyst",))
    r = client.patch(f"/api/v1/users/{analyst.user_id}", json={"roles": ["coordinator"]}, headers=admin.headers)
    assert r.status_code == 200, r.text
    revoke_own_org = client.get("/api/v1/tokens", headers=admin.headers).json()
    assert any(t["user"] == analyst.user_id for t in revoke_own_org)


def test_an_org_admin_cannot_revoke_the_tokens_of_a_user_it_does_not_outrank(
    client: TestClient, world: World, db: Session
) -> None:
    world.org("ENISA", type_="eu-body", country=None)
    admin = world.user("ENISA", roles=("org-admin",))
    operator = world.user("ENISA", roles=("platform-admin",))
    token_id = db.scalar(select(ApiToken.id).where(ApiToken.user_id == operator.user_id))
    db.rollback()
    r = client.delete(f"/api/v1/tokens/{token_id}", headers=admin.headers)
    assert r.status_code == 404
    assert client.get("/api/v1/me", headers=operator.headers).status_code == 200


# --- finding 2: scope escalation ----------------------------------------------------------------------------


def _narrow_token(client: TestClient, actor_headers: dict[str, str], scopes: list[str]) -> dict[str, str]:
    r = client.post("/api/v1/tokens", json={"scopes": scopes}, headers=actor_headers)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_a_narrow_token_cannot_create_a_wider_token(client: TestClient, world: World) -> None:
    world.org("CERT-FR")
    analyst = world.user("CERT-FR", roles=("analyst",))
    narrow = _narrow_token(client, analyst.headers, [Permission.TOKEN_OWN.value])
    wider = client.post("/api/v1/tokens", json={"scopes": [Permission.INCIDENT_WRITE.value]}, headers=narrow)
    assert wider.status_code == 422
    assert wider.json()["errors"][0]["field"] == "scopes"
    default = client.post("/api/v1/tokens", json={}, headers=narrow)
    assert default.status_code == 201
    assert default.json()["scopes"] == [Permission.TOKEN_OWN.value]


def test_scopes_bound_reads_a_token_without_the_incident_read_scope_sees_no_incident(
    client: TestClient, world: World
) -> None:
    world.org("CERT-FR")
    analyst = world.user("CERT-FR", roles=("analyst",))
    red = client.post("/api/v1/incidents", json=INCIDENT, headers=analyst.headers).json()["id"]
    amber = client.post(
        "/api/v1/incidents", json={**INCIDENT, "tlp": "amber", "title": "Phishing wave"}, headers=analyst.headers
    ).json()["id"]
    narrow = _narrow_token(client, analyst.headers, [Permission.TOKEN_OWN.value])
    assert client.get(f"/api/v1/incidents/{red}", headers=narrow).status_code == 404
    assert client.get(f"/api/v1/incidents/{amber}", headers=narrow).status_code == 404
    assert client.get("/api/v1/incidents", headers=narrow).json()["items"] == []
    reader = _narrow_token(client, analyst.headers, [Permission.INCIDENT_READ.value])
    assert client.get(f"/api/v1/incidents/{red}", headers=reader).status_code == 200


def test_every_role_reads_every_domain_and_role_permissions_nest() -> None:
    ranks = [Role.VIEWER, Role.ANALYST, Role.COORDINATOR, Role.ORG_ADMIN, Role.PLATFORM_ADMIN]
    for role in ranks:
        assert ROLE_PERMISSIONS[role] >= READ_SCOPES, role
    for lower, higher in itertools.pairwise(ranks):
        assert ROLE_PERMISSIONS[lower] <= ROLE_PERMISSIONS[higher], (lower, higher)


# --- finding 7: a viewer acts for the organisation ----------------------------------------------------------


def test_a_viewer_cannot_acknowledge_an_early_warning_for_the_organisation(
    client: TestClient, world: World, db: Session
) -> None:
    from cybercrisis.alerts.models import AlertRecipient

    world.org("CERT-FR")
    world.org("CERT-Bund", country="DE")
    sender = world.user("CERT-FR", roles=("analyst",))
    viewer = world.user("CERT-Bund", roles=("viewer",))
    analyst = world.user("CERT-Bund", roles=("analyst",))
    alert = client.post(
        "/api/v1/alerts",
        json={"title": "Exploited VPN flaw", "tlp": "amber", "recipients": {"organisations": [analyst.org_id]}},
        headers=sender.headers,
    )
    assert alert.status_code == 201, alert.text
    alert_id = alert.json()["id"]
    r = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=viewer.headers)
    assert r.status_code == 403
    db.rollback()
    row = db.get(AlertRecipient, (alert_id, analyst.org_id))
    assert row is not None and row.acknowledged_at is None
    assert client.post(f"/api/v1/alerts/{alert_id}/acknowledge", headers=analyst.headers).status_code == 200


def test_the_operator_principal_is_not_a_user() -> None:
    assert not SYSTEM.is_authenticated


# --- a platform admin runs the node, it does not read around TLP ---------------------------------------------


def test_a_platform_admin_cannot_route_another_organisations_notifications_to_itself(
    client: TestClient, world: World, db: Session
) -> None:
    from cybercrisis.notify.models import NotificationRoute

    world.org("CERT-FR")
    world.org("ENISA", type_="eu-body", country=None)
    operator = world.user("ENISA", roles=("platform-admin",))
    before = count(db, NotificationRoute)
    r = client.post(
        "/api/v1/notification-routes",
        json={"organisation": world.orgs["CERT-FR"], "events": ["*"], "channel": "email", "target": "x@enisa.example"},
        headers=operator.headers,
    )
    assert r.status_code == 403
    assert count(db, NotificationRoute) == before


def test_a_platform_admin_cannot_put_its_own_organisation_into_a_community(
    client: TestClient, world: World, db: Session
) -> None:
    from cybercrisis.directory.models import CommunityMembership

    world.community("csirts-network")
    world.org("ENISA", type_="eu-body", country=None)
    world.org("CERT-FR", communities=("csirts-network",))
    operator = world.user("ENISA", roles=("platform-admin",))
    own = client.patch(
        f"/api/v1/organisations/{operator.org_id}", json={"communities": ["csirts-network"]}, headers=operator.headers
    )
    assert own.status_code == 403
    assert count(db, CommunityMembership, CommunityMembership.org_id == operator.org_id) == 0
    other = client.patch(
        f"/api/v1/organisations/{world.orgs['CERT-FR']}", json={"communities": []}, headers=operator.headers
    )
    assert other.status_code == 200, other.text


def test_every_act_names_a_permission_a_refusal_and_the_domain_it_reads() -> None:
    from cybercrisis.access.authority import ACTS, DOMAIN_READ

    for act, rule in ACTS.items():
        assert act.split(".", 1)[0] in DOMAIN_READ, act
        assert rule.permission in ROLE_PERMISSIONS[Role.PLATFORM_ADMIN], act
        assert not rule.relations or rule.refusal, act


def test_a_platform_admin_creates_users_of_its_own_organisation_only(
    client: TestClient, world: World, db: Session
) -> None:
    world.org("CERT-FR")
    world.org("ENISA", type_="eu-body", country=None)
    operator = world.user("ENISA", roles=("platform-admin",))
    before = count(db, User)
    # Creating a user yields its first password: for another organisation, that is obtaining its credential.
    r = client.post(
        "/api/v1/users",
        json={"email": "new@cert-fr.example", "roles": ["analyst"], "organisation": "CERT-FR"},
        headers=operator.headers,
    )
    assert r.status_code == 403 and "cybercrisis user create" in r.json()["detail"]
    assert count(db, User) == before
    own = client.post(
        "/api/v1/users", json={"email": "colleague@enisa.example", "roles": ["analyst"]}, headers=operator.headers
    )
    assert own.status_code == 201, own.text


def test_a_platform_admin_cannot_add_a_contact_to_another_organisation_to_receive_its_notifications(
    client: TestClient, world: World, db: Session
) -> None:
    """Found in review: an organisation without routes is notified at its contacts, so a contact added by someone
    else routes what it reads to them."""
    from cybercrisis.directory.models import Contact

    world.org("CERT-Bund", country="DE")
    world.org("ENISA", type_="eu-body", country=None)
    operator = world.user("ENISA", roles=("platform-admin",))
    before = count(db, Contact)
    r = client.post(
        "/api/v1/contacts",
        json={
            "organisation": world.orgs["CERT-Bund"],
            "kind": "email",
            "label": "desk",
            "value": "x@enisa.example",
            "tlp": "green",
        },
        headers=operator.headers,
    )
    assert r.status_code == 403, r.text
    assert count(db, Contact) == before


def test_only_the_secretariat_closes_a_reporting_period_and_for_a_bounded_time(
    client: TestClient, world: World, db: Session
) -> None:
    """Found in review: any coordinator of any organisation (a hospital's) closed today's period, so every Member
    State's contribution was refused."""
    from cybercrisis.situation.models import ClosedPeriod

    world.org("FR-HOSPITAL", type_="entity")
    world.org("ENISA", type_="eu-body", country=None)
    hospital = world.user("FR-HOSPITAL", roles=("coordinator",))
    secretariat = world.user("ENISA", roles=("coordinator",))
    today = {"period_start": "2026-12-07T00:00:00Z", "period_end": "2026-12-08T00:00:00Z"}
    assert client.post("/api/v1/periods/close", json=today, headers=hospital.headers).status_code == 403
    assert count(db, ClosedPeriod) == 0
    season = {"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-12-31T00:00:00Z"}
    r = client.post("/api/v1/periods/close", json=season, headers=secretariat.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period_end"
    assert client.post("/api/v1/periods/close", json=today, headers=secretariat.headers).status_code == 201
