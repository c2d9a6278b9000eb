"""The audit log is append-only and hash-chained; any change, deletion or reordering is detected."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.accounts.service import SYSTEM
from cybercrisis.audit import service as audit
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work


def _append(factory: sessionmaker[Session], n: int, tag: str = "test:event:append") -> None:
    for i in range(n):
        with unit_of_work(factory) as s:
            audit.record(s, actor=SYSTEM, tag=tag, object_id=f"document--{i}", summary={"i": i})


def test_intact_chain_verifies(session_factory: sessionmaker[Session], db: Session) -> None:
    _append(session_factory, 5)
    result = audit.verify(db)
    assert result.ok
    assert result.checked == 5


def test_edited_summary_is_detected_at_that_entry(session_factory: sessionmaker[Session], db: Session) -> None:
    _append(session_factory, 5)
    db.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(summary='{"i":99}'))
    db.commit()
    result = audit.verify(db)
    assert not result.ok
    assert result.first_bad_seq == 3
    assert result.checked == 2


def test_recomputed_hash_after_an_edit_still_breaks_the_next_link(
    session_factory: sessionmaker[Session], db: Session
) -> None:
    _append(session_factory, 5)
    row = db.get(AuditEvent, 2)
    assert row is not None
    row.tag = "test:event:forged"
    row.hash = audit._digest(row)  # a forger who knows the algorithm
    db.commit()
    result = audit.verify(db)
    assert not result.ok
    assert result.first_bad_seq == 3


def test_deleted_entry_is_detected(session_factory: sessionmaker[Session], db: Session) -> None:
    _append(session_factory, 5)
    db.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    db.commit()
    result = audit.verify(db)
    assert not result.ok
    assert result.first_bad_seq == 3


def test_reordered_entries_are_detected(session_factory: sessionmaker[Session], db: Session) -> None:
    _append(session_factory, 4)
    db.execute(text("UPDATE audit_events SET seq = 100 WHERE seq = 2"))
    db.execute(text("UPDATE audit_events SET seq = 2 WHERE seq = 3"))
    db.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = 100"))
    db.commit()
    result = audit.verify(db)
    assert not result.ok
    assert result.first_bad_seq == 2


def test_tag_must_be_source_subject_action(db: Session) -> None:
    with pytest.raises(ValueError, match="source:subject:action"):
        audit.record(db, actor=SYSTEM, tag="not-a-tag", object_id=None)


def test_concurrent_writers_keep_one_linear_chain(session_factory: sessionmaker[Session], db: Session) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            _append(session_factory, 10, tag=f"test:worker{k}:append")
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = audit.verify(db)
    assert result.ok
    assert result.checked == 40
    assert db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all() == list(range(1, 41))


def test_a_rolled_back_change_leaves_no_audit_entry(session_factory: sessionmaker[Session], db: Session) -> None:
    def failing_change() -> None:
        with unit_of_work(session_factory) as s:
            audit.record(s, actor=SYSTEM, tag="test:event:append", object_id=None)
            raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    assert db.scalars(select(AuditEvent)).all() == []
