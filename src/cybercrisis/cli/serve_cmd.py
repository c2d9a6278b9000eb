from __future__ import annotations

import os
from typing import Annotated

import typer

from cybercrisis import datadir, migrate
from cybercrisis.cli.common import console, err, settings
from cybercrisis.db import make_engine
from cybercrisis.errors import SchemaOutOfDate


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="create the schema and load the demo data if needed")] = False,
    workers: Annotated[int, typer.Option(help="server processes (PostgreSQL for more than one)")] = 1,
) -> None:
    """Run the web service."""
    import uvicorn

    s = settings()
    # What this server and its workers create (database, keys, node files, evidence) is its user's alone.
    os.umask(0o077)
    datadir.prepare(s.data_dir)
    engine = make_engine(s.effective_database_url, pool=False)
    if demo:
        migrate.upgrade(engine)
        from cybercrisis.cli.demo_cmd import load

        load()
    else:
        try:
            migrate.check_schema(engine)
        except SchemaOutOfDate as exc:
            err.print(f"[red]refusing to start:[/red] {exc}")
            raise typer.Exit(2) from None
    engine.dispose()
    if workers > 1 and s.effective_database_url.startswith("sqlite"):
        err.print("[yellow]several workers need PostgreSQL; starting one[/yellow]")
        workers = 1
    console.print(f"cybercrisis on http://{host}:{port}  (database: {engine.url.render_as_string(hide_password=True)})")
    uvicorn.run(
        "cybercrisis.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=s.log_level.lower(),
        proxy_headers=False,
    )
