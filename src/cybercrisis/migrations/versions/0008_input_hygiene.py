"""input hygiene: stored text that is not valid Unicode is repaired

Before the input checks (textcheck.py), JSON text such as `"\\ud800"` was stored as it came: every JSON column holds
it as the escape, which no UTF-8 encoder can write out again, so one such row failed every later read of it (TAXII
pages, the object store, the signer). Each lone surrogate escape in every JSON column becomes U+FFFD (`\\ufffd`);
valid pairs (`\\ud83d\\ude00`, an emoji) stay. Rows are found in SQL (`\\ud` in the JSON text) and repaired as text, so
no row is parsed unless it holds such an escape. The audit log is left alone: its entries are hash-chained, and they
never could hold one (writing one failed).

Text columns never hold a lone surrogate (the database drivers refuse to write one), so only JSON columns are read.
The repair is lossy and has no downgrade: the removed code units meant nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:30:00
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


SKIP = frozenset({"audit_events", "alembic_version"})  # hash-chained, or not ours
BATCH = 500
_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def repair_text(text: str) -> str | None:
    """The JSON text with each lone surrogate escape written as \\ufffd; None when there is none.

    An escape is real when an odd run of backslashes leads to its `u` (`\\\\ud800` is a backslash and text)."""
    out: list[str] = []
    last = 0
    skip_to = -1  # the low half of a pair already kept
    for found in _ESCAPE.finditer(text):
        at = found.start()
        if at < skip_to:
            continue
        run = 0
        while at - run >= 0 and text[at - run] == "\\":
            run += 1
        if run % 2 == 0:
            continue
        if found.group()[3] in "89abAB":  # a high surrogate: kept with the low one right after it
            low = _ESCAPE.match(text, at + 6)
            if low and low.group()[3] in "cdefCDEF":
                skip_to = at + 12
                continue
        out.append(text[last:at] + "\\ufffd")
        last = at + 6
    if not out:
        return None
    return "".join(out) + text[last:]


def repair(connection: sa.Connection) -> int:
    """Repair every JSON column of every table but the audit log; returns the number of values rewritten."""
    inspector = sa.inspect(connection)
    postgres = connection.dialect.name == "postgresql"
    repaired = 0
    for table_name in inspector.get_table_names():
        if table_name in SKIP:
            continue
        keys = inspector.get_pk_constraint(table_name).get("constrained_columns") or []
        json_columns = [c["name"] for c in inspector.get_columns(table_name) if isinstance(c["type"], sa.JSON)]
        if not keys or not json_columns:
            continue
        table = sa.table(table_name, *(sa.column(k) for k in keys), *(sa.column(c, sa.Text) for c in json_columns))
        for name in json_columns:
            column = table.c[name]
            as_text = sa.cast(column, sa.Text) if postgres else column
            suspects = connection.execute(
                sa.select(*(table.c[k] for k in keys), as_text.label("v")).where(
                    sa.func.lower(as_text).like("%\\ud%", escape="!")
                )
            ).all()
            for start in range(0, len(suspects), BATCH):
                for row in suspects[start : start + BATCH]:
                    fixed = repair_text(row.v) if row.v is not None else None
                    if fixed is None:
                        continue
                    value = sa.cast(sa.literal(fixed, sa.Text), sa.JSON) if postgres else sa.literal(fixed, sa.Text)
                    match = sa.and_(*(table.c[k] == row._mapping[k] for k in keys))
                    connection.execute(sa.update(table).where(match).values({name: value}))
                    repaired += 1
    return repaired


def upgrade() -> None:
    repair(op.get_bind())


def downgrade() -> None:
    pass  # nothing to undo: the repair only replaced code units that were not text
