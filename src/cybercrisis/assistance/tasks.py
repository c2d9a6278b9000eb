"""Periodic work of mutual assistance: ask requesters for the summary report that is coming due (jobs.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cybercrisis.access.tlp import TLP
from cybercrisis.assistance.models import AssistanceRequest, RequestState
from cybercrisis.assistance.service import REMIND_BEFORE, SUMMARY_DUE
from cybercrisis.audit import service as audit
from cybercrisis.notify.service import notify_readers


def remind_summaries(session: Session, *, now: datetime) -> int:
    """Remind each requester once, in the caller's transaction, that its summary report is due within
    REMIND_BEFORE (7 days) or overdue; returns how many requests were reminded.

    The mark is a conditional UPDATE, so a second sweep (or a concurrent one) reminds nobody twice, and the
    outbox's dedupe key makes a re-run after a crash queue nothing new.
    """
    due = list(
        session.scalars(
            select(AssistanceRequest)
            .where(
                AssistanceRequest.state == RequestState.SUPPORT_ENDED.value,
                AssistanceRequest.summary_due_at.is_not(None),
                AssistanceRequest.summary_due_at <= now + REMIND_BEFORE,
                AssistanceRequest.summary_reminded_at.is_(None),
            )
            .order_by(AssistanceRequest.summary_due_at, AssistanceRequest.id)
        )
    )
    reminded = 0
    for req in due:
        # Core UPDATE: marking a reminder is not an edit and does not bump the request's version.
        result = session.execute(
            update(AssistanceRequest)
            .where(AssistanceRequest.id == req.id, AssistanceRequest.summary_reminded_at.is_(None))
            .values(summary_reminded_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        assert req.summary_due_at is not None  # selected above
        overdue = req.summary_due_at < now
        when = req.summary_due_at.date().isoformat()
        audit.record(session, actor=None, tag=SUMMARY_DUE, object_id=req.id,
                     summary={"summary_due_at": req.summary_due_at.isoformat(), "overdue": overdue})  # fmt: skip
        label = TLP(req.tlp).label
        notify_readers(
            session,
            obj=req,
            event=SUMMARY_DUE,
            org_ids=[req.owner_org_id],
            subject=f"[{label}] Assistance summary report {'overdue since' if overdue else 'due on'} {when}",
            body=(
                f"The support for request {req.id} ended; its summary report is "
                f"{'overdue since' if overdue else 'due on'} {when} (one month after support ended).\n"
                f"Record it with POST /api/v1/assistance-requests/{req.id}/summary.\n"
            ),
            payload={"request": req.id, "summary_due_at": req.summary_due_at.isoformat(), "overdue": overdue},
            dedupe=f"{SUMMARY_DUE}:{req.id}",
        )
        reminded += 1
    return reminded
