"""Mutual assistance in words on the pages: its audit tags, and the timeline of a request or catalogue entry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.assistance import service
from cybercrisis.web.timeline import Event, timeline_rows

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

EVENT_LABELS = {
    service.REQUEST_CREATE: "Request sent",
    service.REQUEST_WITHDRAW: "Request withdrawn",
    service.REQUEST_SUPPORT_ENDED: "Support ended",
    service.REQUEST_SUMMARY: "Summary report recorded",
    service.SUMMARY_DUE: "Summary report reminder sent",
    service.OFFER_CREATE: "Offer made",
    service.OFFER_ACCEPT: "Offer accepted",
    service.OFFER_DECLINE: "Offer declined",
    service.OFFER_WITHDRAW: "Offer withdrawn",
    service.CAPABILITY_CREATE: "Entry published",
    service.CAPABILITY_UPDATE: "Entry changed",
    service.CAPABILITY_DELETE: "Entry deleted",
}


def shown(value: object, seen: set[str]) -> object:
    """An audit summary value in words: a crisis, incident or catalogue entry the reader may not see is not shown,
    not even as an id; yes/no for flags; times in UTC as the rest of the page shows them."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(("crisis--", "incident--", "capability--")) and value not in seen:
        return "one you may not see"
    if isinstance(value, str) and _ISO_TIME.match(value):
        try:
            return f"{datetime.fromisoformat(value).astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        except ValueError:
            return value
    if isinstance(value, list):
        return [shown(v, seen) for v in value]
    return value


def timeline(
    db: Session, principal: Principal, events: Iterable[Event], *, page_id: str, names: Mapping[str, str]
) -> dict[str, Any]:
    """The page's timeline: the page's own id names the page the reader is on; `names` are the objects it may see."""
    seen = set(names)
    return timeline_rows(
        db,
        principal,
        events,
        labels=EVENT_LABELS,
        omit=lambda _key, value: value is None or value == page_id,
        hide=lambda value: shown(value, seen),
        names=names,
    )
