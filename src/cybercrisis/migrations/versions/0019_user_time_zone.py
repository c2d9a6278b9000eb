"""users: the time zone in which pages show times to this user (issue 19)

Times are stored and exchanged in UTC; a user may choose to read them in their own zone (an IANA name such as
Europe/Paris), with UTC kept on hover. Empty means UTC, as before.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 01:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: a batch copy of `users` would trip the foreign keys that name it.
    op.add_column("users", sa.Column("time_zone", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN time_zone")  # SQLite >= 3.35, without copying the table
    else:
        op.drop_column("users", "time_zone")
