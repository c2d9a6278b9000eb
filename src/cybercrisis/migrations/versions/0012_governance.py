"""governance: a role on each community membership, and the legal basis of a community's roles

A community membership now says what the organisation is in the community: `member`, `observer`,
`secretariat` or `invited-observer` (NIS2 Art. 14(2), 15(2), 16(2); Council Implementing Decision (EU) 2018/1993
for IPCR). Every role reads what the community reads; only members decide. A community gains `basis`, the
text that says where its roles come from (empty for existing communities).

Data: every existing membership row becomes `member` (the column's server default), which is what each row
meant before this revision. No row is reclassified here: a deployment whose directory holds an observer or a
secretariat as a member (as the old demo directory did) corrects it through the directory (API, page or
`cybercrisis directory import`), where the change is audited.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("community_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=24), nullable=False, server_default="member"))
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("basis", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.drop_column("basis")
    with op.batch_alter_table("community_members", schema=None) as batch_op:
        batch_op.drop_column("role")
