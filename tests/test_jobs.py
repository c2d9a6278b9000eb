"""The job runner: due jobs run once, leases keep concurrent runners apart, a dead runner's job is taken over."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cybercrisis import jobs
from cybercrisis.config import Settings, get_settings
from cybercrisis.db import make_engine, make_sessionmaker, unit_of_work, utcnow
from cybercrisis.notify.models import JobLease


class Calls:
    """A job that records when it ran, and can be made slow or failing."""

    def __init__(self, *, seconds: float = 0.0, fail: bool = False) -> None:
        self.at: list[datetime] = []
        self.seconds = seconds
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
        with self.lock:
            self.at.append(now)
        time.sleep(self.seconds)
        if self.fail:
            raise RuntimeError("the job broke")


def _lease(db: Session, name: str) -> JobLease:
    db.rollback()
    row = db.get(JobLease, name, populate_existing=True)
    assert row is not None
    return row


def test_due_job_runs_once_then_waits_for_its_interval(
    session_factory: sessionmaker[Session], settings: Settings, db: Session
) -> None:
    calls = Calls()
    job = [jobs.Job("tick", 60, calls)]
    t0 = utcnow()
    assert jobs.run_due(session_factory, settings, "w1", t0, jobs=job) == ["tick"]
    assert jobs.run_due(session_factory, settings, "w1", t0 + timedelta(seconds=59), jobs=job) == []
    assert jobs.run_due(session_factory, settings, "w2", t0 + timedelta(seconds=60), jobs=job) == ["tick"]
    assert calls.at == [t0, t0 + timedelta(seconds=60)]
    lease = _lease(db, "tick")
    assert (lease.locked_by, lease.locked_until, lease.last_error) == (None, None, None)
    assert lease.last_run_at == t0 + timedelta(seconds=60)
    assert lease.next_run_at == t0 + timedelta(seconds=120)


@pytest.fixture
def two_factories(settings: Settings) -> Iterator[list[sessionmaker[Session]]]:
    """Two runners as two processes would be: each with its own engine and connection pool."""
    engines = [make_engine(settings.effective_database_url) for _ in range(2)]
    yield [make_sessionmaker(e) for e in engines]
    for e in engines:
        e.dispose()


def test_two_runners_at_once_run_each_due_job_once(
    two_factories: list[sessionmaker[Session]], settings: Settings
) -> None:
    calls = {name: Calls(seconds=0.2) for name in ("a", "b", "c")}
    todo = [jobs.Job(name, 60, call) for name, call in calls.items()]
    now = utcnow()
    barrier = threading.Barrier(2)
    ran: list[list[str]] = []
    errors: list[BaseException] = []

    def runner(factory: sessionmaker[Session], worker: str) -> None:
        try:
            barrier.wait()
            ran.append(jobs.run_due(factory, settings, worker, now, jobs=todo))
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread below
            errors.append(exc)

    threads = [
        threading.Thread(target=runner, args=(factory, f"worker-{i}")) for i, factory in enumerate(two_factories)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(name for names in ran for name in names) == ["a", "b", "c"]
    assert {name: len(call.at) for name, call in calls.items()} == {"a": 1, "b": 1, "c": 1}


def test_job_held_by_a_runner_that_died_is_taken_over_when_its_lease_ends(
    session_factory: sessionmaker[Session], settings: Settings, db: Session
) -> None:
    calls = Calls()
    job = [jobs.Job("sweep", 60, calls, lease_seconds=300)]
    now = utcnow()
    jobs.run_due(session_factory, settings, "w1", now - timedelta(hours=1), jobs=job)
    # A runner claimed it and died mid-run: its lease is still on the row.
    with unit_of_work(session_factory) as s:
        s.execute(
            update(JobLease)
            .where(JobLease.name == "sweep")
            .values(locked_by="dead-runner", locked_until=now + timedelta(seconds=30), next_run_at=now)
        )
    assert jobs.run_due(session_factory, settings, "w2", now, jobs=job) == []
    assert jobs.run_due(session_factory, settings, "w2", now + timedelta(seconds=31), jobs=job) == ["sweep"]
    assert len(calls.at) == 2
    assert _lease(db, "sweep").locked_by is None


def test_late_release_by_a_runner_whose_lease_was_taken_over_changes_nothing(
    session_factory: sessionmaker[Session], settings: Settings, db: Session
) -> None:
    job = jobs.Job("sweep", 60, Calls())
    now = utcnow()
    jobs.run_due(session_factory, settings, "w1", now, jobs=[job])
    with unit_of_work(session_factory) as s:
        s.execute(update(JobLease).values(locked_by="w2", locked_until=now + timedelta(minutes=5)))
    jobs._release(session_factory, job, "w1", now, None)
    assert _lease(db, "sweep").locked_by == "w2"


def test_failing_job_keeps_its_error_and_does_not_stop_the_others(
    session_factory: sessionmaker[Session], settings: Settings, db: Session
) -> None:
    ok = Calls()
    todo = [jobs.Job("broken", 60, Calls(fail=True)), jobs.Job("fine", 60, ok)]
    now = utcnow()
    assert jobs.run_due(session_factory, settings, "w1", now, jobs=todo) == ["broken", "fine"]
    assert len(ok.at) == 1
    broken = _lease(db, "broken")
    assert broken.last_error == "RuntimeError: the job broke"
    assert (broken.locked_by, broken.next_run_at) == (None, now + timedelta(seconds=60))
    jobs.run_due(session_factory, settings, "w1", now + timedelta(seconds=60), jobs=todo[1:])
    assert _lease(db, "fine").last_error is None


def test_registered_jobs_include_delivery_reminders_and_added_ones() -> None:
    def sweep(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
        """A job that does nothing: only its registration is under test."""

    names = {job.name: job.interval_seconds for job in jobs.registered()}
    assert names["deliver_outbox"] == 5
    assert names["alert_reminders"] == 60
    jobs.register("deadline_sweep_test", 30, sweep)
    try:
        assert any(j.name == "deadline_sweep_test" and j.func is sweep for j in jobs.registered())
    finally:
        jobs._registered.pop("deadline_sweep_test")
    with pytest.raises(ValueError, match="positive"):
        jobs.register("never", 0, sweep)


def test_background_runner_runs_jobs_and_stops_with_the_app(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:
    calls = Calls()
    on = settings.model_copy(update={"jobs_enabled": True})
    with jobs.background(session_factory, on, poll_seconds=0.02, jobs=[jobs.Job("tick", 0.05, calls)]) as t:
        assert t is not None
        deadline = time.monotonic() + 10
        while len(calls.at) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert not t.is_alive()
    assert len(calls.at) >= 2


def test_background_runner_works_while_requests_hold_every_connection(settings: Settings) -> None:
    engine = make_engine(settings.effective_database_url, pool_size=1)
    held = engine.connect()  # the request pool, exhausted: a request waiting for a connection would time out
    try:
        calls = Calls()
        on = settings.model_copy(update={"jobs_enabled": True})
        with jobs.background(make_sessionmaker(engine), on, poll_seconds=0.02, jobs=[jobs.Job("tick", 0.05, calls)]):
            deadline = time.monotonic() + 10  # well inside the pool's 30 s wait for a connection
            while len(calls.at) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        assert len(calls.at) >= 2
    finally:
        held.close()
        engine.dispose()


def test_background_runner_is_off_when_jobs_are_disabled(
    session_factory: sessionmaker[Session], settings: Settings
) -> None:

    off = settings.model_copy(update={"jobs_enabled": False})
    with jobs.background(session_factory, off, jobs=[jobs.Job("tick", 1, Calls())]) as t:
        assert t is None


def test_cli_runs_the_due_jobs_once(settings: Settings, monkeypatch: pytest.MonkeyPatch, db: Session) -> None:
    from cybercrisis.cli import jobs_cmd

    monkeypatch.setenv("CYBERCRISIS_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("CYBERCRISIS_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(jobs_cmd.app, ["run", "--once"])
        assert result.exit_code == 0, result.output
        assert "deliver_outbox" in result.output
        assert "alert_reminders" in result.output
        status = CliRunner().invoke(jobs_cmd.app, ["status"])
        assert status.exit_code == 0, status.output
        assert "deliver_outbox" in status.output
        assert "outbox: empty" in status.output
    finally:
        get_settings.cache_clear()
    assert _lease(db, "deliver_outbox").last_run_at is not None


def test_a_change_to_send_brings_federation_forward_and_a_wake_during_the_round_is_kept(
    session_factory: sessionmaker[Session], settings: Settings, db: Session
) -> None:
    from cybercrisis.exchange import federation_wake
    from cybercrisis.exchange.models import Peer

    def round_during_which_something_changed(factory: sessionmaker[Session], s: Settings, now: datetime) -> None:
        with unit_of_work(factory) as session:
            federation_wake.soon(session)

    job = [jobs.Job(federation_wake.JOB, 30, round_during_which_something_changed)]
    t0 = utcnow() - timedelta(minutes=2)
    assert jobs.run_due(session_factory, settings, "w1", t0, jobs=job) == [federation_wake.JOB]
    assert _lease(db, federation_wake.JOB).next_run_at == t0 + timedelta(seconds=30)  # no peer to send to: no wake

    with unit_of_work(session_factory) as s:
        s.add(
            Peer(
                id="peer--x",
                url="https://x.example/taxii2/",
                api_root="https://x.example/taxii2/r/",
                node_id="identity--x",
                token="sealed",
                direction="push",
                keys=[],
            )
        )
    t1 = utcnow() - timedelta(seconds=1)
    assert jobs.run_due(session_factory, settings, "w1", t1, jobs=job) == [federation_wake.JOB]
    woken = _lease(db, federation_wake.JOB).next_run_at
    assert t1 < woken <= utcnow()  # due again at once, not at t1 + 30 s
    with unit_of_work(session_factory) as s:
        s.execute(update(JobLease).values(next_run_at=t1 + timedelta(seconds=30)))
        federation_wake.soon(s)  # a change outside a round: the next round is now
    assert _lease(db, federation_wake.JOB).next_run_at <= utcnow()
