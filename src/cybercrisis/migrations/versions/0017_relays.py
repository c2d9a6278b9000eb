"""relays: versions passed on by a hub, the nodes pinned through it, and answers relayed to their origin (ADR 0013)

`stix_objects.relayed_by` names the node that relayed a version here (NULL: from its origin, or ours); `peers.relay`
says this node passes other origins' versions on to that peer (false for every existing peer); `node_pins`
holds the nodes whose versions and answers arrive through a relay; `answers` gains what a relay keeps of an answer
it forwards (the asking node and its signature). Schema only: NULL for every existing row.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cybercrisis.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stix_objects") as batch_op:
        batch_op.add_column(sa.Column("relayed_by", sa.String(length=120), nullable=True))
    with op.batch_alter_table("peers") as batch_op:
        batch_op.add_column(sa.Column("relay", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("answers") as batch_op:
        batch_op.add_column(sa.Column("relayed_for", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("signature", sa.JSON(), nullable=True))
    op.create_table(
        "node_pins",
        sa.Column("node_id", sa.String(length=120), nullable=False),
        sa.Column("via_peer_id", sa.String(length=120), nullable=False),
        sa.Column("organisation_id", sa.String(length=120), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("created_at", cybercrisis.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.String(length=120), nullable=True),
        sa.ForeignKeyConstraint(
            ["via_peer_id"], ["peers.id"], name=op.f("fk_node_pins_via_peer_id_peers"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_node_pins_organisation_id_organisations")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_node_pins_created_by_id_users")),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_node_pins")),
    )


def downgrade() -> None:
    op.drop_table("node_pins")
    with op.batch_alter_table("answers") as batch_op:
        batch_op.drop_column("signature")
        batch_op.drop_column("relayed_for")
    with op.batch_alter_table("peers") as batch_op:
        batch_op.drop_column("relay")
    with op.batch_alter_table("stix_objects") as batch_op:
        batch_op.drop_column("relayed_by")
