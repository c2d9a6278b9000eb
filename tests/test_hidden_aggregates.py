"""Figures and messages say nothing of what their reader may not read (issue 12, aggregates)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import jobs
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.notify.models import JobLease
from tests.conftest import World


def test_live_picture_counts_only_what_the_token_may_read(
    client: TestClient, world: World, session_factory: sessionmaker[Session]
) -> None:
    world.org("CERT-FR", country="FR")
    world.org("CERT-Bund", country="DE")
    fr = world.user("CERT-FR")
    r = client.post(
        "/api/v1/alerts",
        json={"title": "Wiper in the grid", "tlp": "amber", "recipients": {"organisations": [world.orgs["CERT-Bund"]]}},
        headers=fr.headers,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        "/api/v1/incidents",
        json={"title": "Wiper", "tlp": "amber", "countries": ["FR"], "aware_at": "2026-01-01T08:00:00Z"},
        headers=fr.headers,
    )
    assert r.status_code == 201, r.text
    with unit_of_work(session_factory) as s:  # a token that reads situation reports only, not early warnings
        narrow, _ = accounts.create_token(
            s, actor=SYSTEM, user_ref=fr.user_id, scopes=["situation:report:read"], expires_days=1
        )

    def picture(token: str) -> tuple[int, int]:
        r = client.get("/api/v1/situation", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return int(r.json()["early_warnings"]["sent_pending"]), int(r.json()["open_incidents"]["total"])

    assert picture(fr.token) == (1, 1)
    # To this token the AMBER alert and incident do not exist: neither do their figures (nor the user's cached ones).
    assert picture(narrow) == (0, 0)


class _Failing:
    """A job that fails the way a database write does: the error carries the statement and its parameters."""

    def __call__(self, factory: sessionmaker[Session], settings: Settings, now: object) -> None:
        raise sa_exc.IntegrityError(
            "INSERT INTO incidents (id, title) VALUES (?, ?)",
            ("incident--00000000-0000-4000-8000-000000000001", "Minister's phone compromised"),
            Exception("UNIQUE constraint failed: incidents.id"),
        )


def test_a_failed_job_keeps_no_content_of_what_it_was_writing(
    session_factory: sessionmaker[Session], settings: Settings, db: Session
) -> None:
    ran = jobs.run_due(session_factory, settings, "worker-1", jobs=[jobs.Job("sweep", 60, _Failing())])
    assert ran == ["sweep"]
    db.rollback()
    lease = db.get(JobLease, "sweep")
    assert lease is not None and lease.last_error is not None
    # `jobs status` shows this to the operator, who reads CLEAR only: the kind of failure, not the data.
    assert lease.last_error.startswith("IntegrityError")
    assert "Minister" not in lease.last_error and "incident--" not in lease.last_error


@pytest.mark.parametrize("message", ["the job broke"])
def test_a_failed_job_keeps_its_own_message(
    session_factory: sessionmaker[Session], settings: Settings, db: Session, message: str
) -> None:
    def broken(factory: sessionmaker[Session], settings: Settings, now: object) -> None:
        raise RuntimeError(message)

    jobs.run_due(session_factory, settings, "worker-1", jobs=[jobs.Job("broken", 60, broken)])
    db.rollback()
    lease = db.get(JobLease, "broken")
    assert lease is not None and lease.last_error == f"RuntimeError: {message}"
