"""Live events for browsers: the audit chain as a stream, filtered per reader by the access policy (ADR 0006).

The audit `seq` is assigned under a lock held until commit, so entries become visible in `seq` order and a
stream that resumes after `Last-Event-ID` neither misses nor repeats one. Each process has one hub: it reads new
entries once for all its streams, with the marking and shares of the objects they are about, and each stream
applies `can_read` for its reader. Hubs wake on a local commit, on PostgreSQL NOTIFY from other processes, and
on a slow poll that only matters if a notification was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import weakref
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from cybercrisis import cache
from cybercrisis.access import sharing
from cybercrisis.access.policy import ShareEntry, can_read, read_scope
from cybercrisis.access.principal import Principal
from cybercrisis.alerts.models import Alert
from cybercrisis.assistance.models import AssistanceRequest, Offer
from cybercrisis.audit.models import AuditEvent
from cybercrisis.comms.models import Communication
from cybercrisis.crises.models import Action, Crisis, Decision, Escalation
from cybercrisis.directory.models import Contact
from cybercrisis.documents.models import Document
from cybercrisis.handoffs.models import Handoff
from cybercrisis.incidents.models import Incident
from cybercrisis.situation.models import Contribution, Sitrep

log = logging.getLogger(__name__)

# Objects whose changes are streamed, by the type part of their id; each is read under its own marking.
STREAMED: dict[str, type[Any]] = {
    "incident": Incident,
    "alert": Alert,
    "contribution": Contribution,
    "sitrep": Sitrep,
    "document": Document,
    "contact": Contact,
    # The crisis room (issue 19): the crisis and its moves, decisions and actions, each under its own marking.
    "crisis": Crisis,
    "escalation": Escalation,
    "decision": Decision,
    "task": Action,
    # What My work lists besides (issue 19): statements to approve, requests for assistance and offers on them.
    "communication": Communication,
    "assistance-request": AssistanceRequest,
    "assistance-offer": Offer,
    "handoff": Handoff,
}
DIRECTORY_PREFIX = "identity"  # directory entries are visible to every signed-in user
BUFFER = 5000
BATCH = 1000
HEARTBEAT_SECONDS = 15.0
REVALIDATE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class StreamEvent:
    seq: int
    at: datetime
    tag: str
    object_id: str | None
    tlp: str | None = None
    owner_org_id: str | None = None
    shares: tuple[ShareEntry, ...] = ()
    directory: bool = False
    streamed: bool = False

    def visible_to(self, reader: Principal) -> bool:
        if not self.streamed or not reader.is_authenticated:
            return False
        if self.directory:
            return True
        assert self.tlp is not None
        assert self.owner_org_id is not None
        scope = read_scope(STREAMED[(self.object_id or "").split("--", 1)[0]])
        return can_read(reader, tlp=self.tlp, owner_org_id=self.owner_org_id, shares=self.shares, scope=scope)

    def frame(self) -> str:
        kind = (self.object_id or "").split("--", 1)[0]
        data = {"seq": self.seq, "at": self.at.isoformat(), "tag": self.tag, "object": self.object_id, "type": kind}
        return f"id: {self.seq}\nevent: change\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def load(session: Session, *, after: int, limit: int = BATCH) -> list[StreamEvent]:
    """Audit entries after `after`, with the access facts of the objects they are about, in one pass."""
    rows = session.execute(
        select(AuditEvent.seq, AuditEvent.occurred_at, AuditEvent.tag, AuditEvent.object_id)
        .where(AuditEvent.seq > after)
        .order_by(AuditEvent.seq)
        .limit(limit)
    ).all()
    by_type: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.object_id and "--" in r.object_id:
            by_type[r.object_id.split("--", 1)[0]].add(r.object_id)
    facts: dict[str, tuple[str, str]] = {}
    for kind, ids in by_type.items():
        model = STREAMED.get(kind)
        if model is None:
            continue
        for oid, tlp, owner in session.execute(
            select(model.id, model.tlp, model.owner_org_id).where(model.id.in_(sorted(ids)))
        ):
            facts[oid] = (tlp, owner)
    shares = {
        oid: [ShareEntry(r.kind, r.target) for r in rows_]
        for oid, rows_ in sharing.shares_of_many(session, sorted(facts)).items()
    }
    out = []
    for r in rows:
        oid = r.object_id
        kind = oid.split("--", 1)[0] if oid and "--" in oid else ""
        if kind == DIRECTORY_PREFIX and r.tag.startswith("directory:organisation:"):
            out.append(StreamEvent(r.seq, r.occurred_at, r.tag, oid, directory=True, streamed=True))
        elif oid in facts:
            tlp, owner = facts[oid]
            out.append(StreamEvent(r.seq, r.occurred_at, r.tag, oid, tlp, owner, tuple(shares[oid]), streamed=True))
        else:
            out.append(StreamEvent(r.seq, r.occurred_at, r.tag, oid))  # not streamed: advances the cursor only
    return out


def head(session: Session) -> int:
    return int(session.execute(select(func.max(AuditEvent.seq))).scalar_one() or 0)


# --- waking hubs ----------------------------------------------------------------------------------------------

_hubs: weakref.WeakSet[EventHub] = weakref.WeakSet()


def _poke_hubs() -> None:
    for hub in list(_hubs):
        hub.poke()


cache.on_commit(_poke_hubs)  # the caches' hook tells of local commits that wrote to the audit chain


class EventHub:
    def __init__(self, factory: sessionmaker[Session], *, poll_seconds: float) -> None:
        self._factory = factory
        self._poll = poll_seconds
        self._buffer: deque[StreamEvent] = deque(maxlen=BUFFER)
        self.last_seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._listener: threading.Thread | None = None
        self._stopping = threading.Event()

    # lifecycle
    async def ensure_started(self) -> None:
        """Start once, inside the serving event loop (the app lifespan, or the first stream)."""
        if self._task is None or self._loop is not asyncio.get_running_loop():
            await self.start()

    async def start(self) -> None:
        self._stopping.clear()
        self._loop = asyncio.get_running_loop()
        self._wake, self._changed = asyncio.Event(), asyncio.Event()
        self._buffer.clear()
        self.last_seq = -1  # not read yet: streams read the head themselves
        self._task = asyncio.create_task(self._run(), name="cybercrisis-event-hub")
        engine: Engine = self._factory.kw["bind"]
        if engine.dialect.name == "postgresql":
            dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._listener = threading.Thread(
                target=cache.listen, args=(dsn, self._stopping, self._on_notify), name="cybercrisis-listen", daemon=True
            )
            self._listener.start()
        _hubs.add(self)

    async def stop(self) -> None:
        _hubs.discard(self)
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await self._task
            self._task = None
        if self._changed is not None:
            self._changed.set()  # release waiting streams
        listener, self._listener = self._listener, None
        if listener is not None:
            await run_in_threadpool(listener.join, 5.0)  # it checks the flag at least once a second

    def poke(self) -> None:
        """Thread-safe: something was committed; read the chain."""
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is shutting down: nothing left to wake
                loop.call_soon_threadsafe(wake.set)

    def _read_head(self) -> int:
        with self._factory() as s:
            return head(s)

    def _read(self, after: int, limit: int = BATCH) -> list[StreamEvent]:
        with self._factory() as s:
            return load(s, after=after, limit=limit)

    def _on_notify(self, listening: bool) -> None:
        if listening:
            self.poke()

    async def _run(self) -> None:
        assert self._wake is not None
        self.last_seq = await run_in_threadpool(self._read_head)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            self._wake.clear()
            try:
                while True:
                    batch = await run_in_threadpool(self._read, self.last_seq)
                    if not batch:
                        break
                    self._buffer.extend(batch)
                    self.last_seq = batch[-1].seq
                    self._broadcast()
                    if len(batch) < BATCH:
                        break
            except Exception:  # the database may be down: keep the hub alive and retry on the next wake
                log.exception("event hub could not read the audit chain")
                await asyncio.sleep(1.0)

    def _broadcast(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        if changed is not None:
            changed.set()

    def _since(self, cursor: int) -> list[StreamEvent] | None:
        """Buffered events after `cursor`, or None when the buffer no longer reaches back that far."""
        if self.last_seq < 0:
            return None
        if cursor >= self.last_seq:
            return []
        if not self._buffer or self._buffer[0].seq > cursor + 1:
            return None
        return [e for e in self._buffer if e.seq > cursor]

    # streams
    async def stream(
        self,
        reader: Principal,
        *,
        last_event_id: int | None,
        revalidate: Callable[[], Awaitable[Principal | None]] | None = None,
        is_disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[str]:
        """SSE frames for one reader; resumes after `last_event_id`, else starts at the present."""
        await self.ensure_started()
        now_at = await run_in_threadpool(self._read_head)
        # An id ahead of the chain (a database restored from backup) restarts at the present rather than waiting.
        cursor = now_at if last_event_id is None or last_event_id > now_at else max(0, last_event_id)
        yield f"retry: 2000\nid: {cursor}\nevent: hello\ndata: {json.dumps({'seq': cursor})}\n\n"
        checked = asyncio.get_running_loop().time()
        while not self._stopping.is_set():
            changed = self._changed
            batch = self._since(cursor)
            if batch is None:  # catching up from further back than the buffer: read the chain directly
                batch = await run_in_threadpool(self._read, cursor)
            if batch:
                frames = [e.frame() for e in batch if e.visible_to(reader)]
                cursor = batch[-1].seq
                if frames:
                    yield "".join(frames)
                continue
            try:
                assert changed is not None
                await asyncio.wait_for(changed.wait(), timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
            if is_disconnected is not None and await is_disconnected():
                return
            now = asyncio.get_running_loop().time()
            if revalidate is not None and now - checked > REVALIDATE_SECONDS:
                checked = now
                fresh = await revalidate()
                if fresh is None:
                    yield 'event: end\ndata: {"reason": "signed out or token revoked"}\n\n'
                    return
                reader = fresh
