"""The cached crisis room: kept across changes that do not reach it, never showing what the reader lost."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Actor
from tests.crises.test_crises_api import _incident, _open, cast  # noqa: F401 - the cast fixture, used by name
from tests.test_query_counts import count_queries


def _room(client: TestClient, actor: Actor, cid: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/crises/{cid}", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _patch(client: TestClient, actor: Actor, iid: str, **changes: Any) -> None:
    version = client.get(f"/api/v1/incidents/{iid}", headers=actor.headers).json()["version"]
    r = client.patch(f"/api/v1/incidents/{iid}", json={"version": version, **changes}, headers=actor.headers)
    assert r.status_code == 200, r.text


def test_a_reader_who_loses_the_crisis_no_longer_gets_its_cached_room(
    client: TestClient,
    cast: dict[str, Actor],  # noqa: F811
) -> None:
    fr = _incident(client, cast["fr"], "FR", share_with={"communities": ["csirts-network"]})
    cid = _open(client, cast["enisa"], incidents=[fr])["id"]
    assert [i["id"] for i in _room(client, cast["de_coord"], cid)["incidents"]] == [fr]
    _patch(client, cast["fr"], fr, title="Ransomware at a FR grid operator, contained")
    assert [i["title"] for i in _room(client, cast["de_coord"], cid)["incidents"]] == [
        "Ransomware at a FR grid operator, contained"
    ]
    r = client.put(
        f"/api/v1/crises/{cid}/sharing",
        json={"tlp": "amber", "share_with": {"organisations": [cast["enisa"].org_id]}},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["de_coord"].headers).status_code == 404


def test_a_change_outside_the_crisis_keeps_the_room_and_one_inside_reaches_it(
    app: FastAPI,
    client: TestClient,
    cast: dict[str, Actor],  # noqa: F811
) -> None:
    fr = _incident(client, cast["fr"], "FR")
    cid = _open(client, cast["enisa"], incidents=[fr])["id"]
    _room(client, cast["de_coord"], cid)
    with count_queries(app) as hit:
        _room(client, cast["de_coord"], cid)
    _incident(client, cast["de_coord"], "DE")  # readable by the reader, linked to no crisis
    with count_queries(app) as kept:
        _room(client, cast["de_coord"], cid)
    assert len(kept) == len(hit)
    _patch(client, cast["fr"], fr, title="Ransomware at a FR grid operator, contained")
    with count_queries(app) as recomputed:
        room = _room(client, cast["de_coord"], cid)
    assert len(recomputed) > len(hit) and room["incidents"][0]["title"].endswith("contained")
