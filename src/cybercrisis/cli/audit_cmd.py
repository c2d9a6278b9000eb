from __future__ import annotations

import typer

from cybercrisis.audit import service
from cybercrisis.cli.common import console, db, err

app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Check the hash chain; exit 1 naming the first bad entry."""
    with db(write=False) as session:
        result = service.verify(session)
    if result.ok:
        console.print(f"audit chain intact: {result.checked} entries, head {result.head}")
        return
    err.print(
        f"[red]audit chain BROKEN at entry {result.first_bad_seq}[/red]: {result.reason} "
        f"({result.checked} entries verified before it)"
    )
    raise typer.Exit(1)
