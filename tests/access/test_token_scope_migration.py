"""Migration 0007: tokens issued before scopes bounded reads keep reading what they read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from cybercrisis import migrate
from cybercrisis.access.permissions import READ_SCOPES, Permission
from cybercrisis.db import make_engine


def test_existing_tokens_gain_the_read_scopes_and_senders_the_acknowledge_permission(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool=False)
    migrate.upgrade(engine, "0006")
    meta = sa.MetaData()
    meta.reflect(engine, only=["organisations", "users", "api_tokens"])
    orgs, users, tokens = meta.tables["organisations"], meta.tables["users"], meta.tables["api_tokens"]
    now = datetime.now(UTC)
    org_columns = {c.name for c in orgs.columns}
    with engine.begin() as conn:
        org = {
            "id": "identity--00000000-0000-4000-8000-000000000001",
            "name": "CERT-FR",
            "short_name": "CERT-FR",
            "type": "national-csirt",
        }
        defaults = {
            "created_at": now,
            "modified_at": now,
            "levels": [],
            "description": "",
            "website": "",
            "country": "FR",
            "version": 1,
            "parent_id": None,
        }
        conn.execute(orgs.insert().values(**org, **{k: v for k, v in defaults.items() if k in org_columns}))
        for n, roles in enumerate((["viewer"], ["analyst"])):
            uid = f"user--00000000-0000-4000-8000-00000000000{n}"
            conn.execute(
                users.insert().values(
                    id=uid,
                    email=f"u{n}@cert-fr.example",
                    display_name="",
                    org_id=org["id"],
                    roles=roles,
                    password_hash=None,
                    is_active=True,
                    created_at=now,
                    modified_at=now,
                )
            )
        old_viewer = ["accounts:token:write-own", "directory:organisation:read"]
        old_analyst = [*old_viewer, "alerts:alert:send", "incidents:incident:write"]
        for n, scopes in enumerate((old_viewer, old_analyst)):
            user = f"user--00000000-0000-4000-8000-00000000000{n}"
            conn.execute(
                tokens.insert().values(
                    id=f"api-token--{n}",
                    user_id=user,
                    name="",
                    token_hash=f"{n:064d}",
                    prefix="x",
                    scopes=scopes,
                    created_at=now,
                    expires_at=now + timedelta(days=1),
                )
            )
    migrate.upgrade(engine, "0007")
    with engine.connect() as conn:
        got = dict(conn.execute(sa.select(tokens.c.id, tokens.c.scopes)).all())
    reads = {p.value for p in READ_SCOPES}
    assert set(got["api-token--0"]) == reads | {"accounts:token:write-own"}
    assert set(got["api-token--1"]) == reads | set(old_analyst) | {Permission.ALERT_ACKNOWLEDGE.value}
    migrate.upgrade(engine, "head")
    engine.dispose()
