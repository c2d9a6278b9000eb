"""Migration 0008: rows stored before the input checks with lone surrogates are repaired (U+FFFD), on SQLite and
PostgreSQL, leaving valid text (surrogate pairs, Hangul, a backslash followed by `ud800`) as it was."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import migrate
from cybercrisis.db import make_engine, unit_of_work, utcnow
from cybercrisis.exchange.models import StixObject, TaxiiStatus
from tests.conftest import World
from tests.exchange.test_stix_import import indicator

MIGRATION = migrate.MIGRATIONS / "versions" / "0008_input_hygiene.py"


def migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0008", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(obj: dict[str, Any], org: str) -> dict[str, Any]:
    return {
        "id": obj["id"],
        "modified": utcnow(),
        "type": obj["type"],
        "spec_version": "2.1",
        "data": obj,
        "tlp": "green",
        "owner_org_id": org,
        "origin": "test",
        "share_id": obj["id"],
        "added_at": utcnow(),
        "latest": True,
        "signed": False,
        "custom": False,
        "revoked": False,
        "exercise": False,
    }


def test_repair_replaces_lone_surrogates_in_json_columns_and_keeps_valid_text(
    engine: Engine, session_factory: sessionmaker[Session], world: World, client: TestClient
) -> None:
    org = world.org("CERT-FR", country="FR")
    user = world.user("CERT-FR")
    bad = indicator(name="a\ud800b", description="pair \U0001f600, 한국어, \\ud800 as text", labels=["\udc00"])
    bad["x_\udbff"] = {"deep": [["\ud800\ud800"]]}
    fine = indicator(name="😀 한국어")
    status_id = str(uuid.uuid4())
    with unit_of_work(session_factory) as s:
        s.execute(insert(StixObject.__table__), [row(bad, org), row(fine, org)])  # type: ignore[arg-type]
        s.add(
            TaxiiStatus(
                id=status_id,
                user_id=user.user_id,
                collection_id="c",
                request_timestamp=utcnow(),
                total_count=1,
                success_count=0,
                failure_count=1,
                pending_count=0,
                details={"failures": [{"id": "x\ud800", "message": "m"}]},
            )
        )
    with engine.begin() as conn:
        assert migration().repair(conn) == 2
    with unit_of_work(session_factory, write=False) as s:
        stored = {r.id: r.data for r in s.scalars(select(StixObject))}
        details = s.get_one(TaxiiStatus, status_id).details
    assert stored[bad["id"]]["name"] == "a\ufffdb"
    assert stored[bad["id"]]["description"] == "pair \U0001f600, 한국어, \\ud800 as text"
    assert stored[bad["id"]]["labels"] == ["\ufffd"]
    assert stored[bad["id"]]["x_\ufffd"] == {"deep": [["\ufffd\ufffd"]]}
    assert stored[fine["id"]] == fine
    assert details["failures"][0]["id"] == "x\ufffd"
    with engine.begin() as conn:
        assert migration().repair(conn) == 0  # nothing left, nothing rewritten twice
    # The store answers again.
    assert client.get("/api/v1/stix-objects", headers=user.headers).status_code == 200


def test_upgrade_from_0007_repairs_what_was_stored(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool=False)
    migrate.upgrade(engine, "0007")
    meta = sa.MetaData()
    meta.reflect(engine, only=["organisations", "stix_objects"])
    orgs, objects = meta.tables["organisations"], meta.tables["stix_objects"]
    now = datetime.now(UTC)
    org = "identity--00000000-0000-4000-8000-000000000001"
    with engine.begin() as conn:
        given = {
            "id": org,
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
        conn.execute(orgs.insert().values(**{k: v for k, v in given.items() if k in orgs.c}))
        values = row(indicator(name="x\ud800"), org)
        conn.execute(objects.insert().values(**{k: v for k, v in values.items() if k in objects.c}))
    migrate.upgrade(engine, "0008")
    with engine.connect() as conn:
        assert conn.execute(sa.select(objects.c.data)).scalar_one()["name"] == "x\ufffd"
    migrate.upgrade(engine, "head")
    engine.dispose()
