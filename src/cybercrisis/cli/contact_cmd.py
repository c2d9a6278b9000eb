from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.cli.common import console, db
from cybercrisis.directory import service

app = typer.Typer(help="Contacts of organisations (TLP-marked, shared like any object).", no_args_is_help=True)

AS_HELP = "act as this user (e-mail): what they may see and do; default: the operator, who sees TLP:CLEAR only"


def _actor(session: Session, email: str | None) -> Principal:
    if not email:
        return accounts.SYSTEM
    user = session.scalars(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        console.print(f"no user {email}")
        raise typer.Exit(1)
    return accounts.principal_for(session, user)


@app.command("list")
def list_(
    org: Annotated[str, typer.Option(help="organisation id or short name")],
    as_user: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the contacts of an organisation that the reader may see."""
    with db(write=False) as session:
        o = accounts.find_org(session, org)
        rows: list[dict[str, Any]] = [
            {"id": c.id, "kind": c.kind, "label": c.label, "value": c.value, "tlp": c.tlp,
             "pgp_fingerprint": c.pgp_fingerprint}
            for c in service.contacts_of(session, principal=_actor(session, as_user), org_id=o.id)
        ]  # fmt: skip
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        console.print(f"TLP:{r['tlp'].upper():13} {r['kind']:15} {r['label']}: {r['value']}", highlight=False)
    console.print(f"{len(rows)} contacts visible")


@app.command("add")
def add(
    org: Annotated[str, typer.Option(help="organisation id or short name")],
    kind: Annotated[str, typer.Option(help="24x7-desk, duty-officer, email, phone, secure-channel, pgp")],
    label: Annotated[str, typer.Option()],
    value: Annotated[str, typer.Option()],
    tlp: Annotated[str, typer.Option()] = "green",
    community: Annotated[list[str] | None, typer.Option(help="share with this community (repeat)")] = None,
    share_org: Annotated[list[str] | None, typer.Option(help="share with this organisation id (repeat)")] = None,
    pgp_fingerprint: Annotated[str | None, typer.Option()] = None,
    as_user: Annotated[str | None, typer.Option("--as", help=AS_HELP)] = None,
) -> None:
    """Add a contact to an organisation."""
    with db() as session:
        o = accounts.find_org(session, org)
        contact = service.create_contact(
            session, actor=_actor(session, as_user), org_id=o.id, kind=kind, label=label, value=value,
            pgp_fingerprint=pgp_fingerprint, tlp=tlp,
            share_with=ShareWith(communities=community or [], organisations=share_org or []),
        )  # fmt: skip
        console.print(f"added {contact.id} to {o.short_name} as TLP:{contact.tlp.upper()}")
