"""National contributions held at another node (ADR 0013 step 4, issue 15): a Member State's contribution, made on its
own node, is read at the hub where contributions are read, by its recipients only, read-only, and the hub's reports
take it as a source, so that an operational report's figures come from every Member State's node.

The "other node" is a node identity of the test's own (`peer_node`) signing the object this node's own mapping made
from a real contribution, which the test then removes here (as in tests/exchange/test_replicas.py). Three real nodes
run the same story in tests/exchange/test_federation_hub.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import node, stix_contribution
from cybercrisis.exchange.models import StixObject
from cybercrisis.situation.models import ContributionVersion
from tests.conftest import Actor, World, count
from tests.exchange.test_replicas import _as_from
from tests.exchange.test_stix_export import post_incident, valid
from tests.exchange.test_store_federated import peer_node, receive  # noqa: F401 - peer_node is a fixture
from tests.web.conftest import HTML, sign_in

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = {
    "period_start": (NOW - timedelta(hours=12)).isoformat(),
    "period_end": (NOW + timedelta(hours=12)).isoformat(),
}


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    world.org("Outsider", country="IT")
    return {
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "out": world.user("Outsider"),
    }


def _contribution(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country": "FR",
        **PERIOD,
        "status": "degraded",
        "sectors": [{"sector": "energy", "impact": "red"}],
        "services_disrupted": ["electricity distribution"],
        "outlook": "worsening",
        "narrative": "Wiper at two grid operators.",
        "needs": "Forensics on OT images.",
        "assistance_requested": True,
        "tlp": "amber",
        "share_with": {"communities": ["csirts-network"]},
        **over,
    }
    r = client.post("/api/v1/contributions", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _objects(session_factory: sessionmaker[Session], contribution_id: str) -> list[dict[str, Any]]:
    with unit_of_work(session_factory, write=False) as s:
        return [dict(r.data) for r in s.scalars(select(StixObject).where(StixObject.share_id == contribution_id))]


def test_a_contribution_from_a_member_states_node_is_read_at_the_hub_and_counted_in_its_reports(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    shared = post_incident(client, cast["fr"], share_with={"communities": ["csirts-network"]}, tlp="amber")
    own = post_incident(client, cast["fr"], tlp="amber")  # CERT-FR's alone: no reader of the contribution reads it
    draft = _contribution(client, cast["fr"], draft=True, incidents=[shared["id"], own["id"]])
    # A draft stays on its Member State's node: nothing is published for it.
    assert _objects(session_factory, draft["id"]) == []
    r = client.post(
        f"/api/v1/contributions/{draft['id']}/submit", json={"version": draft["version"]}, headers=cast["fr"].headers
    )
    assert r.status_code == 200, r.text
    [obj] = _objects(session_factory, draft["id"])
    valid({"type": "bundle", "id": "bundle--0b3f6f4e-6a0e-4c43-9c5f-6f1a3cf1a5f1", "objects": [obj]})
    assert obj["id"] == stix_contribution.sdo_id(draft["id"])
    assert obj["incident_refs"] == [shared["id"]]  # the incident no other reader reads is not named
    assert obj["status"] == "degraded" and obj["sectors"] == [{"sector": "energy", "impact": "red"}]

    objects = _as_from(session_factory, peer_node, draft["id"])
    assert client.get(f"/api/v1/contributions/{draft['id']}", headers=cast["enisa"].headers).status_code == 404
    result = receive(session_factory, settings, objects, peer_node)
    assert not result.rejected, result.rejected

    r = client.get(f"/api/v1/contributions/{draft['id']}", headers=cast["enisa"].headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["held_at"]["node"] == peer_node.id and got["state"] == "submitted"
    assert got["version"] == obj["contribution_version"] == 2  # its origin's number (drafted, then submitted)
    for key in ("country", "status", "outlook", "sectors", "services_disrupted", "narrative", "needs", "tlp", "owner"):
        assert got[key] == draft[key], key
    assert got["assistance_requested"] is True and got["created_by"] is None  # users do not travel
    assert got["share_with"]["communities"] == ["csirts-network"]
    # Its versions are the origin's, numbered as there.
    r = client.get(f"/api/v1/contributions/{draft['id']}/versions", headers=cast["enisa"].headers)
    assert [v["version"] for v in r.json()] == [obj["contribution_version"]], r.text
    # Its recipients only.
    assert client.get(f"/api/v1/contributions/{draft['id']}", headers=cast["out"].headers).status_code == 404
    listed = client.get("/api/v1/contributions", headers=cast["de"].headers).json()["items"]
    assert [c["id"] for c in listed] == [draft["id"]]
    # Read-only here, for its owner's own users too: it changes on CERT-FR's node.
    patch = {"version": got["version"], "status": "normal"}
    r = client.patch(f"/api/v1/contributions/{draft['id']}", json=patch, headers=cast["fr"].headers)
    assert r.status_code == 403 and "held at" in r.json()["detail"], r.text
    # The hub's operational report takes it as a source, like a contribution made there.
    r = client.post("/api/v1/sitreps", json={"level": "operational", **PERIOD}, headers=cast["enisa"].headers)
    assert r.status_code == 201, r.text
    assert draft["id"] in str(r.json()["figures"]), r.json()["figures"]
    # The page says where it is held, and offers no change, to its owner's own users either.
    assert sign_in(client, cast["fr"].email).status_code == 303
    page = client.get(f"/contributions/{draft['id']}", headers=HTML)
    assert page.status_code == 200 and "Held at" in page.text, page.text
    assert "Change this contribution" not in page.text
    # Its timeline says in words what came from its node; nothing here answers a contribution.
    assert "New version received from the node that holds it" in page.text and "exchange:replica" not in page.text
    assert "answers to it are sent there" not in page.text

    # Received again (a resumed pull): nothing changes. An older version arriving late changes nothing either.
    again = receive(session_factory, settings, objects, peer_node)
    assert not again.rejected
    assert count(db, ContributionVersion, ContributionVersion.contribution_id == draft["id"]) == 1
