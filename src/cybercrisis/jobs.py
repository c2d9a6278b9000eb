"""Restart-safe periodic jobs, safe with several server processes on PostgreSQL.

Each job has a row in `job_leases`: when it next runs, and who holds it now and until when. A runner claims a
due job by taking its lease (PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED, then the update; SQLite: one
conditional UPDATE in an IMMEDIATE transaction), commits the claim, runs the job, then releases it and sets the
next run. A runner that dies keeps its lease only until `locked_until`; another runner then takes the job.
Jobs take the session factory, never ORM objects, and open their own transactions (db.unit_of_work).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Insert, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import wiring
from cybercrisis.audit.service import request_id_var
from cybercrisis.config import Settings
from cybercrisis.db import make_sessionmaker, side_engine, unit_of_work, utcnow
from cybercrisis.notify.models import JobLease

log = logging.getLogger(__name__)

JobFunc = Callable[[sessionmaker[Session], Settings, datetime], object]  # the result is ignored


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    interval_seconds: float
    func: JobFunc
    # Longer than one run takes: a runner that died holds the job this long at most.
    lease_seconds: float = 300.0


DELIVERY_BUDGET_SECONDS = 30.0  # well inside the job's lease
JOB_CONNECTIONS = 9  # the runner's thread and federation's peers in parallel (exchange.federation.MAX_PARALLEL)


def deliver_outbox(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """Send due notifications (e-mail, webhooks), batch after batch until none is due or the budget is spent."""
    from cybercrisis.notify.deliver import deliver_due

    started = time.monotonic()
    while time.monotonic() - started < DELIVERY_BUDGET_SECONDS:
        if deliver_due(factory, settings=settings, now=now).claimed == 0:
            return


def alert_reminders(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """Remind, then escalate to 24/7 contacts, recipients that have not acknowledged an alert."""
    from cybercrisis.alerts.tasks import remind_and_escalate

    with unit_of_work(factory) as session:
        remind_and_escalate(session, now=now)


def incident_deadlines(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """Remind of NIS2 reports coming due and flag overdue ones."""
    from cybercrisis.incidents.tasks import sweep_deadlines

    sweep_deadlines(factory, settings, now)


def crisis_reminders(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """Remind owners of crisis actions coming due, flag overdue ones, and ask for assistance summary reports."""
    from cybercrisis.assistance.tasks import remind_summaries
    from cybercrisis.crises.tasks import remind_actions

    with unit_of_work(factory) as session:
        remind_actions(session, now=now)
    with unit_of_work(factory) as session:
        remind_summaries(session, now=now, settings=settings)


def release_communications(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """Release approved statements whose embargo has passed (exactly once, whichever process gets there)."""
    from cybercrisis.comms.tasks import release_due

    release_due(factory, settings, now)


def sign_exchange(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """Sign the STIX versions this node originated (imports, our own objects as STIX) for federation."""
    from cybercrisis.exchange.signer import sign_pending

    sign_pending(factory, settings)


def federation_sync(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """One sync round with every enabled peer node (each in its own thread, each with its own timeout)."""
    from cybercrisis.exchange.federation import sync_all

    sync_all(factory, settings)


def deliver_answers(factory: sessionmaker[Session], settings: Settings, now: datetime) -> None:
    """Send the acts on replicas (answers) to their origin nodes, and record what became of them (ADR 0013)."""
    from cybercrisis.exchange.answers_out import deliver_due

    deliver_due(factory, settings, now)


def _builtin() -> list[Job]:
    return [
        # Message-level claims keep concurrent deliveries apart, so a short job lease is safe here.
        Job("deliver_outbox", 5, deliver_outbox, lease_seconds=60),
        Job("alert_reminders", 60, alert_reminders, lease_seconds=120),
        Job("incident_deadlines", 60, incident_deadlines, lease_seconds=300),
        Job("crisis_reminders", 60, crisis_reminders, lease_seconds=300),
        Job("release_communications", 5, release_communications, lease_seconds=60),
        Job("sign_exchange", 5, sign_exchange, lease_seconds=120),
        Job("federation_sync", 30, federation_sync, lease_seconds=600),
        Job("deliver_answers", 2, deliver_answers, lease_seconds=120),
    ]


_registered: dict[str, Job] = {}


def register(name: str, interval_seconds: float, func: JobFunc, *, lease_seconds: float = 300.0) -> None:
    """Add a periodic job, e.g. the incident deadline sweep; registering a name again replaces it.

    `func(factory, settings, now)` opens its own transactions and must be safe to run again after a crash.
    """
    if interval_seconds <= 0 or lease_seconds <= 0:
        raise ValueError("a job's interval and lease are positive")
    _registered[name] = Job(name, interval_seconds, func, lease_seconds)


def registered() -> list[Job]:
    jobs = {job.name: job for job in _builtin()}
    jobs.update(_registered)
    return list(jobs.values())


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_due(
    factory: sessionmaker[Session],
    settings: Settings,
    worker_id: str,
    now: datetime | None = None,
    *,
    jobs: Iterable[Job] | None = None,
) -> list[str]:
    """Run once each job that is due and not held by another runner; returns the names run.

    A job that raises is logged and its error kept in `job_leases.last_error`; it runs again at its next time.
    """
    wiring.install()  # a runner started without the app or the CLI still publishes what its jobs change
    now = now or utcnow()
    todo = list(jobs) if jobs is not None else registered()
    if not todo:
        return []
    _ensure_rows(factory, [job.name for job in todo], now)
    due = _due(factory, [job.name for job in todo], now)
    ran: list[str] = []
    for job in todo:
        if job.name not in due or not _claim(factory, job, worker_id, now):
            continue
        error = None
        # Audit entries written by the job say which run wrote them, as a request id does for the API.
        token = request_id_var.set(f"job-{job.name}-{uuid.uuid4().hex[:12]}"[:64])
        try:
            job.func(factory, settings, now)
        except Exception as exc:  # one failing job must not stop the others
            log.exception("job %s failed", job.name)
            error = _error_text(exc)
        finally:
            request_id_var.reset(token)
        _release(factory, job, worker_id, now, error)
        ran.append(job.name)
    return ran


def _ensure_rows(factory: sessionmaker[Session], names: list[str], now: datetime) -> None:
    with unit_of_work(factory, write=False) as session:
        known = set(session.scalars(select(JobLease.name).where(JobLease.name.in_(names))))
    missing = [n for n in names if n not in known]
    if not missing:
        return
    with unit_of_work(factory) as session:
        rows = [{"name": n, "next_run_at": now} for n in missing]
        stmt: Insert
        if session.get_bind().dialect.name == "postgresql":
            stmt = postgresql.insert(JobLease).values(rows).on_conflict_do_nothing(index_elements=["name"])
        else:
            stmt = sqlite.insert(JobLease).values(rows).on_conflict_do_nothing(index_elements=["name"])
        session.execute(stmt)


def _is_due(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (JobLease.next_run_at <= now, or_(JobLease.locked_until.is_(None), JobLease.locked_until < now))


def _due(factory: sessionmaker[Session], names: list[str], now: datetime) -> set[str]:
    """A cheap read first, so that idle polls take no write lock."""
    with unit_of_work(factory, write=False) as session:
        return set(session.scalars(select(JobLease.name).where(JobLease.name.in_(names), *_is_due(now))))


def _claim(factory: sessionmaker[Session], job: Job, worker_id: str, now: datetime) -> bool:
    lease = {"locked_by": worker_id, "locked_until": now + timedelta(seconds=job.lease_seconds)}
    with unit_of_work(factory) as session:
        if session.get_bind().dialect.name == "postgresql":
            free = session.scalars(
                select(JobLease.name).where(JobLease.name == job.name, *_is_due(now)).with_for_update(skip_locked=True)
            ).first()
            if free is None:
                return False
            session.execute(
                update(JobLease)
                .where(JobLease.name == job.name)
                .values(**lease)
                .execution_options(synchronize_session=False)
            )
            return True
        # SQLite: the transaction began IMMEDIATE; the WHERE clause decides, the row count tells.
        result = session.execute(
            update(JobLease)
            .where(JobLease.name == job.name, *_is_due(now))
            .values(**lease)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _error_text(exc: Exception) -> str:
    """What `jobs status` shows of a failure. A database error's text carries its statement and parameters, the
    content of what was being written (titles of RED objects included), and so may the driver's own message
    (PostgreSQL's "Key (id)=(…)"), while the operator reads CLEAR only: for it, the kinds of failure; the full
    error is in the server log."""
    if isinstance(exc, StatementError):
        return f"{type(exc).__name__}: {type(exc.orig).__name__} (statement and parameters in the server log)"
    return f"{type(exc).__name__}: {exc}"[:1000]


def _release(factory: sessionmaker[Session], job: Job, worker_id: str, now: datetime, error: str | None) -> None:
    with unit_of_work(factory) as session:
        session.execute(
            update(JobLease)
            # Only while the lease is still ours: a runner whose lease ran out changes nothing.
            .where(JobLease.name == job.name, JobLease.locked_by == worker_id)
            .values(
                locked_by=None,
                locked_until=None,
                last_run_at=now,
                # A wake during the run (exchange/federation_wake.py) set a time after `now`: keep it, so the change
                # that woke the job is not left to the next interval.
                next_run_at=case(
                    (JobLease.next_run_at > now, JobLease.next_run_at),
                    else_=now + timedelta(seconds=job.interval_seconds),
                ),
                last_error=error,
            )
            .execution_options(synchronize_session=False)
        )


def run_forever(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    stop: threading.Event,
    worker_id: str | None = None,
    poll_seconds: float = 1.0,
    jobs: Iterable[Job] | None = None,
) -> None:
    """Run due jobs until `stop` is set; a database outage is logged and waited out."""
    worker = worker_id or default_worker_id()
    todo = list(jobs) if jobs is not None else None
    failures = 0
    log.info("job runner %s started", worker)
    while not stop.is_set():
        try:
            run_due(factory, settings, worker, jobs=todo)
        except Exception:  # e.g. the database is down; keep trying
            failures += 1
            log.exception("job runner %s: a pass failed (%s in a row)", worker, failures)
            stop.wait(min(poll_seconds * 2**failures, 60.0))
            continue
        failures = 0
        stop.wait(poll_seconds)
    log.info("job runner %s stopped", worker)


@contextmanager
def background(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    poll_seconds: float = 1.0,
    jobs: Iterable[Job] | None = None,
) -> Iterator[threading.Thread | None]:
    """Run the jobs in a thread for the life of the block (the app's lifespan); off when jobs_enabled is false.

    They run on a pool of their own (db.side_engine), federation's peer threads included: a busy server cannot
    keep them from the database, nor they a request.
    """
    if not settings.jobs_enabled:
        yield None
        return
    factory = make_sessionmaker(side_engine(factory.kw["bind"], "jobs", pool_size=JOB_CONNECTIONS))
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever,
        args=(factory, settings),
        kwargs={"stop": stop, "poll_seconds": poll_seconds, "jobs": jobs},
        name="cybercrisis-jobs",
        daemon=True,
    )
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=60)
