"""Bring a periodic job forward to now, in the transaction of the change that gives it work (jobs.py).

The job runner polls every second; a job woken while it runs runs again right after (`jobs._release` keeps a wake
that came during the run). Used where waiting for the job's interval would be felt: federation after a change to
send (exchange/federation_wake.py), answers to other nodes once queued (answers/service.py).
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from cybercrisis.db import utcnow
from cybercrisis.notify.models import JobLease


def wake(session: Session, job: str) -> None:
    """Make `job` due now (its row exists once a runner has seen it; before that, it is due anyway)."""
    session.execute(
        update(JobLease)
        .where(JobLease.name == job)
        .values(next_run_at=utcnow())
        .execution_options(synchronize_session=False)
    )
