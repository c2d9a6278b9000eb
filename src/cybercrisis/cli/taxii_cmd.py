"""`cybercrisis taxii`: the TAXII 2.1 server's collections (docs/taxii.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from cybercrisis.cli.common import AS_HELP, actor_for, console, db

app = typer.Typer(help="TAXII 2.1 collections: list, define, remove.", no_args_is_help=True)


@app.command("collections")
def collections(
    as_: Annotated[str | None, typer.Option("--as", help=AS_HELP.split(";")[0] + "; default: every collection")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout")] = False,
) -> None:
    """List the collections a user sees (with --as), or every collection of this node."""
    from cybercrisis.exchange import taxii

    with db(write=False) as session:
        if as_:
            principal = actor_for(session, as_)
            found = taxii.visible_collections(session, principal=principal)
            rows = [{**c.resource(principal), "kind": c.kind, "target": c.target, "types": c.types} for c in found]
        else:
            rows = [
                {
                    "id": c.id,
                    "title": c.title,
                    "description": c.description,
                    "can_read": True,
                    "can_write": c.writable,
                    "kind": c.kind,
                    "target": c.target,
                    "types": c.types,
                }
                for c in taxii.all_collections(session)
            ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("id", "title", "audience", "types", "write")
    for r in rows:
        types = ", ".join(r["types"]) if r["types"] else "all"
        table.add_row(r["id"], r["title"], f"{r['kind']} {r['target']}", types, "yes" if r["can_write"] else "no")
    console.print(table)
    console.print(f"{len(rows)} collections")


@app.command("add-collection")
def add_collection(
    title: Annotated[str, typer.Option(help="shown to TAXII clients")],
    community: Annotated[str | None, typer.Option(help="audience: this community (slug)")] = None,
    organisation: Annotated[str | None, typer.Option(help="audience: this organisation (id or short name)")] = None,
    types: Annotated[str | None, typer.Option(help="only these STIX types, comma-separated")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="refuse POSTs to it")] = False,
    description: Annotated[str, typer.Option()] = "",
) -> None:
    """Define a collection: the objects shared with one community or one organisation (optionally some types)."""
    from cybercrisis.exchange import taxii

    if (community is None) == (organisation is None):
        raise typer.BadParameter("give exactly one of --community or --organisation")
    kind, target = ("community", community) if community is not None else ("organisation", organisation or "")
    wanted = [t.strip() for t in (types or "").split(",") if t.strip()]
    with db() as session:
        c = taxii.add_collection(
            session,
            actor=None,
            title=title,
            kind=kind,
            target=target,
            types=wanted,
            can_write=not read_only,
            description=description,
        )
    console.print(f"created collection {c.id}: {c.title} ({c.kind} {c.target})")


@app.command("remove-collection")
def remove_collection(collection_id: Annotated[str, typer.Argument(help="a defined collection's id")]) -> None:
    """Remove a defined collection; the objects stay in the store."""
    from cybercrisis.exchange import taxii

    with db() as session:
        taxii.remove_collection(session, actor=None, cid=collection_id)
    console.print(f"removed collection {collection_id}")
