"""reserve: requests to the EU Cybersecurity Reserve follow Reg. (EU) 2025/38 Art. 15 and 16

Adds to assistance_requests: potential_impact (Art. 16 point (c)), the SPOC's transmission act (Art. 15(3):
transmitted_by_org_id, transmitted_by_id, transmitted_at) and response_due_at (the deployment's response target,
CYBERCRISIS_RESERVE_RESPONSE_HOURS from the transmission).

Existing requests: the requester (owner_org_id) stays as recorded, even where it is an SPOC that asked in its own
name under the earlier rule; nothing here re-attributes a request to a CSIRT or crisis authority, since the record
does not say which one the SPOC acted for. A Reserve request that existed before this revision was sent by its
SPOC, so it is marked transmitted by its requester's organisation at its creation time, with no user: that is
derived here, not recorded by anyone, and the timeline shows no transmission event for it. potential_impact stays
null (not stated) and ranks after every stated value; response_due_at stays null (no time limit is invented).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cybercrisis.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("assistance_requests") as batch_op:
        batch_op.add_column(sa.Column("potential_impact", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("transmitted_by_org_id", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("transmitted_by_id", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("transmitted_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("response_due_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_assistance_requests_transmitted_by_org_id_organisations"),
            "organisations",
            ["transmitted_by_org_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_assistance_requests_transmitted_by_id_users"), "users", ["transmitted_by_id"], ["id"]
        )
    requests = sa.table(
        "assistance_requests",
        sa.column("id", sa.String),
        sa.column("owner_org_id", sa.String),
        sa.column("created_at", cybercrisis.db.UTCDateTime(timezone=True)),
        sa.column("recipients", sa.JSON),
        sa.column("transmitted_by_org_id", sa.String),
        sa.column("transmitted_at", cybercrisis.db.UTCDateTime(timezone=True)),
    )
    conn = op.get_bind()
    for row in conn.execute(
        sa.select(requests.c.id, requests.c.owner_org_id, requests.c.created_at, requests.c.recipients)
    ).all():
        if isinstance(row.recipients, dict) and row.recipients.get("reserve"):
            conn.execute(
                requests.update()
                .where(requests.c.id == row.id)
                .values(transmitted_by_org_id=row.owner_org_id, transmitted_at=row.created_at)
            )


def downgrade() -> None:
    with op.batch_alter_table("assistance_requests") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_assistance_requests_transmitted_by_id_users"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_assistance_requests_transmitted_by_org_id_organisations"), type_="foreignkey"
        )
        for column in (
            "response_due_at",
            "transmitted_at",
            "transmitted_by_id",
            "transmitted_by_org_id",
            "potential_impact",
        ):
            batch_op.drop_column(column)
