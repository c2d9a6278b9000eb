"""authority: read scopes and the acknowledge permission on existing API tokens

Scopes now bound reads (issue 12): a token reads a domain beyond TLP:CLEAR only with that domain's read scope.
Tokens issued before could read every domain, so each keeps that: it gains every read scope. Acknowledging an
early warning became its own permission (analysts and above); a token that could send alerts keeps being able to
acknowledge them, and a viewer's token does not gain it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:30:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported: a migration keeps meaning what it meant when it was written.
READ_SCOPES = (
    "directory:organisation:read",
    "directory:document:read",
    "incidents:incident:read",
    "alerts:alert:read",
    "situation:report:read",
    "crises:crisis:read",
    "assistance:request:read",
    "comms:communication:read",
    "handoffs:handoff:read",
    "exchange:object:read",
)
ACKNOWLEDGE, SEND = "alerts:alert:acknowledge", "alerts:alert:send"

tokens = sa.table("api_tokens", sa.column("id", sa.String), sa.column("scopes", sa.JSON))


def _rewrite(change: object) -> None:
    conn = op.get_bind()
    for token_id, scopes in conn.execute(sa.select(tokens.c.id, tokens.c.scopes)).all():
        current = scopes if isinstance(scopes, list) else json.loads(scopes or "[]")
        new = change(list(current))  # type: ignore[operator]
        if new != current:
            conn.execute(tokens.update().where(tokens.c.id == token_id).values(scopes=new))


def upgrade() -> None:
    def add(scopes: list[str]) -> list[str]:
        extra = set(READ_SCOPES) | ({ACKNOWLEDGE} if SEND in scopes else set())
        return sorted(set(scopes) | extra)

    _rewrite(add)


def downgrade() -> None:
    def remove(scopes: list[str]) -> list[str]:
        return sorted(set(scopes) - (set(READ_SCOPES) - {"directory:organisation:read"}) - {ACKNOWLEDGE})

    _rewrite(remove)
