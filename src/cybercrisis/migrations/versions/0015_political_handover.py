"""political hand-over: EU-CyCLONe impact assessments, and the audience figures of political reports

Schema only, no data change: `impact_assessments` is a new table (NIS2 Art. 16(3)(c), (d)); `sitrep_versions` gains
the audience's sources, figures and digest, empty for every existing version (reports published before this
revision keep showing each reader the sources it may see).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cybercrisis.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "impact_assessments",
        sa.Column("crisis_id", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("impacts", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("deciders", sa.JSON(), nullable=False),
        sa.Column("submitted_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submitted_by_id", sa.String(length=120), nullable=True),
        sa.Column("discussed_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("discussion", sa.Text(), nullable=False),
        sa.Column("decided_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_org_id", sa.String(length=120), nullable=True),
        sa.Column("decided_by_id", sa.String(length=120), nullable=True),
        sa.Column("chosen_option", sa.String(length=40), nullable=True),
        sa.Column("decision_rationale", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("created_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("exercise", sa.Boolean(), nullable=False),
        sa.Column("owner_org_id", sa.String(length=120), nullable=False),
        sa.Column("created_by_id", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["crisis_id"], ["crises.id"], name=op.f("fk_impact_assessments_crisis_id_crises"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"], ["users.id"], name=op.f("fk_impact_assessments_submitted_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_impact_assessments_decided_by_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_impact_assessments_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_impact_assessments_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"], ["organisations.id"], name=op.f("fk_impact_assessments_owner_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_assessments")),
    )
    with op.batch_alter_table("impact_assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_impact_assessments_crisis_id"), ["crisis_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_impact_assessments_owner_org_id"), ["owner_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_impact_assessments_state"), ["state"], unique=False)
    with op.batch_alter_table("sitrep_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("audience_sources", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("audience_figures", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("audience_digest", sa.String(length=64), nullable=True))

    # --- part G (issue 13, who decides): the Commission's EU-CyCLONe role per crisis (NIS2 Art. 16(2)), IPCR
    # activation by one of several organisations and the consultations recorded before it (Council Implementing
    # Decision (EU) 2018/1993, IPCR arrangements). Schema only: every existing crisis gets `observer` (the Commission's
    # role "in other cases", Art. 16(2)); every existing escalation gets empty any_of / consult lists, i.e. exactly
    # the all-must-agree rule it was proposed under.
    with op.batch_alter_table("crises", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("commission_role", sa.String(length=16), nullable=False, server_default="observer")
        )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("any_of", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("consult", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "escalation_consultations",
        sa.Column("escalation_id", sa.String(length=120), nullable=False),
        sa.Column("org_id", sa.String(length=120), nullable=False),
        sa.Column("consulted_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("view", sa.Text(), nullable=False),
        sa.Column("recorded_by_org_id", sa.String(length=120), nullable=False),
        sa.Column("recorded_by_id", sa.String(length=120), nullable=True),
        sa.Column("at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["escalation_id"],
            ["escalations.id"],
            name=op.f("fk_escalation_consultations_escalation_id_escalations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_escalation_consultations_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_org_id"],
            ["organisations.id"],
            name=op.f("fk_escalation_consultations_recorded_by_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_escalation_consultations_recorded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("escalation_id", "org_id", name=op.f("pk_escalation_consultations")),
    )
    # --- end of part G


def downgrade() -> None:
    # --- part G
    op.drop_table("escalation_consultations")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_column("consult")
        batch_op.drop_column("any_of")
    with op.batch_alter_table("crises", schema=None) as batch_op:
        batch_op.drop_column("commission_role")
    # --- end of part G
    with op.batch_alter_table("sitrep_versions", schema=None) as batch_op:
        batch_op.drop_column("audience_digest")
        batch_op.drop_column("audience_figures")
        batch_op.drop_column("audience_sources")
    with op.batch_alter_table("impact_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_impact_assessments_state"))
        batch_op.drop_index(batch_op.f("ix_impact_assessments_owner_org_id"))
        batch_op.drop_index(batch_op.f("ix_impact_assessments_crisis_id"))
    op.drop_table("impact_assessments")
