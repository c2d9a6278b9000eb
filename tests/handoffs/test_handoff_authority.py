"""Handing over to law enforcement widens who reads what was handed over: only where TLP lets the sender (issue 12)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.handoffs.test_handoffs_api import EC3, Scene, body, handoff, scene, written

__all__ = ["scene"]


def test_a_recipient_cannot_hand_another_organisations_incident_to_the_police(
    client: TestClient, scene: Scene, db: Session
) -> None:
    before = written(db)
    # CERT-Bund reads CERT-FR's AMBER incident (shared with it by name) but is neither its originator nor may it pass
    # TLP:AMBER on beyond its own constituency: its observables do not go to the German police through CERT-Bund.
    r = client.post("/api/v1/handoffs", json=body(scene, recipient=scene.orgs["BKA"]), headers=scene["de"].headers)
    assert r.status_code == 403, r.text
    assert "198.51.100.7" in r.json()["detail"]
    assert written(db) == before
    # The originator hands its own incident over.
    assert client.post("/api/v1/handoffs", json=body(scene), headers=scene["fr"].headers).status_code == 201


def test_a_holder_transfers_only_to_the_units_the_sender_named(client: TestClient, scene: Scene, db: Session) -> None:
    h = handoff(client, scene, tlp="amber+strict")
    url = f"/api/v1/handoffs/{h['id']}"
    assert client.post(f"{url}/receive", headers=scene["ofac"].headers).status_code == 200
    before = written(db)
    r = client.post(f"{url}/transfer", json={"to": EC3}, headers=scene["ofac"].headers)
    assert r.status_code == 403 and "originator" in r.json()["detail"]
    assert written(db) == before
    assert client.get(url, headers=scene["ec3"].headers).status_code == 404
    named = handoff(client, scene, onward=[EC3])
    named_url = f"/api/v1/handoffs/{named['id']}"
    assert client.post(f"{named_url}/receive", headers=scene["ofac"].headers).status_code == 200
    assert client.post(f"{named_url}/transfer", json={"to": EC3}, headers=scene["ofac"].headers).status_code == 200
