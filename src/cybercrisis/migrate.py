"""Schema migrations (Alembic), and the start-up check that refuses an out-of-date schema."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from cybercrisis.errors import SchemaOutOfDate

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.cache
def head_revision() -> str | None:
    # The scripts ship with the code: their head cannot change while this process runs, and parsing them costs
    # ~25 ms per create_app (once per server, once per test).
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def autogenerate(engine: Engine, message: str) -> None:
    """Developer helper: write a new revision from the difference between models and database."""
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


def check_schema(engine: Engine) -> None:
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing (empty database)'}, the code needs {head}: "
            "run `cybercrisis db upgrade` (or `cybercrisis serve --demo` on a new database)"
        )
