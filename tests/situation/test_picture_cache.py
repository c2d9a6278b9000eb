"""The cached live picture: kept across changes a reader cannot see, never showing what the reader lost."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Actor
from tests.situation.test_situation_api import cast, incident  # noqa: F401 - the cast fixture, used by name


def _picture(client: TestClient, actor: Actor) -> dict[str, Any]:
    r = client.get("/api/v1/situation", headers=actor.headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _share(client: TestClient, actor: Actor, cid: str, **share_with: list[str]) -> None:
    r = client.put(
        f"/api/v1/crises/{cid}/sharing", json={"tlp": "amber", "share_with": share_with}, headers=actor.headers
    )
    assert r.status_code == 200, r.text


def _crises(client: TestClient, actor: Actor) -> list[str]:
    return [c["id"] for c in _picture(client, actor)["active_crises"]]


def test_a_reader_who_loses_a_crisis_no_longer_sees_it_in_the_picture(
    client: TestClient,
    cast: dict[str, Actor],  # noqa: F811
) -> None:
    body = {"title": "Grid ransomware wave", "description": "", "incidents": [], "justification": "two States"}
    r = client.post("/api/v1/crises", json={**body, "tlp": "amber"}, headers=cast["enisa"].headers)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert cid in _crises(client, cast["de"])
    # A change that keeps who reads it (the cache then knows who could read it before), then one that narrows it.
    _share(client, cast["enisa"], cid, communities=["csirts-network"])
    assert cid in _crises(client, cast["de"])
    _share(client, cast["enisa"], cid, organisations=[cast["enisa"].org_id])
    assert cid not in _crises(client, cast["de"])
    assert cid in _crises(client, cast["enisa"])


def test_a_change_the_reader_cannot_see_keeps_their_picture(
    client: TestClient,
    cast: dict[str, Actor],  # noqa: F811
) -> None:
    incident(client, cast["fr"])  # GREEN to the CSIRTs Network
    before = _picture(client, cast["de"])
    incident(client, cast["fr"], tlp="red", share_with={})  # only CERT-FR's author reads it
    assert _picture(client, cast["de"])["generated_at"] == before["generated_at"]
    incident(client, cast["fr"])
    after = _picture(client, cast["de"])
    assert after["generated_at"] != before["generated_at"]
    assert after["open_incidents"]["total"] == before["open_incidents"]["total"] + 1


def test_a_crisis_narrowed_before_the_feed_read_its_creation_leaves_no_cached_picture(
    app: FastAPI,
    client: TestClient,
    cast: dict[str, Actor],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The feed reads an object's sharing as it is when it reads the chain: by then a later entry may have narrowed
    it, so its creation must not count as a change that only widened who reads it."""
    _crises(client, cast["de"])  # the feed has read the chain so far
    monkeypatch.setattr(app.state.changes, "current", lambda: None)  # it falls behind, as under load
    body = {"title": "Grid ransomware wave", "description": "", "incidents": [], "justification": "two States"}
    r = client.post("/api/v1/crises", json={**body, "tlp": "amber"}, headers=cast["enisa"].headers)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    app.state.picture_cache._cache.clear()  # its entry is computed anew: after the creation, before the feed read it
    assert cid in _crises(client, cast["de"])
    _share(client, cast["enisa"], cid, organisations=[cast["enisa"].org_id])
    monkeypatch.undo()
    assert cid not in _crises(client, cast["de"])
