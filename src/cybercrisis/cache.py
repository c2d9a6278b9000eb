"""Per-process caches of what one reader sees (the live picture, the crisis room), kept right by what changed.

An entry is dropped when a change that can affect it is committed, not on any write: each entry carries a
predicate over `Change`s, and one `ChangeFeed` per process reads the audit chain (every change that matters
writes an entry, ADR 0006) and shows each change to every cache. A change says who may read its object after it
(`facts`) and whether some reader may have lost sight of it (`narrowed`: its marking or shares changed, or the
feed does not know them from before); an entry of a reader who could not read the object before or after is kept.

Serving a hit costs no query: the feed reads the chain only when a commit in this process (the after-commit hook
below) or PostgreSQL NOTIFY from another process says something was written, and, as a safety net, when it has
not looked for `check_seconds` (other processes on SQLite: the CLI). One request computes a missing entry while
the others for the same key wait for it (no stampede after a change); an entry's age counts from when it was
computed, so time-driven changes (a deadline passing) show within `ttl` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import ShareEntry, can_read
from cybercrisis.access.principal import Principal
from cybercrisis.audit.models import AuditEvent
from cybercrisis.audit.service import NOTIFY_CHANNEL, WROTE_KEY

log = logging.getLogger(__name__)
V = TypeVar("V")

BATCH = 1000
BACKLOG = 20_000  # more unread entries than this (a bulk import): drop every entry rather than sift them
KNOWN_FACTS = 100_000  # objects whose access facts the feed remembers, to tell a content change from a narrowing


def audit_head(session: Session) -> int:
    return session.execute(select(func.max(AuditEvent.seq))).scalar_one() or 0


def reader_key(reader: Principal) -> tuple[Hashable, ...]:
    """What the access layer and the permission checks of a page depend on (a token reads within its scopes)."""
    return (
        reader.user_id,
        reader.org_id,
        tuple(sorted(reader.communities)),
        tuple(sorted(reader.permissions)),
        reader.token_id,
    )


def _changed_again(session: Session, rows: Sequence[Any]) -> set[str]:
    """Objects of `rows` with a later entry in the chain: the facts the feed reads now are those after it."""
    last: dict[str, int] = {}
    for row in rows:
        if row.object_id:
            last[row.object_id] = row.seq
    again = {row.object_id for row in rows if row.object_id and row.seq < last[row.object_id]}
    if last:
        later = select(AuditEvent.object_id).where(AuditEvent.seq > rows[-1].seq, AuditEvent.object_id.in_(last))
        again.update(i for i in session.scalars(later.distinct()) if i)
    return again


@dataclass(frozen=True, slots=True)
class Facts:
    """Who may read an object: what `access.policy.can_read` takes."""

    tlp: str
    owner_org_id: str
    shares: tuple[ShareEntry, ...]
    scope: Permission | None


@dataclass(frozen=True, slots=True)
class Change:
    """One audit entry, as the caches see it."""

    seq: int
    object_id: str | None
    kind: str  # the type part of the object id
    facts: Facts | None = None  # None: not an object the access layer reads, or gone
    parents: frozenset[str] = frozenset()  # the crisis, incident or request it belongs to
    narrowed: bool = True  # some reader may have lost sight of it
    everything: bool = False  # of a kind no cache can place (organisations, unknown kinds): affects every entry
    subject: str | None = None  # the object whose facts these are, when not this one (a NIS2 report: its incident)
    created: bool = False  # the entry records the object's creation: nobody could read it before

    def reaches(self, reader: Principal) -> bool:
        """Whether what `reader` sees of this object may differ because of the change."""
        if self.narrowed or self.facts is None:
            return True
        f = self.facts
        return can_read(reader, tlp=f.tlp, owner_org_id=f.owner_org_id, shares=f.shares, scope=f.scope)


Depends = Callable[[Change], bool]  # whether a change can affect an entry
AuditRows = Sequence[Row[int, str, str | None]]  # seq, tag, object_id
Describe = Callable[[Session, AuditRows], list[Change]]


class ChangeFeed:
    """Per process: reads the audit chain once for all caches when something was written, and tells them."""

    def __init__(self, factory: sessionmaker[Session], describe: Describe, *, check_seconds: float = 1.0) -> None:
        self._factory = factory
        self._describe = describe
        self._check = check_seconds
        self._lock = threading.RLock()
        self._dirty = True
        self._checked = 0.0
        self.seen = -1  # the last seq shown to the caches; -1: not read yet
        self._floor = -1  # `_recent` holds every change after this seq
        self._recent: deque[Change] = deque(maxlen=BATCH * 4)
        self._facts: OrderedDict[str, Facts | None] = OrderedDict()
        self._caches: weakref.WeakSet[DependentCache[Any]] = weakref.WeakSet()
        self._listener: threading.Thread | None = None
        self._listening = False
        self._stopping = threading.Event()
        _feeds.add(self)

    def touch(self) -> None:
        """Thread-safe: something was committed; read the chain before the next answer from a cache."""
        self._dirty = True

    @property
    def notified(self) -> bool:
        """Whether other processes' commits reach this feed as they happen (PostgreSQL with LISTEN up)."""
        return self._listening

    def close(self) -> None:
        """Stop listening; the feed then reads the chain before every answer (it hears of nothing any more)."""
        self._stopping.set()
        self._listening = False
        self._check = 0.0

    def is_current(self) -> bool:
        """Whether `current()` would read nothing now: an async caller may then answer from a cache without I/O.

        Not while another thread reads the chain: it clears `_dirty` before it has shown the caches what it reads.
        """
        if not self._lock.acquire(blocking=False):
            return False
        try:
            return not self._dirty and time.monotonic() - self._checked < self._check
        finally:
            self._lock.release()

    def current(self) -> None:
        """Show the caches every change committed so far, when something may have been: no query otherwise."""
        if not self._dirty and time.monotonic() - self._checked < self._check:
            return
        self._start_listener()
        with self._lock:
            if not self._dirty and time.monotonic() - self._checked < self._check:
                return  # another request caught up while this one waited
            # Cleared before reading: a commit while we read marks the feed again. Without a live LISTEN on
            # PostgreSQL, other processes' writes are only found by reading: stay dirty.
            self._dirty = not self._listening and self._listener is not None
            self._checked = time.monotonic()
            try:
                self._catch_up()
            except Exception:
                self._dirty = True
                raise

    def _catch_up(self) -> None:
        with self._factory() as session:
            if session.get_bind().dialect.name == "postgresql":
                # One snapshot for the entries and the facts of their objects (read committed would mix two).
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            if self.seen < 0:
                self.seen = self._floor = audit_head(session)
                return
            backlog = audit_head(session) - self.seen
            if backlog > BACKLOG:
                log.info("caches: %s changes at once; every cached entry dropped", backlog)
                for cache in list(self._caches):
                    cache.clear()
                self.seen = self._floor = self.seen + backlog
                self._recent.clear()
                return
            while True:
                rows = session.execute(
                    select(AuditEvent.seq, AuditEvent.tag, AuditEvent.object_id)
                    .where(AuditEvent.seq > self.seen)
                    .order_by(AuditEvent.seq)
                    .limit(BATCH)
                ).all()
                if not rows:
                    return
                again = _changed_again(session, rows)
                for change in self._describe(session, rows):
                    judged = self._judge(change)
                    if (judged.object_id in again or judged.subject in again) and not judged.narrowed:
                        # Its facts were read after a later change of it, so they may not be the facts this entry
                        # left: a reader may have lost sight of it in between (created GREEN, then made RED).
                        judged = replace(judged, narrowed=True)
                    self._show(judged)
                self.seen = rows[-1].seq
                if len(rows) < BATCH:
                    return

    def _judge(self, change: Change) -> Change:
        """Whether readers may have lost sight of the object: its facts changed, or were not known before."""
        if change.object_id is None or change.facts is None:
            return change
        subject = change.subject or change.object_id
        before = self._facts.pop(subject, None)
        self._facts[subject] = change.facts
        while len(self._facts) > KNOWN_FACTS:
            self._facts.popitem(last=False)
        return replace(change, narrowed=not (before is None and change.created) and before != change.facts)

    def _show(self, change: Change) -> None:
        for cache in list(self._caches):
            cache.invalidate(change)
        if len(self._recent) == self._recent.maxlen:
            self._floor = self._recent[0].seq
        self._recent.append(change)

    def unaffected_since(self, as_of: int, depends: Depends) -> bool:
        """Whether no change after `as_of` already shown to the caches affects an entry (call under `_lock`)."""
        if as_of < self._floor:
            return False
        return not any(c.seq > as_of and depends(c) for c in self._recent)

    # PostgreSQL: other server processes' commits arrive as NOTIFY on the audit channel.
    def _start_listener(self) -> None:
        if self._listener is not None:
            return
        engine = self._factory.kw["bind"]
        if engine.dialect.name != "postgresql":
            return
        with self._lock:
            if self._listener is None:
                dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._listener = threading.Thread(
                    target=listen, args=(dsn, self._stopping, self._on_notify), name="cybercrisis-cache", daemon=True
                )
                self._listener.start()

    def _on_notify(self, listening: bool) -> None:
        self._listening = listening
        self._dirty = True


