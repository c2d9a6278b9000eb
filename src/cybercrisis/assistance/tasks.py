"""Periodic work of mutual assistance: ask requesters for the summary report that is coming due (jobs.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cybercrisis.access.tlp import TLP
from cybercrisis.assistance.models import AssistanceRequest, RequestState
from cybercrisis.assistance.service import REMIND_BEFORE, SUMMARY_DUE
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.notify.service import notify_readers


def remind_summaries(session: Session, *, now: datetime, settings: Settings | None = None) -> int:
    """Remind each requester once, in the caller's transaction, that its summary report is due within
    settings.assistance_remind_days (the deployment's rule; REMIND_BEFORE without settings) or overdue; returns how
    many requests were reminded. The due date itself was set when support ended, from
    settings.reserve_summary_months (the deployment's rule).

    The mark is a conditional UPDATE, so a second sweep (or a concurrent one) reminds nobody twice, and the
    outbox's dedupe key makes a re-run after a crash queue nothing new.
    """
    remind_before = timedelta(days=settings.assistance_remind_days) if settings else REMIND_BEFORE
    due = list(
        session.scalars(
            select(AssistanceRequest)
            .where(
                AssistanceRequest.state == RequestState.SUPPORT_ENDED.value,
                AssistanceRequest.summary_due_at.is_not(None),
                AssistanceRequest.summary_due_at <= now + remind_before,
                AssistanceRequest.summary_reminded_at.is_(None),
                AssistanceRequest.origin_node.is_(None),  # a replica's origin reminds its requester (ADR 0013)
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
        audit.record(
            session,
            actor=None,
            tag=SUMMARY_DUE,
            object_id=req.id,
            summary={"summary_due_at": req.summary_due_at.isoformat(), "overdue": overdue},
        )
        label = TLP(req.tlp).label
        notify_readers(
            session,
            obj=req,
            event=SUMMARY_DUE,
            org_ids=[req.owner_org_id],
            subject=f"[{label}] Assistance summary report {'overdue since' if overdue else 'due on'} {when}",
            body=(
                f"The support for request {req.id} ended; its summary report is "
                f"{'overdue since' if overdue else 'due on'} {when} (the service provided, results achieved, lessons "
                "learned; the due date is this deployment's rule).\n"
                f"Record it with POST /api/v1/assistance-requests/{req.id}/summary.\n"
            ),
            payload={"request": req.id, "summary_due_at": req.summary_due_at.isoformat(), "overdue": overdue},
            dedupe=f"{SUMMARY_DUE}:{req.id}",
        )
        reminded += 1
    return reminded
