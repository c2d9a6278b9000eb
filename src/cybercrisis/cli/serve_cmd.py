from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING, Annotated

import typer

from cybercrisis import datadir, migrate
from cybercrisis.cli import workers as workers_module
from cybercrisis.cli.common import console, err, settings
from cybercrisis.db import make_engine
from cybercrisis.errors import SchemaOutOfDate

if TYPE_CHECKING:
    from fastapi import FastAPI

APP = "cybercrisis.cli.serve_cmd:served_app"  # imported by each server process


def served_app() -> FastAPI:
    """The app as each server process (worker) runs it: created, then its start-up objects frozen."""
    from cybercrisis.app import create_app

    app = create_app()
    # Everything alive now (modules, routes, templates, mappers) lives as long as the process. Freezing it
    # takes it out of every later collection, which otherwise walks those objects again and again: about a
    # quarter of a report draft's CPU (0.58 s -> 0.45 s measured). Only here, not in create_app: the tests
    # create many apps, and cycles among frozen objects are never collected.
    gc.freeze()
    return app


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
    log_level = s.log_level.lower()
    if workers > 1 and workers_module.REUSE_PORT:
        # What uvicorn.run does with workers, but each worker on a socket of its own (cli/workers.py says why).
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config(
            APP, factory=True, host=host, port=port, workers=workers, log_level=log_level, proxy_headers=False
        )
        Multiprocess(config, sockets=[workers_module.WorkerListener(host, port)]).run()
        return
    uvicorn.run(APP, factory=True, host=host, port=port, workers=workers, log_level=log_level, proxy_headers=False)