def listen(dsn: str, stopping: threading.Event, on_notify: Callable[[bool], None]) -> None:
    """LISTEN on the audit channel until `stopping`; `on_notify(listening)` on each notification and (re)connection."""
    import psycopg

    while not stopping.is_set():
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                on_notify(True)  # catch up on anything committed while we were not listening
                while not stopping.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        on_notify(True)
        except psycopg.Error as exc:
            on_notify(False)
            log.warning("change listener lost its connection (%s); retrying", exc)
            stopping.wait(2.0)


_feeds: weakref.WeakSet[ChangeFeed] = weakref.WeakSet()
_on_commit: list[Callable[[], None]] = []


def on_commit(callback: Callable[[], None]) -> None:
    """Call `callback` (thread-safe, quick) after each local commit that wrote to the audit chain."""
    _on_commit.append(callback)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(WROTE_KEY, False):
        for feed in list(_feeds):
            feed.touch()
        for callback in _on_commit:
            callback()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(WROTE_KEY, None)


class _OnceCache(Generic[V]):
    """key -> value; one request computes a missing value while the others for the same key wait for it."""

    def __init__(self, size: int, ttl: float) -> None:
        self._items: OrderedDict[Hashable, tuple[float, V, Depends]] = OrderedDict()
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

    def _store(self, key: Hashable, value: V, depends: Depends) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), value, depends)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def _once(self, key: Hashable, compute: Callable[[], V]) -> V:
        found, value = self._fresh(key)
        if found:
            return value  # type: ignore[return-value]  # found means a stored V
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            try:
                found, value = self._fresh(key)  # computed by another request while this one waited
                return value if found else compute()  # type: ignore[return-value]
            finally:
                with self._lock:
                    self._computing.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class DependentCache(_OnceCache[V]):
    """key -> value, each entry dropped by the changes its `Depends` says affect it, or after `ttl` seconds."""

    def __init__(self, feed: ChangeFeed, size: int, ttl: float) -> None:
        super().__init__(size, ttl)
        self._feed = feed
        feed._caches.add(self)

    def get(self, session: Session, key: Hashable, compute: Callable[[], tuple[V, Depends]]) -> V:
        """The value for `key`, computing it (with what it depends on) if it is missing or was affected."""

        def with_head() -> tuple[V, Depends, int]:
            as_of = audit_head(session)
            return (*compute(), as_of)

        return self.get_as_of(key, with_head)

    def get_as_of(self, key: Hashable, compute: Callable[[], tuple[V, Depends, int]]) -> V:
        """As `get`, for a value read in one statement with the audit head it reflects (no query of its own)."""
        self._feed.current()

        def build() -> V:
            # `as_of`: what the value reflects at least. A change after it that the feed has already shown the
            # caches may be missing from the value, which is then served but not kept.
            value, depends, as_of = compute()
            with self._feed._lock:
                if self._feed.unaffected_since(as_of, depends):
                    self._store(key, value, depends)
            return value

        return self._once(key, build)

    def peek(self, key: Hashable) -> tuple[bool, V | None]:
        """(True, the value) when `key` is cached and no change may be unread; no I/O (for the event loop)."""
        if not self._feed.is_current():
            return False, None
        return self._fresh(key)

    def invalidate(self, change: Change) -> None:
        with self._lock:
            for key in [k for k, (_, _, depends) in self._items.items() if change.everything or depends(change)]:
                del self._items[key]
