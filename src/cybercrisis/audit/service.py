"""Append to and verify the audit chain; read timelines.

Appends are serialised so that each entry's `prev_hash` is the hash of the entry before it:
PostgreSQL takes a transaction-scoped advisory lock, SQLite write transactions begin IMMEDIATE (db.py).

`record` keeps the transaction's events aside and the chain takes them at commit, so that the lock, which every
audited write in the deployment waits for, is held from there to the end of the commit only, not through the rest
of the request. Layers above subscribe to commits (`subscribe`, installed by `cybercrisis.wiring`): a hook gets the
ids the events name before the lock is taken, does its slow work there (the exchange maps and validates STIX), and
returns what to write under the lock, so that the chain and what was derived from the same commit stay in one order.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.orm import Session, SessionTransaction

from cybercrisis.access.principal import Principal
from cybercrisis.audit import reading
from cybercrisis.audit.models import AuditEvent
from cybercrisis.audit.reading import ShownEvent
from cybercrisis.db import utcnow

GENESIS = "0" * 64
_ADVISORY_KEY = 0x63796265  # "cybe"
# Live event streams (situation/events.py) wake on these: a session flag read after commit in this process, and
# a PostgreSQL notification that the server delivers to the other processes at commit.
WROTE_KEY = "cybercrisis.audit.wrote"
NOTIFY_CHANNEL = "cybercrisis_events"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# A commit hook gets the session and the ids the transaction's events name, before the chain's lock is taken; it
# returns the write to make under the lock, or None. It must not record events itself.
CommitHook = Callable[[Session, Sequence[str]], Callable[[], object] | None]
_hooks: list[CommitHook] = []
_PENDING = "cybercrisis.audit.pending"  # this transaction's events, not yet in the chain
_NAMED = "cybercrisis.audit.named"  # the object ids its events name, for the commit hooks


def _canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _digest(event: AuditEvent) -> str:
    payload = {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor_user_id": event.actor_user_id,
        "actor_org_id": event.actor_org_id,
        "token_id": event.token_id,
        "request_id": event.request_id,
        "tag": event.tag,
        "object_id": event.object_id,
        "summary": event.summary,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(_canonical(payload).encode()).hexdigest()


def record(
    session: Session,
    *,
    actor: Principal | None,
    tag: str,
    object_id: str | None,
    summary: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction. `tag` is `source:subject:action`.

    The event takes its place in the chain (`seq`, `prev_hash`, `hash`) at commit, or earlier if the transaction
    reads a timeline or takes the lock (`lock`)."""
    if tag.count(":") != 2:
        raise ValueError(f"audit tag {tag!r} is not source:subject:action")
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_user_id=actor.user_id if actor else None,
        actor_org_id=actor.org_id if actor else None,
        token_id=actor.token_id if actor else None,
        request_id=request_id_var.get(),
        tag=tag,
        object_id=object_id,
        summary=_canonical(summary or {}),
    )
    pending = session.info.get(_PENDING)
    if pending is None:
        if session.get_transaction() is None:
            session.begin()  # the events belong to a transaction, which commits or forgets them
        if not _listening:
            _listen()
        pending = session.info[_PENDING] = []
    pending.append(event)
    if object_id:
        session.info.setdefault(_NAMED, set()).add(object_id)
    session.info[WROTE_KEY] = True
    return event


_listening = False
_listen_lock = threading.Lock()


def _listen() -> None:
    """Link pending events at every commit, from the first `record` of the process on (not at import)."""
    global _listening  # noqa: PLW0603 - set once per process, under the lock
    with _listen_lock:
        if not _listening:
            sa_event.listen(Session, "before_commit", _at_commit)
            sa_event.listen(Session, "after_transaction_end", _forget)
            _listening = True


def subscribe(hook: CommitHook) -> None:
    """Call `hook` at each commit that wrote events (idempotent). Done once, at the composition root."""
    if hook not in _hooks:
        _hooks.append(hook)


