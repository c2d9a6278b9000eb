"""`cybercrisis node`: this node's identity and signing keys (federation, docs/federation.md)."""

from __future__ import annotations

import typer
from sqlalchemy import or_, select

from cybercrisis.cli.common import console, db, settings

app = typer.Typer(help="This node's identity and signing keys (federation).", no_args_is_help=True)


def _organisation() -> str:
    from cybercrisis.directory.models import Organisation

    ref = settings().node_organisation
    if not ref:
        return "none (set CYBERCRISIS_NODE_ORGANISATION: peers push to this node what that organisation may read)"
    with db(write=False) as session:
        org = session.scalars(select(Organisation).where(or_(Organisation.id == ref, Organisation.short_name == ref)))
        found = org.first()
        return f"{found.id} ({found.short_name})" if found else f"{ref}: not in the directory"


@app.command("show")
def show() -> None:
    """Node id, name, organisation and key ids (give the current key id to the operators of your peers)."""
    from cybercrisis.exchange import node as nodes

    s = settings()
    node = nodes.load(s.data_dir)
    console.print(f"node {node.id}")
    console.print(f"name {s.node_name}")
    console.print(f"organisation {_organisation()}")
    for key in node.keys:
        state = "[bold]current[/bold]" if key["id"] == node.key_id else f"retired {key.get('retired') or ''}".strip()
        endorsed = f", endorsed by {key['endorsed_by']}" if key.get("endorsed_by") else ""
        console.print(f"key {key['id']}  created {key['created']}  {state}{endorsed}")


@app.command("rotate-key")
def rotate_key() -> None:
    """Make a new signing key, endorsed by the current one; peers accept it on their next round."""
    from cybercrisis.audit import service as audit
    from cybercrisis.exchange import node as nodes

    s = settings()
    before = nodes.load(s.data_dir).key_id
    node = nodes.rotate(s.data_dir)
    with db() as session:
        audit.record(
            session,
            actor=None,
            tag="exchange:node:rotate",
            object_id=None,
            summary={"node": node.id, "retired": before, "current": node.key_id},
        )
    console.print(f"node {node.id}: new key {node.key_id} (endorsed by {before}, now retired)")
