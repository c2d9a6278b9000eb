"""Reminders for crisis actions: one before the due time, one when overdue (run by the job runner)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cybercrisis.crises.audience import notify
from cybercrisis.crises.models import Action, ActionStatus, Crisis, CrisisStatus

DUE_SOON = timedelta(hours=2)
BATCH = 500


def remind_actions(session: Session, *, now: datetime) -> int:
    """Remind each open action's owner once when it is due within two hours and once when it is overdue.

    Each reminder is stamped on the action and keyed in the outbox, so a sweep that runs twice, or after a crash,
    sends nothing twice. Returns the number of reminders queued.
    """
    open_states = (ActionStatus.OPEN.value, ActionStatus.IN_PROGRESS.value)
    rows = session.execute(
        select(Action, Crisis)
        .join(Crisis, Crisis.id == Action.crisis_id)
        .where(
            Action.status.in_(open_states),
            Action.due_at.is_not(None),
            Action.due_at <= now + DUE_SOON,
            Action.overdue_notified_at.is_(None),
            Crisis.status == CrisisStatus.OPEN.value,
            Crisis.origin_node.is_(None),  # a replica's origin reminds the assignees (ADR 0013)
        )
        .order_by(Action.due_at)
        .limit(BATCH)
    ).all()
    sent = 0
    for action, crisis in rows:
        assert action.due_at is not None
        # Stamped with a plain UPDATE: a reminder is not an edit, so it must not make a user's next edit stale.
        if action.due_at <= now:
            stamp, what, key = {"overdue_notified_at": now}, "is overdue", "overdue"
        elif action.reminded_at is None:
            stamp, what, key = {"reminded_at": now}, "is due soon", "due-soon"
        else:
            continue
        session.execute(
            update(Action).where(Action.id == action.id).values(**stamp).execution_options(synchronize_session=False)
        )
        notify(
            session,
            crisis,
            event=f"crises:action:{key}",
            subject=f"Action {what}: {action.title}",
            body=f"In crisis '{crisis.title}', the action '{action.title}' {what} "
            f"(due {action.due_at:%Y-%m-%d %H:%M} UTC).",
            object_id=action.id,
            dedupe=f"action-{key}:{action.id}:{action.due_at.isoformat()}",
            orgs=[action.assignee_org_id],
        )
        sent += 1
    return sent
