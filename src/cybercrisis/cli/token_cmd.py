from __future__ import annotations

from typing import Annotated

import typer

from cybercrisis.accounts import service
from cybercrisis.cli.common import console, db, settings

app = typer.Typer(help="API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    user: Annotated[str, typer.Option(help="the user's e-mail or id")],
    expires_days: Annotated[int | None, typer.Option(help="validity in days")] = None,
    name: Annotated[str, typer.Option()] = "cli",
    scope: Annotated[list[str] | None, typer.Option(help="limit to these permissions (repeat)")] = None,
) -> None:
    """Create an API token; the token is the last word printed, and is shown once."""
    days = expires_days or settings().token_default_days
    with db() as session:
        text, token = service.create_token(
            session, actor=service.SYSTEM, user_ref=user, name=name, scopes=scope, expires_days=days
        )
        console.print(f"token {token.id} for {token.user.email}, expires {token.expires_at:%Y-%m-%d}")
    typer.echo(text)


@app.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a token by its id."""
    with db() as session:
        service.revoke_token(session, actor=service.SYSTEM, token_id=token_id)
    console.print(f"revoked {token_id}")
