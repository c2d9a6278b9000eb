"""NIS2 Art. 23 reporting clocks. Pure functions over the incident's facts, so each rule is unit-tested alone."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

EARLY_WARNING = timedelta(hours=24)
NOTIFICATION = timedelta(hours=72)
NOTIFICATION_TRUST_SERVICE = timedelta(hours=24)
FEEDBACK = timedelta(hours=24)  # the CSIRT's answer to an early warning, "where possible"
TRUST_SERVICE_TYPES = frozenset({"trust-service-provider", "qualified-trust-service-provider"})


def add_month(moment: datetime) -> datetime:
    """One calendar month later; the 31st becomes the last day of a shorter month."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def early_warning_due(aware_at: datetime) -> datetime:
    return aware_at + EARLY_WARNING


def notification_due(aware_at: datetime, entity_type: str | None) -> datetime:
    return aware_at + (NOTIFICATION_TRUST_SERVICE if entity_type in TRUST_SERVICE_TYPES else NOTIFICATION)


def feedback_due(early_warning_submitted_at: datetime | None) -> datetime | None:
    return early_warning_submitted_at + FEEDBACK if early_warning_submitted_at else None


def final_due(
    *, notification_submitted_at: datetime | None, progress_submitted_at: datetime | None, handled_at: datetime | None
) -> datetime | None:
    """One month after the notification; once a progress report replaced it, one month after handling."""
    if notification_submitted_at is None:
        return None
    if progress_submitted_at is not None:
        return add_month(handled_at) if handled_at else None
    return add_month(notification_submitted_at)
