"""The communications a reader may see: one query for the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.comms.models import CommState, Communication
from cybercrisis.errors import InvalidInput
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor


@dataclass(frozen=True, slots=True)
class CommunicationFilters:
    crisis: str | None = None
    state: str | None = None
    # The API lists the newest first; the pages the most recently changed first (what moved since the last visit).
    order: Literal["created", "modified"] = "created"


def list_communications(
    session: Session, *, principal: Principal, filters: CommunicationFilters, cursor: str | None, limit: int
) -> Page[Communication]:
    """The communications `principal` may read, newest (or most recently changed) first, keyset-paginated."""
    column = Communication.created_at if filters.order == "created" else Communication.modified_at
    q = select(Communication).where(read_filter(principal, Communication))
    if filters.crisis:
        q = q.where(Communication.crisis_id == filters.crisis)
    if filters.state:
        valid = [s.value for s in CommState]
        if filters.state not in valid:
            message = f"'{filters.state[:20]}' is not a state; choose one of {', '.join(valid)}"
            raise InvalidInput(message, errors=[{"field": "state", "message": message}])
        q = q.where(Communication.state == filters.state)
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(column, Communication.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(q.order_by(column.desc(), Communication.id.desc()).limit(limit + 1)))
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        mark = last.created_at if filters.order == "created" else last.modified_at
        nxt = encode_cursor([mark.isoformat(), last.id])
    return Page(items=rows[:limit], next=nxt)
