"""federation trust: signed share lists, per-holder copies of observables

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 02:30:00

- `stix_objects.shares`: the share list a version travels with, signed with it (exchange/node.py).
- One row per version of a copy: the unique key (id, modified) becomes (id, modified, share_id), so that an
  observable held in two incidents, or imported by two organisations, is two copies (exchange/copies.py).
- This node's versions were signed without their share list: they become unsigned, and the signer job signs them
  again with it. Versions received from peers keep the signature they came with (`shares` stays NULL: they are
  served with an empty list and peers refuse them, as the origin node must upgrade).
- Objects derived from an incident (countries, CVEs) that were stored as public rows become rows of that incident
  (its TLP and share list), as publish.py now stores them: the public row named the incident it came from.
- On SQLite the table becomes AUTOINCREMENT, so that no `seq` is ever handed out twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On SQLite the table is copied anew (a constraint changes), as AUTOINCREMENT: a deleted or re-served row's seq
    # is never handed out again, so keyset cursors never skip a row (exchange/models.py).
    with op.batch_alter_table("stix_objects", schema=None, table_kwargs={"sqlite_autoincrement": True}) as batch_op:
        batch_op.add_column(sa.Column("shares", sa.JSON(), nullable=True))
        batch_op.drop_constraint("uq_stix_objects_version", type_="unique")
        batch_op.create_unique_constraint("uq_stix_objects_version", ["id", "modified", "share_id"])
    op.execute(
        "UPDATE stix_objects SET signed = false, signature = NULL WHERE origin_node IS NULL"  # re-signed by the job
    )
    # substr(origin, 7): the incident id of a row published from one (origin 'local:<incident id>')
    op.execute(
        "UPDATE stix_objects SET share_id = substr(origin, 7), "
        "tlp = (SELECT incidents.tlp FROM incidents WHERE incidents.id = substr(stix_objects.origin, 7)) "
        "WHERE origin LIKE 'local:incident--%' AND origin_node IS NULL AND share_id <> substr(origin, 7) "
        "AND EXISTS (SELECT 1 FROM incidents WHERE incidents.id = substr(stix_objects.origin, 7))"
    )


def downgrade() -> None:
    # Copies of one version beyond the first cannot live under the old key: the first (lowest seq) stays.
    op.execute(
        "DELETE FROM stix_objects WHERE EXISTS (SELECT 1 FROM stix_objects AS older WHERE older.id = stix_objects.id "
        "AND older.modified = stix_objects.modified AND older.seq < stix_objects.seq)"
    )
    with op.batch_alter_table("stix_objects", schema=None) as batch_op:
        batch_op.drop_constraint("uq_stix_objects_version", type_="unique")
        batch_op.create_unique_constraint("uq_stix_objects_version", ["id", "modified"])
        batch_op.drop_column("shares")
    op.execute(
        "UPDATE stix_objects SET latest = (modified = (SELECT max(o.modified) FROM stix_objects AS o "
        "WHERE o.id = stix_objects.id))"
    )
    op.execute("UPDATE stix_objects SET signed = false, signature = NULL WHERE origin_node IS NULL")
