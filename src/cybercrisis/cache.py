"""Per-process caches keyed by the audit head: any change anywhere moves the head, so a cached value is never
served after a change was committed (ADR 0006). Used by the live picture and the crisis room.

One request computes a missing entry while the others for the same key wait for it (no stampede after a
change), and an entry's age counts from when it was computed: time-driven changes (a deadline passing) show
within `ttl` seconds.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.audit.models import AuditEvent

V = TypeVar("V")


def audit_head(session: Session) -> int:
    return session.execute(select(func.max(AuditEvent.seq))).scalar_one() or 0


def reader_key(reader: Principal) -> tuple[Hashable, ...]:
    """What the access layer and the permission checks of a page depend on."""
    return (reader.user_id, reader.org_id, tuple(sorted(reader.communities)), tuple(sorted(reader.permissions)))


class HeadCache(Generic[V]):
    def __init__(self, size: int, ttl: float) -> None:
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}
        self._size, self._ttl = size, ttl

    def _fresh(self, key: Hashable) -> tuple[bool, V | None]:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and time.monotonic() - hit[0] < self._ttl:
                self._items.move_to_end(key)
                return True, hit[1]
        return False, None

    def get(self, key: Hashable, compute: Callable[[], V]) -> V:
        """The value for `key` (which must include the audit head), computing it once if it is missing."""
        found, value = self._fresh(key)
        if found:
            return value  # type: ignore[return-value]  # found means a stored V
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            found, value = self._fresh(key)  # computed by another request while this one waited
            if found:
                return value  # type: ignore[return-value]
            try:
                computed = compute()
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            with self._lock:
                self._items[key] = (time.monotonic(), computed)
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
            return computed
