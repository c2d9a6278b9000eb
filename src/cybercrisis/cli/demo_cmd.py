from __future__ import annotations

import typer

from cybercrisis import demo
from cybercrisis.cli.common import console, db, settings

app = typer.Typer(help="Demo data.", no_args_is_help=True)


@app.command("load")
def load() -> None:
    """Load the demo directory, users and documents (idempotent)."""
    with db() as session:
        result = demo.load(session, data_dir=settings().data_dir)
    d = result.directory
    console.print(
        f"directory: {d.created} created, {d.updated} updated, {d.unchanged} unchanged, "
        f"{d.contacts_created} contacts added; users created: {result.users_created}"
    )
    print_credentials()


def print_credentials() -> None:
    import json

    path = demo.credentials_file(settings().data_dir)
    if not path.exists():
        return
    creds = json.loads(path.read_text())
    console.print("[bold]Demo logins[/bold] (password for all: [bold]" + creds["password"] + "[/bold])")
    for email in creds["users"]:
        console.print(f"  {email}")
