"""`cybercrisis node`: this node's identity and signing keys (federation, docs/federation.md)."""

from __future__ import annotations

from typing import Annotated

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


@app.command("pin")
def pin(
    node_id: Annotated[str, typer.Argument(help="the node id (identity--...) of the origin to take through a relay")],
    via: Annotated[str, typer.Option(help="the relay: a peer's id, node id or URL (the EU hub)")],
    fingerprint: Annotated[str, typer.Option(help="the origin's current key id, confirmed with its operator")],
    speaks_for: Annotated[str, typer.Option(help="the organisation that node speaks for (id or short name)")],
) -> None:
    """Take a node's versions, and send it answers, through a relay (ADR 0013): its key comes from the relay's
    discovery and must be the one its operator confirmed out of band."""
    from cybercrisis.exchange import node as nodes
    from cybercrisis.exchange import relays

    with db() as session:
        row = relays.pin(
            session,
            actor=None,
            node_id=node_id,
            via=via,
            fingerprint=fingerprint,
            speaks_for=speaks_for,
            local_node=nodes.load(settings().data_dir).id,
        )
        console.print(
            f"pinned node {row.node_id} (key {fingerprint}) via peer {row.via_peer_id}, for {row.organisation_id}"
        )


@app.command("unpin")
def unpin(node_id: Annotated[str, typer.Argument(help="a pinned node id")]) -> None:
    """Stop taking a node's versions through a relay (what arrived stays)."""
    from cybercrisis.exchange import relays

    with db() as session:
        relays.unpin(session, actor=None, node_id=node_id)
    console.print(f"unpinned {node_id}")


@app.command("pins")
def pins() -> None:
    """The nodes pinned through a relay: node, organisation, relay."""
    from cybercrisis.exchange import relays

    with db(write=False) as session:
        for p in sorted(relays.pinned(session).values(), key=lambda p: p.node_id):
            console.print(f"{p.node_id}  speaks for {p.organisation_id}  via {p.relay_node} (peer {p.relay_peer_id})")
