"""Append to and verify the audit chain; read timelines.

Appends are serialised so that each entry's `prev_hash` is the hash of the entry before it:
PostgreSQL takes a transaction-scoped advisory lock, SQLite write transactions begin IMMEDIATE (db.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.audit import reading
from cybercrisis.audit.models import AuditEvent
from cybercrisis.audit.reading import ShownEvent
from cybercrisis.db import utcnow
from cybercrisis.exchange import publish as _publish  # noqa: F401 - changes to our objects reach the STIX store

GENESIS = "0" * 64
_ADVISORY_KEY = 0x63796265  # "cybe"
# Live event streams (situation/events.py) wake on these: a session flag read after commit in this process, and
# a PostgreSQL notification that the server delivers to the other processes at commit.
WROTE_KEY = "cybercrisis.audit.wrote"
NOTIFY_CHANNEL = "cybercrisis_events"

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


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
    """Append one event in the caller's transaction. `tag` is `source:subject:action`."""
    if tag.count(":") != 2:
        raise ValueError(f"audit tag {tag!r} is not source:subject:action")
    seq, prev = _head(session)
    now = utcnow()
    event = AuditEvent(
        seq=seq + 1,
        occurred_at=now,
        actor_user_id=actor.user_id if actor else None,
        actor_org_id=actor.org_id if actor else None,
        token_id=actor.token_id if actor else None,
        request_id=request_id_var.get(),
        tag=tag,
        object_id=object_id,
        summary=_canonical(summary or {}),
        prev_hash=prev,
    )
    event.hash = _digest(event)
    session.add(event)
    session.flush()
    session.info[_HEAD] = (session.get_transaction(), event.seq, event.hash)
    session.info[WROTE_KEY] = True
    return event


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
    """Take the audit chain's lock now, held until commit: writes made after it commit in `seq` order."""
    _head(session)


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


def timeline(session: Session, *, reader: Principal, object_id: str, limit: int = 500) -> list[ShownEvent]:
    """Events about one object, oldest first, as the reader may see them. The caller has already checked that the
    reader may read the object; ids in the summaries are checked here (audit.reading)."""
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == object_id).order_by(AuditEvent.seq).limit(limit)
    ).all()
    return reading.visible(session, reader, events, known=(object_id,))


def timeline_of(session: Session, *, reader: Principal, object_ids: list[str], limit: int = 1000) -> list[ShownEvent]:
    """Events about several objects (an incident, its reports, its alerts), oldest first; only those about objects
    the reader may read, each as they may see it."""
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.object_id.in_(object_ids)).order_by(AuditEvent.seq).limit(limit)
    ).all()
    return reading.visible(session, reader, events)


def events_since(session: Session, *, after: datetime | None, limit: int) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if after is not None:
        query = query.where(AuditEvent.occurred_at > after)
    return list(session.scalars(query))
