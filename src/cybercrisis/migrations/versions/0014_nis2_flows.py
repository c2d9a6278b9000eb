"""nis2 flows: informing other Member States and ENISA (NIS2 Art. 23(6)), SPOC forwarding (Art. 23(8)) and the
quarterly summary to ENISA (Art. 23(9)) as recorded, shareable steps

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 06:00:00

Three new tables (incidents/flow_models.py); no existing data changes.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import cybercrisis.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _shareable(table: str) -> list[Any]:
    """The columns and constraints of access.models.Shareable, named as the model names them."""
    return [
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("created_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("owner_org_id", sa.String(length=120), nullable=False),
        sa.Column("created_by_id", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f(f"fk_{table}_created_by_id_users")),
        sa.ForeignKeyConstraint(
            ["owner_org_id"], ["organisations.id"], name=op.f(f"fk_{table}_owner_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
    ]


def _incident_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["incident_id"], ["incidents.id"], name=op.f(f"fk_{table}_incident_id_incidents"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "nis2_informations",
        sa.Column("incident_id", sa.String(length=120), nullable=False),
        sa.Column("member_states", sa.JSON(), nullable=False),
        sa.Column("enisa_informed", sa.Boolean(), nullable=False),
        sa.Column("incident_shared", sa.Boolean(), nullable=False),
        sa.Column("recipient_org_ids", sa.JSON(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("withheld_reason", sa.Text(), nullable=False),
        sa.Column("informed_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        *_shareable("nis2_informations"),
        _incident_fk("nis2_informations"),
    )
    with op.batch_alter_table("nis2_informations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nis2_informations_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_nis2_informations_owner_org_id"), ["owner_org_id"], unique=False)

    op.create_table(
        "nis2_forwardings",
        sa.Column("incident_id", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spoc_org_id", sa.String(length=120), nullable=False),
        sa.Column("member_states", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("requested_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("forwarded_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("forwarded_by_id", sa.String(length=120), nullable=True),
        sa.Column("target_org_ids", sa.JSON(), nullable=False),
        *_shareable("nis2_forwardings"),
        _incident_fk("nis2_forwardings"),
        sa.ForeignKeyConstraint(
            ["spoc_org_id"], ["organisations.id"], name=op.f("fk_nis2_forwardings_spoc_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["forwarded_by_id"], ["users.id"], name=op.f("fk_nis2_forwardings_forwarded_by_id_users")
        ),
    )
    with op.batch_alter_table("nis2_forwardings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nis2_forwardings_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_nis2_forwardings_owner_org_id"), ["owner_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_nis2_forwardings_spoc_org_id"), ["spoc_org_id"], unique=False)

    op.create_table(
        "nis2_quarterly_summaries",
        sa.Column("quarter", sa.String(length=7), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("submitted_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("supersedes_id", sa.String(length=120), nullable=True),
        *_shareable("nis2_quarterly_summaries"),
    )
    with op.batch_alter_table("nis2_quarterly_summaries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nis2_quarterly_summaries_quarter"), ["quarter"], unique=False)
        batch_op.create_index(batch_op.f("ix_nis2_quarterly_summaries_owner_org_id"), ["owner_org_id"], unique=False)


def downgrade() -> None:
    op.drop_table("nis2_quarterly_summaries")
    op.drop_table("nis2_forwardings")
    op.drop_table("nis2_informations")
