"""`cybercrisis export stix`: one STIX 2.1 bundle of everything a user (`--as`) may see."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cybercrisis.cli.common import AS_HELP, actor_for, console, db, err, settings
from cybercrisis.exchange import stix_bundles

app = typer.Typer(help="Export what you may see in exchange formats (STIX 2.1).", no_args_is_help=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(1)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _fail(f"--since '{value}' is not an ISO 8601 time, e.g. 2026-11-28T00:00Z") from None
    if moment.tzinfo is None:
        raise _fail(f"--since '{value}' has no time zone: add Z for UTC, e.g. 2026-11-28T00:00Z")
    return moment.astimezone(UTC)


@app.command("stix")
def export_stix(
    out: Annotated[Path, typer.Option("--out", help="the bundle file to write (replaced atomically)")],
    as_user: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
    since: Annotated[str | None, typer.Option(help="only objects changed since this ISO 8601 time")] = None,
) -> None:
    """Every incident (with its observables and NIS2 reports), early warning and published situation report the
    user may see, as one STIX 2.1 bundle; prints a summary line with the counts."""
    moment = _since(since)
    target = out.expanduser()
    if not target.parent.is_dir():
        raise _fail(f"no directory {target.parent} to write {target.name} into")
    s = settings()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with db(write=False) as session, os.fdopen(fd, "w", encoding="utf-8") as fh:
            reader = actor_for(session, as_user)
            writer = stix_bundles.BundleWriter(fh)
            counts = stix_bundles.export_all(session, writer, reader=reader, settings=s, since=moment)
            writer.finish(session)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    console.print(
        f"exported {counts.incidents} incidents, {counts.observables} observables, {counts.reports} reports, "
        f"{counts.alerts} alerts, {counts.sitreps} situation reports: {len(writer.ids)} STIX objects to "
        f"{escape(str(target))}",
        highlight=False,
    )
