"""Bulk writes and lookups of the STIX store, for imports of 100,000 objects (issue 14: >= 20,000 objects/s).

A Core executemany spends more time in SQLAlchemy's per-row, per-column bind processing than in the database (a
profile of 20,000 indicators on SQLite: 33 % of the import, against 27 % for SQLite's own inserts), and an
expanding `IN (...)` of 1,000 ids is rendered again for every query (9 %). Here each column's bind processor runs
once per distinct value (one share list, one `added_at`, one JSON `null` serve thousands of rows) and the statement
is compiled once; an id list travels as one parameter (a PostgreSQL array, a JSON text for SQLite's `json_each`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import JSON, String

SQLITE_CACHE_KIB = 256 * 1024  # the page cache of a large import on SQLite (allocated as used)


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row (all with the keys of the first) in one executemany (COPY on PostgreSQL), in the session's
    transaction."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    names = list(rows[0])
    columns = [_bound(table.c[name], [row[name] for row in rows], dialect) for name in names]
    if dialect.name == "postgresql":
        # COPY: PostgreSQL takes the rows as one stream rather than one INSERT each (20,000 indicators spent 55 %
        # of the import waiting for the pipelined INSERTs).
        quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
        cursor: Any = conn.connection.cursor()  # psycopg's own cursor, in the session's transaction
        try:
            with cursor.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
                for values in zip(*columns, strict=True):
                    copy.write_row(values)
        finally:
            cursor.close()
        return
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    if dialect.positional:
        order = [columns[names.index(p)] for p in compiled.positiontup or ()]
        params: list[Any] = list(zip(*order, strict=True))
    else:
        params = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    conn.exec_driver_sql(str(compiled), params)


def _bound(column: Any, raw: list[Any], dialect: Any) -> list[Any]:
    """One column's values as the driver takes them, its bind processor run once per distinct value (JSON: per
    distinct object, by identity)."""
    process = column.type._cached_bind_processor(dialect)
    if process is None:
        return raw
    if isinstance(column.type, JSON):
        distinct = {id(v): v for v in raw}
        done = {k: process(v) for k, v in distinct.items()}
        return [done[id(v)] for v in raw]
    table = {v: None if v is None else process(v) for v in set(raw)}
    return [table[v] for v in raw]


def among(session: Session, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """`column IN values` with the values as one bound parameter, however many there are."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))  # type: ignore[no-any-return]
    listed = func.json_each(bindparam(None, json.dumps(list(values)), type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))  # type: ignore[no-any-return]


@contextmanager
def large_write(session: Session) -> Iterator[None]:
    """A larger SQLite page cache for one large write, the connection's own size restored after it.

    An import inserts into four indexes keyed by random UUIDs: past SQLite's default 2 MB cache every insert reads
    index pages back from the OS (100,000 indicators: 54 % of the import in SQLite's inserts, against 27 % for
    20,000). The cache grows only as pages are used, up to this bound. PostgreSQL has its shared buffers."""
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    before = session.execute(text("PRAGMA cache_size")).scalar_one()
    session.execute(text(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}"))
    try:
        yield
    finally:
        session.execute(text(f"PRAGMA cache_size = {int(before)}"))
