"""Commit hooks: what subscribes to audited commits does its slow work before the chain's lock, and writes under it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.accounts.service import SYSTEM
from cybercrisis.audit import service as audit
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work


def _chain_lock_held(session: Session) -> bool:
    """Whether this session's PostgreSQL backend holds the chain's advisory lock (False on SQLite, which has none)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    held = session.scalar(
        text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid() "
            "AND objid = :k"
        ),
        {"k": audit._ADVISORY_KEY},
    )
    return bool(held)


class Spy:
    """A commit hook that notes what it saw when preparing and when writing."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[str], int, bool]] = []

    def __call__(self, session: Session, ids: Sequence[str]) -> Callable[[], object]:
        self.seen.append(("prepare", list(ids), self._stored(session), _chain_lock_held(session)))
        return lambda: self.seen.append(("write", list(ids), self._stored(session), _chain_lock_held(session)))

    @staticmethod
    def _stored(session: Session) -> int:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    hook = Spy()
    monkeypatch.setattr(audit, "_hooks", [*audit._hooks, hook])
    return hook


def test_hooks_prepare_before_the_events_join_the_chain_and_write_after(
    session_factory: sessionmaker[Session], spy: Spy
) -> None:
    with unit_of_work(session_factory) as s:
        audit.record(s, actor=SYSTEM, tag="test:event:append", object_id="document--b", summary={})
        audit.record(s, actor=SYSTEM, tag="test:event:append", object_id="document--a", summary={})
        audit.record(s, actor=SYSTEM, tag="test:event:append", object_id=None, summary={})
    prepare, write = spy.seen
    assert prepare[:3] == ("prepare", ["document--a", "document--b"], 0)
    assert write[:3] == ("write", ["document--a", "document--b"], 3)


def test_the_chain_lock_is_not_held_while_hooks_prepare_and_is_held_while_they_write(
    session_factory: sessionmaker[Session], spy: Spy
) -> None:
    if session_factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite serialises whole write transactions")
    with unit_of_work(session_factory) as s:
        audit.record(s, actor=SYSTEM, tag="test:event:append", object_id="document--a", summary={})
    assert [(step, locked) for step, _, _, locked in spy.seen] == [("prepare", False), ("write", True)]


def test_ids_named_before_a_timeline_read_still_reach_the_hooks(
    session_factory: sessionmaker[Session], spy: Spy
) -> None:
    with unit_of_work(session_factory) as s:
        audit.record(s, actor=SYSTEM, tag="test:event:append", object_id="document--a", summary={})
        shown = audit.timeline(s, reader=SYSTEM, object_id="document--a")
        audit.record(s, actor=SYSTEM, tag="test:event:append", object_id="document--b", summary={})
    assert [e.object_id for e in shown] == ["document--a"]  # a transaction reads its own events
    assert [(step, ids) for step, ids, _, _ in spy.seen] == [
        ("prepare", ["document--a", "document--b"]),
        ("write", ["document--a", "document--b"]),
    ]


def test_a_rolled_back_transaction_calls_no_hook_and_leaves_nothing_for_the_next(
    session_factory: sessionmaker[Session], spy: Spy, db: Session
) -> None:
    s = session_factory()
    audit.record(s, actor=SYSTEM, tag="test:event:append", object_id="document--a", summary={})
    s.rollback()
    audit.record(s, actor=SYSTEM, tag="test:event:append", object_id="document--b", summary={})
    s.commit()
    s.close()
    assert [(step, ids) for step, ids, _, _ in spy.seen] == [("prepare", ["document--b"]), ("write", ["document--b"])]
    assert db.scalars(select(AuditEvent.object_id)).all() == ["document--b"]
    assert audit.verify(db).ok
