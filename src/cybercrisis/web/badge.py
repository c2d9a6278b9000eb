"""The navigation's pending-alert badge, counted once per reader until an alert changes (cybercrisis.cache).

Every page shows it, so counting it per request was a query (with the read policy) on every page view: under
load about a sixth of a cached crisis room's CPU (py-spy, issue 14). An alert that arrives, is acknowledged, or is
shared or narrowed writes an audit entry naming it, and the change feed drops the counts it reaches before the
next answer from this process (other processes: as soon as the feed hears of it; see `cybercrisis.cache`).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.alerts.service import pending_count_query
from cybercrisis.audit.models import AuditEvent
from cybercrisis.cache import Change, ChangeFeed, DependentCache, Depends, reader_key


def _depends(reader: Principal) -> Depends:
    def affected(change: Change) -> bool:
        # Sent to, acknowledged by, or re-shared with the reader's organisation: a change to an alert it can read
        # after it, or could read before it (a narrowed alert `reaches` everyone).
        return change.kind == "alert" and change.reaches(reader)

    return affected


class AlertBadge:
    """Per process: reader -> alerts its organisation has not acknowledged (`alerts.service.pending_count_query`)."""

    def __init__(self, feed: ChangeFeed, size: int = 1024, ttl: float = 30.0) -> None:
        self._cache: DependentCache[int] = DependentCache(feed, size, ttl)

    @staticmethod
    def _key(reader: Principal) -> tuple[object, ...]:
        return ("alert-badge", *reader_key(reader))

    def cached(self, reader: Principal) -> int | None:
        """The count when it is known and no change may be unread, without I/O (for async dependencies)."""
        if reader.org_id is None:
            return 0
        found, value = self._cache.peek(self._key(reader))
        return value if found else None

    def count(self, session: Session, reader: Principal) -> int:
        """The count, from the cache or counted when missing or reached by a change: one SELECT, which reads the
        audit head it reflects with it (the page chrome stays within two: this and the session's)."""
        if reader.org_id is None:
            return 0

        def compute() -> tuple[int, Depends, int]:
            head = select(func.max(AuditEvent.seq)).scalar_subquery()
            pending, as_of = session.execute(select(pending_count_query(reader).scalar_subquery(), head)).one()
            return pending or 0, _depends(reader), as_of or 0

        return self._cache.get_as_of(self._key(reader), compute)
