"""A small world for mutual assistance: Member States' organisations, the Reserve's administrators, outsiders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.accounts.service import SYSTEM
from cybercrisis.db import unit_of_work
from cybercrisis.directory import service as directory
from cybercrisis.directory.exchange import org_id_for_key
from tests.conftest import Actor, World
from tests.notify.helpers import add_contact

Cast = dict[str, Actor]
NOW = datetime.now(UTC).replace(microsecond=0)


def reserve_admin(world: World, key: str, short: str, communities: tuple[str, ...] = ()) -> str:
    """An administrator of the EU Cybersecurity Reserve, with the id its directory key gives it on every node."""
    for c in communities:
        world.community(c)
    with unit_of_work(world.factory) as s:
        org = directory.create_organisation(
            s,
            actor=SYSTEM,
            name=f"{short} organisation",
            short_name=short,
            type_="eu-body",
            country=None,
            levels=["technical", "operational"],
            communities=list(communities),
            org_id=org_id_for_key(key),
        )
        world.orgs[short] = org.id
        return org.id


@pytest.fixture
def cast(world: World, session_factory: sessionmaker[Session]) -> Cast:
    """France asks (its SPOC and its CSIRT); Germany and Estonia help; Italy is outside the CSIRTs Network here."""
    world.org("FR-SPOC", type_="spoc", country="FR")
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-DE", country="DE", communities=("csirts-network",))
    world.org("CERT-EE", country="EE", communities=("csirts-network",))
    world.org("CERT-IT", country="IT")
    world.org("DE-SPOC", type_="spoc", country="DE")
    world.org("Hospital", type_="entity", country="FR", parent="CERT-FR")
    reserve_admin(world, "enisa", "ENISA", ("csirts-network",))  # its secretariat
    reserve_admin(world, "ec-dg-connect", "DG-CONNECT")
    for short in ("FR-SPOC", "CERT-FR", "CERT-DE", "CERT-EE", "CERT-IT", "ENISA", "DG-CONNECT", "DE-SPOC"):
        add_contact(session_factory, world.orgs[short], "email", f"desk@{short.lower()}.example")
    return {
        "spoc": world.user("FR-SPOC"),
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-DE"),
        "ee": world.user("CERT-EE"),
        "it": world.user("CERT-IT"),
        "de_spoc": world.user("DE-SPOC"),
        "hospital": world.user("Hospital"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "dgc": world.user("DG-CONNECT", roles=("coordinator",)),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
    }


def request_body(cast: Cast, **over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "needs": ["forensics", "incident-response"],
        "description": "Wiper at two hospitals; OT segments untouched so far. CONFIDENTIAL-DETAIL",
        "urgency": "immediate",
        "recipients": {"organisations": [cast["de"].org_id], "communities": ["csirts-network"], "reserve": False},
        "affected_entity": "Hôpital Exemple",
        "entity_type": "essential",
        "impact": "red",
        "severity": "high",
        "spillover": "medium",
        "measures_taken": "Isolated the hospital networks; restored from backups.",
        "other_support": "National CERT on site.",
        "tlp": "amber",
    }
    b.update(over)
    return b


def ask(client: TestClient, actor: Actor, cast: Cast, **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/assistance-requests", json=request_body(cast, **over), headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def offer_body(**over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "capability": "forensics",
        "people": 3,
        "available_from": (NOW + timedelta(hours=6)).isoformat(),
        "conditions": "Travel costs borne by the requester.",
    }
    b.update(over)
    return b


def offer(client: TestClient, actor: Actor, request_id: str, **over: Any) -> dict[str, Any]:
    r = client.post(f"/api/v1/assistance-requests/{request_id}/offers", json=offer_body(**over), headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def post(client: TestClient, actor: Actor, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/api/v1/assistance-requests/{path}", json=body or {}, headers=actor.headers)
