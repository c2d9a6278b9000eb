"""Engine, one-transaction-per-unit-of-work sessions, the declarative Base and reusable column types."""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, String, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id(stix_type: str) -> str:
    """A STIX-style identifier, `<type>--<uuid4>`."""
    return f"{stix_type}--{uuid.uuid4()}"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always returns them aware (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


StixId = String(120)


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _create_private_sqlite_file(url: str) -> None:
    """SQLite would create the database 0644; an empty file is a valid empty database, so create it 0600 first
    (its -wal and -shm files then get the same mode from SQLite)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from cybercrisis.datadir import create_private_file

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.parent.is_dir():
        create_private_file(path)


def make_engine(url: str, *, pool: bool = True, pool_size: int = 16) -> Engine:
    """Create the engine; SQLite gets WAL, foreign keys, a busy timeout and explicit BEGIN control.

    The pool has a fixed size and the app admits at most that many requests at once (middleware.py), so a
    request that holds a connection can always finish: no pool exhaustion under any load.
    """
    pooling: dict[str, Any] = (
        {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": 30} if pool else {"poolclass": NullPool}
    )
    if _is_sqlite(url):
        _create_private_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pooling)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself so that write transactions can take the lock up front.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # search/service.py: a case-insensitive match that folds more than ASCII (SQLite's lower() does not).
            dbapi_conn.create_function("cc_casefold", 1, _casefold, deterministic=True)
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A deferred transaction that read first and writes later fails with SQLITE_BUSY_SNAPSHOT
            # when another writer committed in between; writers therefore begin IMMEDIATE.
            mode = "IMMEDIATE" if conn.get_execution_options().get("cc_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    # JIT compilation pays off for long analytical queries; the access filter makes short ones look expensive
    # to the planner, which then spends most of their time compiling (measured: 2.3 s of a 2.7 s query).
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c jit=off"}, **pooling)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


_sides: weakref.WeakKeyDictionary[Engine, dict[str, Engine]] = weakref.WeakKeyDictionary()
_sides_lock = threading.Lock()


def side_engine(engine: Engine, name: str, *, pool_size: int) -> Engine:
    """A pool of its own on `engine`'s database for work that is not a request (`name`: jobs, events, changes).

    Requests may hold every connection of their pool at once (make_engine); work on a side pool never waits
    behind them, nor takes a connection a request waits for. One per name and engine; disposed with `engine`.
    """
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        return engine  # a private in-memory database exists once, on the engine's own connection
    with _sides_lock:
        sides = _sides.get(engine)
        if sides is None:
            sides = _sides[engine] = {}
            event.listen(engine, "engine_disposed", _dispose_sides)
        if name not in sides:
            sides[name] = make_engine(engine.url.render_as_string(hide_password=False), pool_size=pool_size)
        return sides[name]


def _dispose_sides(engine: Engine) -> None:
    for side in _sides.get(engine, {}).values():
        side.dispose()


@contextmanager
def unit_of_work(factory: sessionmaker[Session], *, write: bool = True) -> Iterator[Session]:
    """One transaction: commit if the block succeeds, roll back if it raises."""
    session = factory()
    try:
        if write:
            session.connection(execution_options={"cc_write": True})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def begin_write(session: Session) -> None:
    """End what the session read so far and begin a transaction that writes: on SQLite, BEGIN IMMEDIATE takes the
    write lock here (a request authenticates first, so that bad credentials never queue for that lock)."""
    session.commit()
    session.connection(execution_options={"cc_write": True})
