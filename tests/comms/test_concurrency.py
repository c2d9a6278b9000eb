"""Two approvals arriving at once both count; a statement is published once, whoever gets there first (ADR 0007).

Each race starts its contenders together (threading.Barrier). On PostgreSQL the test also holds the statement's row
until every contender is waiting for it, so that they really overlap: approvals have each inserted their verdict,
releases have each issued their conditional update.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit.models import AuditEvent
from cybercrisis.audit.service import verify
from cybercrisis.comms.models import CommunicationApproval, Publication
from cybercrisis.comms.tasks import release_due
from cybercrisis.config import Settings
from cybercrisis.db import make_engine, make_sessionmaker, utcnow
from tests.comms.conftest import Cast, approve_all, draft, verdict
from tests.conftest import count

API = "/api/v1/communications"


def race(calls: list[Callable[[], Any]], *, engine: Engine, row: str) -> list[Any]:
    """Run the calls at once; on PostgreSQL hold `row` of communications until all of them wait for it."""
    holder = None
    if engine.dialect.name == "postgresql":
        holder = engine.connect()
        holder.execute(text("SELECT id FROM communications WHERE id = :id FOR NO KEY UPDATE"), {"id": row})
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = call()
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    if holder is not None:
        waiting, deadline = 0, time.monotonic() + 30
        with engine.connect() as watch:
            while waiting < len(calls) and time.monotonic() < deadline:
                waiting = watch.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
                watch.rollback()  # a fresh statistics snapshot each time
        holder.commit()
        holder.close()
        assert waiting == len(calls), "the contenders never waited for the statement's row"
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    return results


def test_two_approvals_arriving_at_once_both_count(client: TestClient, cast: Cast, db: Session, engine: Engine) -> None:
    c = draft(client, cast)
    responses = race(
        [lambda: verdict(client, cast["de_coord"], c), lambda: verdict(client, cast["enisa_coord"], c)],
        engine=engine,
        row=c["id"],
    )
    assert [r.status_code for r in responses] == [200, 200]
    # One of them committed second, saw both verdicts and approved the statement.
    assert sorted(r.json()["state"] for r in responses) == ["approved", "draft"]
    got = client.get(f"{API}/{c['id']}", headers=cast["fr"].headers).json()
    assert got["state"] == "approved" and got["waiting_for"] == []
    assert count(db, CommunicationApproval, CommunicationApproval.verdict == "approve") == 2
    assert verify(db).ok


def test_two_server_processes_releasing_at_once_publish_once(
    app: FastAPI, client: TestClient, cast: Cast, db: Session, engine: Engine, settings: Settings
) -> None:
    from cybercrisis.app import create_app

    c = approve_all(client, cast, draft(client, cast))
    other = create_app(settings)  # a second server process: its own engine and connection pool
    try:
        with TestClient(other, raise_server_exceptions=False) as second:
            url, headers = f"{API}/{c['id']}/release", cast["fr"].headers
            responses = race(
                [lambda: client.post(url, headers=headers), lambda: second.post(url, headers=headers)],
                engine=engine,
                row=c["id"],
            )
    finally:
        other.state.engine.dispose()
    assert sorted(r.status_code for r in responses) == [200, 409]
    [refused] = [r for r in responses if r.status_code == 409]
    assert refused.json()["detail"].startswith("already released")
    assert count(db, Publication) == 1
    assert count(db, AuditEvent, AuditEvent.tag == "comms:communication:release") == 1
    assert verify(db).ok


def test_release_request_and_release_job_at_once_publish_once(
    client: TestClient, cast: Cast, db: Session, engine: Engine, settings: Settings
) -> None:
    c = approve_all(client, cast, draft(client, cast))
    job_engine = make_engine(settings.effective_database_url)  # the job runner's process
    job: sessionmaker[Session] = make_sessionmaker(job_engine)
    try:
        request = lambda: client.post(f"{API}/{c['id']}/release", headers=cast["fr"].headers)  # noqa: E731
        response, released = race([request, lambda: release_due(job, settings, utcnow())], engine=engine, row=c["id"])
    finally:
        job_engine.dispose()
    # Exactly one of them published: the request (200, the job found nothing) or the job (1, the request got 409).
    assert (response.status_code, released) in {(200, 0), (409, 1)}, (response.text, released)
    assert count(db, Publication) == 1
    assert count(db, AuditEvent, AuditEvent.tag == "comms:publication:create") == 1
    got = client.get(f"{API}/{c['id']}", headers=cast["fr"].headers).json()
    assert got["state"] == "released" and got["publication"]
