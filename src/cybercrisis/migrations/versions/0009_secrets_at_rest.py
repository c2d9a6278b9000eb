"""secrets at rest: webhook secrets encrypted with the server key

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:30:00

Webhook signing secrets and peer tokens are stored sealed (cybercrisis.secretbox), longer than the secrets
themselves: their columns become TEXT. The values are sealed when a server starts (`secretbox.seal_stored`), not
here: only the server is sure to hold the key that must open them, and `db upgrade` may run where
CYBERCRISIS_SECRET_KEY or the data directory is not (sealing with another key would lose every secret).
SQLite does not enforce VARCHAR lengths, and rebuilding these tables would cascade to their children, so only
PostgreSQL changes types. The downgrade opens sealed values again with the server key of its environment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("notification_routes", "secret", 200, True), ("peers", "token", 500, False))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column, length, nullable in COLUMNS:
        op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(length), existing_nullable=nullable)


def downgrade() -> None:
    from cybercrisis import secretbox
    from cybercrisis.config import get_settings

    conn = op.get_bind()
    settings = get_settings()
    purposes = {"notification_routes": secretbox.ROUTE_SECRET, "peers": secretbox.PEER_TOKEN}
    for table, column, _, _ in COLUMNS:
        rows = conn.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} LIKE 'enc1:%'")).all()  # noqa: S608 - names from COLUMNS
        for pk, value in rows:
            try:
                plain = secretbox.reveal(settings, purposes[table], value)
            except secretbox.Unreadable as exc:
                raise RuntimeError(
                    f"{table} {pk}: {exc}; downgrade with the server's CYBERCRISIS_SECRET_KEY or data directory"
                ) from None
            conn.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": plain, "id": pk})  # noqa: S608
    if conn.dialect.name != "postgresql":
        return
    for table, column, length, nullable in COLUMNS:
        op.alter_column(table, column, type_=sa.String(length), existing_type=sa.Text(), existing_nullable=nullable)
