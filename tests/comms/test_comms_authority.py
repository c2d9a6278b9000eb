"""Releasing makes a statement TLP:CLEAR under its owner's name: only with the owner's consent (issue 12)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.comms.models import Publication
from cybercrisis.comms.tasks import release_due
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from tests.comms.conftest import Cast, approve_all, draft, verdict
from tests.conftest import count

API = "/api/v1/communications"


def test_the_job_does_not_release_a_version_an_approver_wrote_until_the_owner_approves_it(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    c = draft(client, cast)
    edited = client.patch(
        f"{API}/{c['id']}",
        json={"version": c["version"], "body": "Power supply is at risk."},
        headers=cast["de"].headers,
    )
    assert edited.status_code == 200, edited.text
    approved = approve_all(client, cast, edited.json())
    assert approved["state"] == "approved"
    later = utcnow() + timedelta(days=1)
    assert release_due(session_factory, settings, later) == 0
    assert count(db, Publication) == 0
    # The owner approves the approver's text: now the job releases it.
    assert verdict(client, cast["fr_coord"], approved).status_code == 200
    assert release_due(session_factory, settings, later) == 1
    assert count(db, Publication) == 1


def test_the_owner_releasing_by_hand_is_its_consent(client: TestClient, cast: Cast, db: Session) -> None:
    c = draft(client, cast)
    edited = client.patch(
        f"{API}/{c['id']}",
        json={"version": c["version"], "body": "Power supply is at risk."},
        headers=cast["de"].headers,
    ).json()
    approve_all(client, cast, edited)
    assert client.post(f"{API}/{c['id']}/release", headers=cast["de_coord"].headers).status_code == 403
    r = client.post(f"{API}/{c['id']}/release", headers=cast["fr"].headers)
    assert r.status_code == 200, r.text
    assert count(db, Publication) == 1
