"""Alembic environment: runs against the connection handed in by cybercrisis.migrate."""

from __future__ import annotations

from alembic import context

import cybercrisis.models  # noqa: F401 - registers every table on Base.metadata
from cybercrisis.db import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through cybercrisis.migrate
    raise RuntimeError("run migrations with `cybercrisis db upgrade`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
