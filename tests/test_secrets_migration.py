"""Migration 0009 and the start-up step: secrets stored in clear are sealed with the server's key, and a downgrade
opens them again for the older code."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from cybercrisis import migrate, secretbox
from cybercrisis.config import Settings, get_settings
from cybercrisis.db import make_engine, make_sessionmaker

KEY = "the-servers-own-key-" + "k" * 30


def test_secrets_from_before_are_sealed_at_start_and_opened_again_by_a_downgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool=False)
    migrate.upgrade(engine, "0008")
    meta = sa.MetaData()
    meta.reflect(engine, only=["organisations", "notification_routes", "peers"])
    orgs, routes, peers = meta.tables["organisations"], meta.tables["notification_routes"], meta.tables["peers"]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        org = {
            "id": "identity--00000000-0000-4000-8000-000000000001",
            "name": "CERT-FR",
            "short_name": "CERT-FR",
            "type": "national-csirt",
            "created_at": now,
            "modified_at": now,
            "levels": [],
            "description": "",
            "website": "",
            "country": "FR",
            "version": 1,
            "parent_id": None,
        }
        conn.execute(orgs.insert().values(**{k: v for k, v in org.items() if k in orgs.columns}))
        conn.execute(
            routes.insert().values(
                id=1,
                org_id=org["id"],
                events=["*"],
                channel="webhook",
                target="https://soc.example/hook",
                secret="old-webhook-secret-1234",
                active=True,
                created_at=now,
            )
        )
        conn.execute(
            peers.insert().values(
                id="peer--1",
                url="https://node.example/taxii2/",
                api_root="r",
                title="",
                node_id="identity--peer",
                token="cc_old_token",
                direction="pull",
                collections=[],
                keys=[],
                relayed_keys={},
                timeout_seconds=5.0,
                enabled=True,
                created_at=now,
                pulled=0,
                pushed=0,
                rejected=0,
            )
        )
    migrate.upgrade(engine, "0009")
    settings = Settings(secret_key=KEY)
    assert secretbox.seal_stored(make_sessionmaker(engine), settings) == 2
    assert secretbox.seal_stored(make_sessionmaker(engine), settings) == 0  # idempotent
    with engine.connect() as conn:
        secret = conn.execute(sa.select(routes.c.secret)).scalar_one()
        token = conn.execute(sa.select(peers.c.token)).scalar_one()
    assert secret.startswith("enc1:") and "old-webhook-secret" not in secret
    assert token.startswith("enc1:") and "cc_old_token" not in token
    assert secretbox.reveal(settings, secretbox.ROUTE_SECRET, secret) == "old-webhook-secret-1234"

    monkeypatch.setenv("CYBERCRISIS_SECRET_KEY", KEY)
    get_settings.cache_clear()
    cfg = migrate._config()
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0008")
    finally:
        get_settings.cache_clear()
    with engine.connect() as conn:
        assert conn.execute(sa.select(routes.c.secret)).scalar_one() == "old-webhook-secret-1234"
        assert conn.execute(sa.select(peers.c.token)).scalar_one() == "cc_old_token"
    engine.dispose()
