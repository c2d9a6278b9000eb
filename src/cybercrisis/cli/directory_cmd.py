from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cybercrisis.access.principal import ANONYMOUS
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.cli.common import console, db
from cybercrisis.directory import exchange

app = typer.Typer(help="Import and export the directory.", no_args_is_help=True)


@app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", help="json or csv")] = "json",
    out: Annotated[Path | None, typer.Option(help="file; default stdout")] = None,
) -> None:
    """Export organisations (CSV) or organisations and public (TLP:CLEAR) contacts (JSON)."""
    if fmt not in ("json", "csv"):
        raise typer.BadParameter("json or csv", param_hint="--format")
    with db(write=False) as session:
        text = exchange.export_csv(session) if fmt == "csv" else exchange.export_json(session, principal=ANONYMOUS)
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")
    else:
        typer.echo(text)


@app.command("import")
def import_(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Import (upsert) a directory file, JSON or CSV by its extension."""
    fmt = "csv" if file.suffix.lower() == ".csv" else "json"
    with db() as session:
        result = exchange.import_directory(session, actor=SYSTEM, text=file.read_text(encoding="utf-8-sig"), fmt=fmt)
    r = result.as_dict()
    console.print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in r.items()))
