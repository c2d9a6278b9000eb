"""replicas: objects held at another node, and the answers sent home (ADR 0013)

Every shareable table gains `origin_node`, `received_version` and `received_at`, NULL for every existing row: what
exists is this node's own. `answers` is the outbox of acts on replicas; `answer_receipts` the origin's record of
answers applied or refused. Schema only, no data change.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cybercrisis.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SHAREABLE = (
    "actions",
    "alerts",
    "assistance_offers",
    "assistance_requests",
    "capabilities",
    "communications",
    "contacts",
    "contributions",
    "crises",
    "decisions",
    "documents",
    "escalations",
    "handoffs",
    "impact_assessments",
    "incidents",
    "nis2_forwardings",
    "nis2_informations",
    "nis2_quarterly_summaries",
    "publications",
    "sitreps",
)


def upgrade() -> None:
    for table in SHAREABLE:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("origin_node", sa.String(length=120), nullable=True))
            batch_op.add_column(sa.Column("received_version", cybercrisis.db.UTCDateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column("received_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "answers",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("act", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=120), nullable=False),
        sa.Column("origin_node", sa.String(length=120), nullable=False),
        sa.Column("owner_org_id", sa.String(length=120), nullable=False),
        sa.Column("created_by_id", sa.String(length=120), nullable=True),
        sa.Column("user_ref", sa.String(length=64), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("version_seen", cybercrisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_org_id"], ["organisations.id"], name=op.f("fk_answers_owner_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_answers_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
    )
    with op.batch_alter_table("answers") as batch_op:
        batch_op.create_index(batch_op.f("ix_answers_object_id"), ["object_id"], unique=False)
        batch_op.create_index("ix_answers_state_next", ["state", "next_attempt_at"], unique=False)
    op.create_table(
        "answer_receipts",
        sa.Column("node_id", sa.String(length=120), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("act", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=120), nullable=False),
        sa.Column("org_id", sa.String(length=120), nullable=False),
        sa.Column("user_ref", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("received_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_answer_receipts_org_id_organisations")),
        sa.PrimaryKeyConstraint("node_id", "key", name=op.f("pk_answer_receipts")),
    )
    with op.batch_alter_table("answer_receipts") as batch_op:
        batch_op.create_index(batch_op.f("ix_answer_receipts_object_id"), ["object_id"], unique=False)


def downgrade() -> None:
    op.drop_table("answer_receipts")
    op.drop_table("answers")
    for table in SHAREABLE:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("received_at")
            batch_op.drop_column("received_version")
            batch_op.drop_column("origin_node")
