from __future__ import annotations

from typing import Annotated

import typer

from cybercrisis.accounts import service
from cybercrisis.cli.common import console, db, read_secret_from_stdin

app = typer.Typer(help="User accounts.", no_args_is_help=True)


@app.command("create")
def create(
    org: Annotated[str, typer.Option(help="organisation id or short name")],
    role: Annotated[list[str], typer.Option(help="viewer, analyst, coordinator, org-admin, platform-admin")],
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option(help="display name")] = "",
) -> None:
    """Create a user. The password is read from stdin when piped, else generated and printed once."""
    password = read_secret_from_stdin()
    with db() as session:
        user, generated = service.create_user(
            session,
            actor=service.SYSTEM,
            org_ref=org,
            email=email,
            roles=role,
            password=password,
            display_name=name,
        )
        console.print(f"created {user.email} ({', '.join(user.roles)}) in {user.organisation.short_name}: {user.id}")
    if generated:
        console.print(f"password (shown once): {generated}", highlight=False)


@app.command("list")
def list_(org: Annotated[str, typer.Option(help="organisation id or short name")]) -> None:
    """List the users of an organisation."""
    with db(write=False) as session:
        o = service.find_org(session, org)
        for u in service.list_users(session, actor=service.SYSTEM, org_id=o.id):
            console.print(f"{u.email}\t{','.join(u.roles)}\t{'active' if u.is_active else 'inactive'}\t{u.id}")


@app.command("deactivate")
def deactivate(email: Annotated[str, typer.Argument()]) -> None:
    """Deactivate a user: their sessions end and their tokens stop working."""
    from sqlalchemy import select

    from cybercrisis.accounts.models import User

    with db() as session:
        user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
        if user is None:
            console.print(f"no user {email}")
            raise typer.Exit(1)
        service.update_user(session, actor=service.SYSTEM, user_id=user.id, roles=None, is_active=False)
        console.print(f"deactivated {user.email}")
