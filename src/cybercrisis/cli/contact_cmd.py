from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cybercrisis.access.schemas import ShareWith
from cybercrisis.accounts import service as accounts
from cybercrisis.cli.common import AS_HELP, console, db
from cybercrisis.cli.common import actor_for as _actor
from cybercrisis.directory import service

app = typer.Typer(help="Contacts of organisations (TLP-marked, shared like any object).", no_args_is_help=True)


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
            {
                "id": c.id,
                "kind": c.kind,
                "label": c.label,
                "value": c.value,
                "tlp": c.tlp,
                "pgp_fingerprint": c.pgp_fingerprint,
            }
            for c in service.contacts_of(session, principal=_actor(session, as_user), org_id=o.id)
        ]
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
            session,
            actor=_actor(session, as_user),
            org_id=o.id,
            kind=kind,
            label=label,
            value=value,
            pgp_fingerprint=pgp_fingerprint,
            tlp=tlp,
            share_with=ShareWith(communities=community or [], organisations=share_org or []),
        )
        console.print(f"added {contact.id} to {o.short_name} as TLP:{contact.tlp.upper()}")
