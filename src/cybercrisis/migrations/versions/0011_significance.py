"""significance: an incident's NIS2 significance is a recorded decision, and clocks run only for significant ones

Also the apparent root cause the analyst confirms (recurrence, Reg. (EU) 2024/2690 Art. 4), and the entity's NIS2
category (essential | important) apart from the kind of provider it is.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cybercrisis.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.add_column(sa.Column("significance", sa.String(16), nullable=False, server_default="reported"))
        batch_op.add_column(sa.Column("apparent_root_cause", sa.String(300), nullable=True))
        batch_op.add_column(sa.Column("entity_category", sa.String(16), nullable=True))
        batch_op.create_index(batch_op.f("ix_incidents_significance"), ["significance"], unique=False)
    op.create_table(
        "significance_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=120), nullable=False),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.Column("previous", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("suggestion", sa.JSON(), nullable=False),
        sa.Column("decided_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_id", sa.String(length=120), nullable=True),
        sa.Column("decided_by_org_id", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_significance_decisions_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_significance_decisions_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_significance_decisions_decided_by_org_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_significance_decisions")),
    )
    op.create_index(
        op.f("ix_significance_decisions_incident_id"), "significance_decisions", ["incident_id"], unique=False
    )
    _existing()
    # `entity_type` held either the NIS2 category or the kind of provider: the category moves to its own column.
    op.execute(
        "UPDATE incidents SET entity_category = entity_type, entity_type = NULL "
        "WHERE entity_type IN ('essential', 'important')"
    )


def _existing() -> None:
    """Incidents recorded before significance was a decision. Where the entity had already submitted an early
    warning or a notification, it treated the incident as significant (Art. 23(1) asks for them only then): such
    incidents become significant, with a decision that says it was derived here and by nobody. All others become
    reported, and their open reports lose their due time until someone decides. Exercise incidents get no clock."""
    now = sa.func.now() if op.get_bind().dialect.name == "postgresql" else sa.text("CURRENT_TIMESTAMP")
    reported = sa.text(
        "EXISTS (SELECT 1 FROM incident_reports r WHERE r.incident_id = incidents.id AND r.submitted_at IS NOT NULL "
        "AND r.kind IN ('early-warning', 'notification'))"
    )
    incidents = sa.table("incidents", sa.column("id"), sa.column("significance"), sa.column("exercise"))
    op.execute(incidents.update().where(reported).values(significance="significant"))
    decisions = sa.table(
        "significance_decisions",
        sa.column("incident_id"),
        sa.column("value"),
        sa.column("previous"),
        sa.column("reason"),
        sa.column("suggestion", sa.JSON()),
        sa.column("decided_at"),
    )
    op.execute(
        decisions.insert().from_select(
            ["incident_id", "value", "previous", "reason", "suggestion", "decided_at"],
            sa.select(
                incidents.c.id,
                sa.literal("significant"),
                sa.literal("reported"),
                sa.literal(
                    "migration 0011: an early warning or incident notification had been submitted under "
                    "NIS2 Art. 23(4), which Art. 23(1) asks for significant incidents only"
                ),
                sa.literal({}, sa.JSON()),
                now,
            ).where(incidents.c.significance == "significant"),
        )
    )
    op.execute(
        "UPDATE incident_reports SET due_at = NULL WHERE submitted_at IS NULL AND incident_id IN "
        "(SELECT id FROM incidents WHERE significance <> 'significant' OR exercise = true)"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_significance_decisions_incident_id"), table_name="significance_decisions")
    op.drop_table("significance_decisions")
    with op.batch_alter_table("incidents") as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_significance"))
        batch_op.drop_column("entity_category")
        batch_op.drop_column("apparent_root_cause")
        batch_op.drop_column("significance")