def _at_commit(session: Session) -> None:
    # Every id named in the transaction, also by events that joined the chain early (`lock`, a timeline read).
    ids = sorted(session.info.pop(_NAMED, ()))
    if not ids and not session.info.get(_PENDING):
        return
    writes = [w for w in (hook(session, ids) for hook in _hooks) if w is not None]  # before the lock
    _append(session)
    for write in writes:
        write()


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # committed, rolled back or closed: nothing is pending any more
        session.info.pop(_PENDING, None)
        session.info.pop(_NAMED, None)


def _append(session: Session) -> None:
    """Link the transaction's pending events to the chain, under its lock (held from here until commit)."""
    pending: list[AuditEvent] = session.info.pop(_PENDING, None) or []
    seq, prev = _head(session)
    for event in pending:
        seq += 1
        event.seq, event.prev_hash = seq, prev
        event.hash = prev = _digest(event)
    if pending:
        session.add_all(pending)
        session.flush()
    session.info[_HEAD] = (session.get_transaction(), seq, prev)


_HEAD = "cybercrisis.audit.head"


def _head(session: Session) -> tuple[int, str]:
    """The last (seq, hash), read once per transaction; the lock taken here is held until commit."""
    cached = session.info.get(_HEAD)
    if cached is not None and cached[0] is session.get_transaction():
        return cached[1], cached[2]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        session.execute(text("SELECT pg_notify(:c, '')"), {"c": NOTIFY_CHANNEL})
    last = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (last.seq, last.hash) if last else (0, GENESIS)


def lock(session: Session) -> None:
    """Take the audit chain's lock now, held until commit: writes made after it commit in `seq` order. Events
    recorded so far join the chain now."""
    _append(session)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int
    head: str
    first_bad_seq: int | None = None
    reason: str | None = None


def verify(session: Session, *, batch: int = 5000) -> VerifyResult:
    """Walk the chain in order; report the first entry whose hash or link is wrong."""
    prev_hash = GENESIS
    expected_seq = 1
    checked = 0
    for event in _iter_events(session, batch=batch):
        if event.seq != expected_seq:
            return VerifyResult(False, checked, prev_hash, event.seq, f"sequence gap: expected {expected_seq}")
        if event.prev_hash != prev_hash:
            return VerifyResult(False, checked, prev_hash, event.seq, "previous-hash link broken")
        if _digest(event) != event.hash:
            return VerifyResult(False, checked, prev_hash, event.seq, "content does not match its hash")
        prev_hash = event.hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked, prev_hash)


def _iter_events(session: Session, *, batch: int) -> Iterator[AuditEvent]:
    after = 0
    while True:
        rows = list(
            session.scalars(select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch))
        )
        if not rows:
            return
        yield from rows
        after = rows[-1].seq
        session.expunge_all()


def join_pending(session: Session) -> None:
    """Before reading the log in a transaction that recorded events: they join the chain now, so that the
    transaction reads its own events (a crisis just opened shows its creation)."""
    if session.info.get(_PENDING):
        _append(session)


def timeline(session: Session, *, reader: Principal, object_id: str, limit: int = 500) -> list[ShownEvent]:
    """Events about one object, oldest first, as the reader may see them. The caller has already checked that the
    reader may read the object; ids in the summaries are checked here (audit.reading)."""
    join_pending(session)  # this transaction's own events are part of what it reads
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == object_id).order_by(AuditEvent.seq).limit(limit)
    ).all()
    return reading.visible(session, reader, events, known=(object_id,))


def timeline_of(
    session: Session, *, reader: Principal, object_ids: list[str], limit: int = 1000, known: Collection[str] = ()
) -> list[ShownEvent]:
    """Events about several objects (an incident, its reports, its alerts), oldest first; only those about objects
    the reader may read, each as they may see it. `known`: ids the caller has already read through the read
    policy (reading.readable_ids does not ask about them again)."""
    join_pending(session)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.object_id.in_(object_ids)).order_by(AuditEvent.seq).limit(limit)
    ).all()
    return reading.visible(session, reader, events, known=known)
