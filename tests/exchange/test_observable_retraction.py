"""An observable taken off an incident (issue 19) is taken off everywhere the incident went: the incident's copy
in the store of STIX objects stops serving it, its relationship becomes a revoked version that travels, and a
node holding the incident as a replica drops the link on receiving it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import node
from cybercrisis.exchange.models import StixObject
from cybercrisis.incidents.models import Observable, Sighting
from tests.conftest import Actor
from tests.exchange.test_replicas import _as_from, _signed_again, cast  # noqa: F401 - cast is a fixture
from tests.exchange.test_stix_export import post_incident
from tests.exchange.test_store_federated import peer_node, receive  # noqa: F401 - peer_node is a fixture

REMOVED = {"type": "ipv4-addr", "value": "198.51.100.7"}


def _latest(db: Session, key: str) -> dict[str, StixObject]:
    db.rollback()
    rows = db.scalars(select(StixObject).where(StixObject.share_id == key, StixObject.latest.is_(True)))
    return {r.id: r for r in rows}


def _sco_of(rows: dict[str, StixObject], value: str) -> str:
    [oid] = [i for i, r in rows.items() if r.data.get("value") == value]
    return oid


def test_the_store_revokes_the_relationship_and_stops_serving_the_value(
    client: TestClient,
    cast: dict[str, Actor],  # noqa: F811
    db: Session,
) -> None:
    inc = post_incident(client, cast["fr"])
    before = _latest(db, inc["id"])
    sco = _sco_of(before, REMOVED["value"])
    [rel] = [i for i, r in before.items() if r.type == "relationship" and r.data.get("target_ref") == sco]
    kept = _sco_of(before, "evil.example")
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/observables/remove", json={"observables": [REMOVED]}, headers=cast["fr"].headers
    )
    assert r.json() == {"removed": 1}, r.text
    after = _latest(db, inc["id"])
    assert sco not in after  # the incident's copy of the value is gone
    assert after[rel].revoked and after[rel].data["revoked"] is True  # the link, revoked as a new version
    assert after[rel].modified > before[rel].modified
    assert kept in after and not after[kept].revoked
    others = [r for i, r in after.items() if r.type == "relationship" and i != rel]
    assert others and not any(r.revoked for r in others)
    # Publishing the incident again (another change) revokes nothing more.
    client.patch(
        f"/api/v1/incidents/{inc['id']}",
        json={"version": inc["version"] + 1, "outlook": "improving"},
        headers=cast["fr"].headers,
    )
    again = _latest(db, inc["id"])
    assert [i for i, r in again.items() if r.revoked] == [rel]


def test_a_replica_drops_the_value_when_the_revoked_relationship_arrives(
    client: TestClient,
    cast: dict[str, Actor],  # noqa: F811
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    inc = post_incident(client, cast["fr"], share_with={"organisations": [cast["de"].org_id]})
    objects = _as_from(session_factory, peer_node, inc["id"])
    assert not receive(session_factory, settings, objects, peer_node).rejected

    def values() -> set[str]:
        with unit_of_work(session_factory, write=False) as s:
            return set(
                s.scalars(
                    select(Observable.value)
                    .join(Sighting, Sighting.observable_id == Observable.id)
                    .where(Sighting.incident_id == inc["id"])
                )
            )

    assert REMOVED["value"] in values() and "evil.example" in values()
    [sco] = [o["id"] for o in objects if o.get("value") == REMOVED["value"]]
    [rel] = [o for o in objects if o.get("type") == "relationship" and o.get("target_ref") == sco]
    revoked: dict[str, Any] = _signed_again(
        peer_node, rel, inc["id"], revoked=True, modified="2099-01-01T00:00:00.000Z"
    )
    assert not receive(session_factory, settings, [revoked], peer_node).rejected
    assert REMOVED["value"] not in values() and "evil.example" in values()
    # What CERT-Bund reads of the replica says the same.
    got = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).json()
    assert REMOVED["value"] not in [o["value"] for o in got["observables"]]
