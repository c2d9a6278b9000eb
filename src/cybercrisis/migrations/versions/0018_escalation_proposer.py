"""escalations: the proposing organisation, kept on the row (ADR 0013 step 3)

A move's proposer was known only through the user who proposed it (`created_by_id`), and users do not travel: a
node holding a crisis as a replica could not say who proposed a move. `proposed_by_org_id` keeps the organisation
(filled from the proposing user's organisation for existing rows).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 17:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("escalations") as batch_op:
        batch_op.add_column(sa.Column("proposed_by_org_id", sa.String(length=120), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_escalations_proposed_by_org_id_organisations"),
            "organisations",
            ["proposed_by_org_id"],
            ["id"],
        )
    op.execute(
        "UPDATE escalations SET proposed_by_org_id = "
        "(SELECT users.org_id FROM users WHERE users.id = escalations.created_by_id) "
        "WHERE created_by_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_escalations_proposed_by_org_id_organisations"), type_="foreignkey")
        batch_op.drop_column("proposed_by_org_id")
