"""Reminders and escalation of unacknowledged alerts, each once per recipient; run by the job runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.alerts.service import ESCALATE, REMIND, notice, org_name, payload
from cybercrisis.audit import service as audit
from cybercrisis.notify.service import ROUND_THE_CLOCK_KINDS, notify_readers


@dataclass(slots=True)
class SweepStats:
    reminded: int = 0
    escalated: int = 0


def remind_and_escalate(session: Session, *, now: datetime) -> SweepStats:
    """Remind each silent recipient once, and later escalate once to its 24/7 contacts.

    A recipient whose escalation is already due when first swept is escalated without a reminder first.
    Candidates are the silent, not yet escalated recipients: delays are capped (a week), so they stay few.
    Each step is a conditional update, so a sweep run twice (or by two runners) acts once; its messages are
    deduplicated in the outbox too.
    """
    stats = SweepStats()
    rows = session.execute(
        select(AlertRecipient.alert_id, AlertRecipient.org_id, AlertRecipient.reminded_at, Alert)
        .join(Alert, Alert.id == AlertRecipient.alert_id)
        .where(
            AlertRecipient.acknowledged_at.is_(None),
            AlertRecipient.escalated_at.is_(None),
            Alert.origin_node.is_(None),  # a replica's origin reminds its recipients (ADR 0013)
            # The shortest reminder delay is a minute: older alerts only are candidates.
            Alert.created_at <= now - timedelta(minutes=1),
        )
        .order_by(Alert.created_at, AlertRecipient.org_id)
    ).all()
    names: dict[str, str] = {}
    for alert_id, org_id, reminded_at, alert in rows:
        age = now - alert.created_at
        if age >= timedelta(minutes=alert.escalate_after_minutes):
            if _mark(session, alert_id, org_id, AlertRecipient.escalated_at, now):
                _escalate(session, alert, org_id, names)
                stats.escalated += 1
            continue
        if reminded_at is not None or age < timedelta(minutes=alert.remind_after_minutes):
            continue
        if _mark(session, alert_id, org_id, AlertRecipient.reminded_at, now):
            _remind(session, alert, org_id, names)
            stats.reminded += 1
    return stats


def _mark(
    session: Session, alert_id: str, org_id: str, column: InstrumentedAttribute[datetime | None], now: datetime
) -> bool:
    """Set the step's time if it is still unset and the recipient still silent; False if someone was first."""
    result = session.execute(
        update(AlertRecipient)
        .where(
            and_(
                AlertRecipient.alert_id == alert_id,
                AlertRecipient.org_id == org_id,
                AlertRecipient.acknowledged_at.is_(None),
                column.is_(None),
            )
        )
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _sender_name(session: Session, alert: Alert, cache: dict[str, str]) -> str:
    if alert.owner_org_id not in cache:
        cache[alert.owner_org_id] = org_name(session, alert.owner_org_id)
    return cache[alert.owner_org_id]


def _remind(session: Session, alert: Alert, org_id: str, names: dict[str, str]) -> None:
    audit.record(session, actor=None, tag=REMIND, object_id=alert.id, summary={"org": org_id})
    subject, text = notice(alert, _sender_name(session, alert, names), intro="Reminder: unacknowledged early warning")
    notify_readers(
        session,
        obj=alert,
        event=REMIND,
        org_ids=[org_id],
        subject=subject,
        body=text,
        payload=payload(alert),
        dedupe=f"{REMIND}:{alert.id}:{org_id}",
    )


def _escalate(session: Session, alert: Alert, org_id: str, names: dict[str, str]) -> None:
    audit.record(session, actor=None, tag=ESCALATE, object_id=alert.id, summary={"org": org_id})
    subject, text = notice(
        alert, _sender_name(session, alert, names), intro="ESCALATION: early warning still unacknowledged"
    )
    notify_readers(
        session,
        obj=alert,
        event=ESCALATE,
        org_ids=[org_id],
        subject=subject,
        body=text,
        payload=payload(alert),
        dedupe=f"{ESCALATE}:{alert.id}:{org_id}",
        contact_kinds=ROUND_THE_CLOCK_KINDS,
    )
