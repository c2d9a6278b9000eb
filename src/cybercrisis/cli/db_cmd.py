from __future__ import annotations

import typer

from cybercrisis import datadir, migrate
from cybercrisis.cli.common import console, settings
from cybercrisis.db import make_engine

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply the migrations up to the code's schema version."""
    s = settings()
    datadir.prepare(s.data_dir)
    engine = make_engine(s.effective_database_url, pool=False)
    migrate.upgrade(engine)
    console.print(f"schema at {migrate.current_revision(engine)} on {engine.url.render_as_string(hide_password=True)}")
    engine.dispose()


@app.command("status")
def status() -> None:
    """Show the schema version of the database and of the code."""
    engine = make_engine(settings().effective_database_url, pool=False)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    console.print(
        f"database: {current or 'empty'}   code: {head}   {'up to date' if current == head else 'OUT OF DATE'}"
    )
    engine.dispose()
    if current != head:
        raise typer.Exit(1)
