"""Migration 0012: memberships that existed before roles keep meaning what they meant, plain membership."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from cybercrisis import migrate
from cybercrisis.db import make_engine


def test_existing_memberships_become_members_and_communities_get_an_empty_basis(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool=False)
    migrate.upgrade(engine, "0011")
    meta = sa.MetaData()
    meta.reflect(engine, only=["organisations", "communities", "community_members"])
    orgs, communities, members = (meta.tables[t] for t in ("organisations", "communities", "community_members"))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            communities.insert().values(slug="eu-cyclone", name="EU-CyCLONe", level="operational", description="")
        )
        for i, short in enumerate(("EEAS", "ANSSI-CRISIS"), start=1):
            org = {
                "id": f"identity--00000000-0000-4000-8000-00000000000{i}",
                "name": short,
                "short_name": short,
                "type": "eu-body",
                "created_at": now,
                "modified_at": now,
                "levels": [],
                "description": "",
                "website": "",
                "country": None,
                "version": 1,
                "parent_id": None,
            }
            conn.execute(orgs.insert().values(**{k: v for k, v in org.items() if k in orgs.columns}))
            conn.execute(members.insert().values(org_id=org["id"], community_slug="eu-cyclone"))
    migrate.upgrade(engine, "0012")
    with engine.connect() as conn:
        roles = conn.execute(sa.text("SELECT role FROM community_members")).scalars().all()
        basis = conn.execute(sa.text("SELECT basis FROM communities")).scalars().all()
    engine.dispose()
    assert roles == ["member", "member"]  # the data migration reclassifies nothing: the directory does, audited
    assert basis == [""]
