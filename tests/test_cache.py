"""The per-process caches: a hit reads nothing, a change drops only the entries it can affect (cybercrisis.cache)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit import service as audit
from cybercrisis.audit.service import WROTE_KEY
from cybercrisis.cache import Change, ChangeFeed, DependentCache, Depends
from cybercrisis.db import unit_of_work
from cybercrisis.situation.changes import describe

HOUR = 3600.0  # no safety re-read and no expiry within a test: only changes move the caches here


def _on_incidents(change: Change) -> bool:
    return change.kind == "incident"


class Computed:
    """A value that counts how often it was computed."""

    def __init__(self, during: Callable[[], None] | None = None) -> None:
        self.calls = 0
        self.during = during

    def __call__(self) -> tuple[int, Depends]:
        self.calls += 1
        if self.during is not None:
            self.during()
        return self.calls, _on_incidents


@pytest.fixture
def feed(session_factory: sessionmaker[Session]) -> Iterator[ChangeFeed]:
    f = ChangeFeed(session_factory, describe, check_seconds=HOUR)
    yield f
    f.close()


def _write(factory: sessionmaker[Session], tag: str, object_id: str) -> None:
    with unit_of_work(factory) as s:
        audit.record(s, actor=None, tag=tag, object_id=object_id)


def _get(factory: sessionmaker[Session], cache: DependentCache[int], compute: Computed) -> int:
    with factory() as s:
        return cache.get(s, "key", compute)


def _wait_until_notified(feed: ChangeFeed, factory: sessionmaker[Session]) -> None:
    """On PostgreSQL, until the feed listens (before, it reads the chain at every request)."""
    if factory.kw["bind"].dialect.name != "postgresql":
        return
    deadline = time.monotonic() + 10
    while not feed.notified and time.monotonic() < deadline:
        time.sleep(0.02)
    assert feed.notified
    feed.current()  # what was committed before the listener started


def test_a_hit_runs_no_statement(feed: ChangeFeed, session_factory: sessionmaker[Session], engine: Engine) -> None:
    cache: DependentCache[int] = DependentCache(feed, 8, HOUR)
    compute = Computed()
    assert _get(session_factory, cache, compute) == 1
    _wait_until_notified(feed, session_factory)
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        assert _get(session_factory, cache, compute) == 1
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert statements == [] and compute.calls == 1


def test_a_change_it_does_not_depend_on_keeps_the_entry_and_one_it_does_drops_it(
    feed: ChangeFeed, session_factory: sessionmaker[Session]
) -> None:
    cache: DependentCache[int] = DependentCache(feed, 8, HOUR)
    compute = Computed()
    assert _get(session_factory, cache, compute) == 1
    _write(session_factory, "accounts:user:update", "user--00000000-0000-4000-8000-000000000001")
    assert _get(session_factory, cache, compute) == 1
    _write(session_factory, "incidents:incident:update", "incident--00000000-0000-4000-8000-000000000002")
    assert _get(session_factory, cache, compute) == 2


def test_an_organisation_change_drops_every_entry(feed: ChangeFeed, session_factory: sessionmaker[Session]) -> None:
    cache: DependentCache[int] = DependentCache(feed, 8, HOUR)
    compute = Computed()
    assert _get(session_factory, cache, compute) == 1
    _write(session_factory, "directory:organisation:update", "identity--00000000-0000-4000-8000-000000000003")
    assert _get(session_factory, cache, compute) == 2


def test_a_value_computed_across_a_change_it_depends_on_is_served_but_not_kept(
    feed: ChangeFeed, session_factory: sessionmaker[Session]
) -> None:
    cache: DependentCache[int] = DependentCache(feed, 8, HOUR)

    def meanwhile() -> None:
        # Another request commits a change and a third one shows it to the caches while this value is computed.
        if compute.calls == 1:
            _write(session_factory, "incidents:incident:update", "incident--00000000-0000-4000-8000-000000000004")
            feed.current()

    compute = Computed(during=meanwhile)
    assert _get(session_factory, cache, compute) == 1
    assert _get(session_factory, cache, compute) == 2
    assert _get(session_factory, cache, compute) == 2


def test_a_change_committed_by_another_process_reaches_the_caches_through_notify(
    feed: ChangeFeed, session_factory: sessionmaker[Session]
) -> None:
    if session_factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("other server processes are told through PostgreSQL NOTIFY; SQLite runs one process")
    cache: DependentCache[int] = DependentCache(feed, 8, HOUR)
    compute = Computed()
    assert _get(session_factory, cache, compute) == 1
    _wait_until_notified(feed, session_factory)
    with session_factory() as s:  # as another process commits: this process's after-commit hook hears nothing
        audit.record(s, actor=None, tag="incidents:incident:update", object_id="incident--00000000-0000-4000-8000-5")
        s.info.pop(WROTE_KEY)
        s.commit()
    deadline = time.monotonic() + 10
    while _get(session_factory, cache, compute) == 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert compute.calls == 2
