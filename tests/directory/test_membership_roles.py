"""Membership roles (NIS2 Art. 15(2), 16(2)): who sets them, how they read, that observers read but do not decide."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.directory.models import CommunityMembership
from tests.conftest import Actor, World


@pytest.fixture
def network(world: World) -> World:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network",))
    world.org("DG-CONNECT", type_="eu-body", country=None, communities=("csirts-network",))
    world.org("Outsider", country="SE")
    return world


@pytest.fixture
def operator(network: World) -> Actor:
    """A platform administrator (directory:organisation:write) at ENISA, which runs the node."""
    return network.user("ENISA", roles=("platform-admin",))


def _set(client: TestClient, actor: Actor, org_id: str, community: str, role: object) -> object:
    return client.put(
        f"/api/v1/organisations/{org_id}/memberships/{community}", headers=actor.headers, json={"role": role}
    )


def _roles(db: Session, community: str) -> dict[str, str]:
    rows = db.execute(
        select(CommunityMembership.org_id, CommunityMembership.role).where(
            CommunityMembership.community_slug == community
        )
    )
    return dict(rows.all())  # type: ignore[arg-type]


def test_platform_admin_makes_the_commission_an_observer_and_the_directory_shows_it(
    client: TestClient, network: World, operator: Actor, db: Session
) -> None:
    commission = network.orgs["DG-CONNECT"]
    r = _set(client, operator, commission, "csirts-network", "observer")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert r.json() == {"community": "csirts-network", "role": "observer"}  # type: ignore[attr-defined]

    org = client.get(f"/api/v1/organisations/{commission}", headers=operator.headers).json()
    assert org["memberships"] == [{"community": "csirts-network", "role": "observer"}]
    assert org["communities"] == ["csirts-network"]  # an observer still reads as the community
    members = client.get("/api/v1/communities/csirts-network/members", headers=operator.headers).json()
    assert {m["short_name"]: m["role"] for m in members}["DG-CONNECT"] == "observer"
    assert members[-1]["role"] == "observer"  # members are listed first
    events = db.scalars(select(AuditEvent).where(AuditEvent.tag == "directory:membership:update")).all()
    assert [(e.object_id, e.actor_user_id) for e in events] == [(commission, operator.user_id)]


def test_setting_a_role_in_a_new_community_adds_the_membership(
    client: TestClient, network: World, operator: Actor, db: Session
) -> None:
    network.community("eu-cyclone", level="operational")
    r = _set(client, operator, network.orgs["DG-CONNECT"], "eu-cyclone", "observer")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    assert _roles(db, "eu-cyclone") == {network.orgs["DG-CONNECT"]: "observer"}


@pytest.mark.parametrize("roles", [("org-admin",), ("coordinator",), ("analyst",)])
def test_organisation_admins_and_users_may_not_set_membership_roles(
    client: TestClient, network: World, db: Session, roles: tuple[str, ...]
) -> None:
    other_admin = network.user("CERT-FR", roles=roles)
    r = _set(client, other_admin, network.orgs["CERT-Bund"], "csirts-network", "observer")
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert _roles(db, "csirts-network")[network.orgs["CERT-Bund"]] == "member"


def test_a_platform_admin_may_not_change_its_own_organisations_role(
    client: TestClient, network: World, db: Session
) -> None:
    own = network.user("CERT-FR", roles=("platform-admin",))
    r = _set(client, own, network.orgs["CERT-FR"], "csirts-network", "secretariat")
    assert r.status_code == 403  # type: ignore[attr-defined]
    assert _roles(db, "csirts-network")[network.orgs["CERT-FR"]] == "member"


@pytest.mark.parametrize("role", ["chair", "", None, "Observer"])
def test_an_unknown_role_is_refused_naming_the_role_field(
    client: TestClient, network: World, operator: Actor, db: Session, role: object
) -> None:
    r = _set(client, operator, network.orgs["CERT-Bund"], "csirts-network", role)
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert [e["field"] for e in r.json()["errors"]] == ["role"]  # type: ignore[attr-defined]
    assert _roles(db, "csirts-network")[network.orgs["CERT-Bund"]] == "member"


def test_patch_with_roles_sets_them_and_changing_communities_keeps_roles(
    client: TestClient, network: World, operator: Actor, db: Session
) -> None:
    network.community("eu-cyclone", level="operational")
    commission = network.orgs["DG-CONNECT"]
    r = client.patch(
        f"/api/v1/organisations/{commission}", headers=operator.headers, json={"roles": {"csirts-network": "observer"}}
    )
    assert r.status_code == 200, r.text
    r = client.patch(
        f"/api/v1/organisations/{commission}",
        headers=operator.headers,
        json={"communities": ["csirts-network", "eu-cyclone"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["memberships"] == [
        {"community": "csirts-network", "role": "observer"},
        {"community": "eu-cyclone", "role": "member"},
    ]
    bad = client.patch(
        f"/api/v1/organisations/{commission}", headers=operator.headers, json={"roles": {"ipcr": "observer"}}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "roles"


def test_observers_and_the_secretariat_read_what_the_community_reads_but_do_not_decide(
    client: TestClient, network: World, operator: Actor, db: Session
) -> None:
    network.org("EC3", type_="eu-body", country=None)  # invited by the community: Art. 16(2), third subparagraph
    for short, role in (("DG-CONNECT", "observer"), ("CERT-Bund", "member"), ("EC3", "invited-observer")):
        assert _set(client, operator, network.orgs[short], "csirts-network", role).status_code == 200  # type: ignore[attr-defined]
    bund_admin = network.user("CERT-Bund", roles=("org-admin",))
    r = client.post(
        "/api/v1/contacts",
        headers=bund_admin.headers,
        json={
            "organisation": network.orgs["CERT-Bund"],
            "kind": "24x7-desk",
            "label": "network desk",
            "value": "+49 1",
            "tlp": "green",
            "share_with": {"communities": ["csirts-network"]},
        },
    )
    assert r.status_code == 201, r.text
    contact = r.json()["id"]
    secretariat = network.user("CERT-FR", roles=("platform-admin",))  # ENISA's role is set by another org's admin
    assert _set(client, secretariat, network.orgs["ENISA"], "csirts-network", "secretariat").status_code == 200  # type: ignore[attr-defined]
    for short in ("DG-CONNECT", "ENISA", "EC3", "CERT-FR"):
        reader = network.user(short, roles=("viewer",))
        assert client.get(f"/api/v1/contacts/{contact}", headers=reader.headers).status_code == 200, short
    outsider = network.user("Outsider", roles=("viewer",))
    assert client.get(f"/api/v1/contacts/{contact}", headers=outsider.headers).status_code == 404

    from cybercrisis.directory import service  # not at import time: the app wires the audit/exchange cycle

    assert service.deciding_members(db, community="csirts-network") == {
        network.orgs["CERT-FR"],
        network.orgs["CERT-Bund"],
    }
    assert service.community_role(db, org_id=network.orgs["DG-CONNECT"], community="csirts-network") == "observer"
    assert service.community_role(db, org_id=network.orgs["ENISA"], community="csirts-network") == "secretariat"
    assert service.community_role(db, org_id=network.orgs["Outsider"], community="csirts-network") is None
