from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from cybercrisis.accounts.service import SYSTEM
from cybercrisis.cli.common import console, db
from cybercrisis.directory import reading, service

app = typer.Typer(help="Organisations of the directory.", no_args_is_help=True)


@app.command("list")
def list_(
    country: Annotated[str | None, typer.Option(help="ISO 3166 alpha-2")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="e.g. national-csirt")] = None,
    level: Annotated[str | None, typer.Option()] = None,
    community: Annotated[str | None, typer.Option()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array on stdout")] = False,
) -> None:
    """List organisations."""
    filters = reading.OrgFilter(country=country, type=type_, level=level, community=community)
    principal = SYSTEM
    rows: list[dict[str, Any]] = []
    with db(write=False) as session:
        cursor = None
        while True:
            page = reading.list_organisations(session, principal=principal, filters=filters, cursor=cursor, limit=200)
            rows += [
                {
                    "id": o.id,
                    "name": o.name,
                    "short_name": o.short_name,
                    "type": o.type,
                    "country": o.country,
                    "levels": o.levels,
                    "communities": o.communities,
                    "parent_id": o.parent_id,
                }
                for o in page.items
            ]
            if not page.next:
                break
            cursor = page.next
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table("short name", "name", "type", "country", "levels", "communities")
    for r in rows:
        table.add_row(
            r["short_name"],
            r["name"],
            r["type"],
            r["country"] or "—",
            ", ".join(r["levels"]),
            ", ".join(r["communities"]),
        )
    console.print(table)
    console.print(f"{len(rows)} organisations")


@app.command("create")
def create(
    name: Annotated[str, typer.Option()],
    short_name: Annotated[str, typer.Option()],
    type_: Annotated[str, typer.Option("--type")],
    country: Annotated[str | None, typer.Option()] = None,
    level: Annotated[list[str] | None, typer.Option(help="repeat for several")] = None,
    community: Annotated[list[str] | None, typer.Option(help="repeat for several")] = None,
    parent: Annotated[str | None, typer.Option(help="parent organisation id (constituency)")] = None,
) -> None:
    """Create an organisation."""
    with db() as session:
        org = service.create_organisation(
            session,
            actor=SYSTEM,
            name=name,
            short_name=short_name,
            type_=type_,
            country=country,
            levels=level or [],
            communities=community or [],
            parent_id=parent,
        )
        console.print(f"created {org.short_name}: {org.id}")
