"""Relays (ADR 0013 point 5): a hub passes on other nodes' signed versions, and answers to them, one hop.

National nodes peer with the EU hub only (hub-and-spoke); a national node then reads another's versions through
the hub. Nothing is re-signed: the origin's signature and share list travel unchanged, so a relay can neither edit
nor widen what it passes on. A node takes a version from a relay only for an origin its operator pinned through
that relay (`cybercrisis node pin NODE --via HUB --fingerprint KEY --speaks-for ORG`): the key comes from the hub's
discovery (the keys the hub pins for its own peers) and must be the one the origin's operator confirmed out of
band, so a hub cannot forge an origin. A relay passes on only first-hand versions (never one it got relayed),
only CLEAR, GREEN and AMBER (AMBER+STRICT is for the recipient organisation only, our reading; RED never leaves
its node), only what each version's signed list lets the peer's organisation read, never back to its origin.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict, InvalidInput, NotFound
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange import peers
from cybercrisis.exchange.importer import RELAYABLE
from cybercrisis.exchange.models import NodePin, Peer, StixObject


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def pin(
    session: Session,
    *,
    actor: Principal | None,
    node_id: str,
    via: str,
    fingerprint: str,
    speaks_for: str,
    local_node: str,
) -> NodePin:
    """Pin `node_id`, reached through the peer `via`, with the key `fingerprint` its operator confirmed, speaking
    for the organisation `speaks_for` (an id or short name). Audited `exchange:node:pin`."""
    relay = peers.get(session, via)
    node_id = node_id.strip()
    if node_id in (local_node, relay.node_id):
        raise _bad("node", f"{node_id} is this node or the relay itself: nothing to pin")
    if session.scalars(select(Peer).where(Peer.node_id == node_id)).first() is not None:
        raise Conflict(f"{node_id} is a peer of this node already: its versions come from it directly")
    published = (relay.relayed_keys or {}).get(node_id) or {}
    wanted = fingerprint.strip().lower()
    public = published.get(wanted)
    if public is None:
        known = ", ".join(sorted(published)) or "none"
        raise _bad("fingerprint", f"the relay lists no key {wanted} for node {node_id} (it lists: {known})")
    try:
        matches = nodes.key_id_of(public) == wanted
    except (ValueError, TypeError):
        matches = False
    if not matches:
        raise _bad("fingerprint", f"the key the relay lists as {wanted} is another key: do not pin it")
    org = session.scalars(
        select(Organisation).where(or_(Organisation.id == speaks_for, Organisation.short_name == speaks_for))
    ).first()
    if org is None:
        raise _bad("speaks_for", f"no organisation {speaks_for} in this node's directory")
    row = session.get(NodePin, node_id)
    if row is None:
        row = NodePin(node_id=node_id)
        session.add(row)
    row.via_peer_id, row.organisation_id, row.keys = relay.id, org.id, {wanted: public}
    row.created_by_id = actor.user_id if actor else None
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="exchange:node:pin",
        object_id=relay.id,
        summary={"node": node_id, "via": relay.node_id, "key": wanted, "organisation": org.id},
    )
    return row


def unpin(session: Session, *, actor: Principal | None, node_id: str) -> None:
    row = session.get(NodePin, node_id.strip())
    if row is None:
        raise NotFound(f"no pinned node {node_id}")
    session.delete(row)
    audit.record(session, actor=actor, tag="exchange:node:unpin", object_id=row.via_peer_id, summary={"node": node_id})


@dataclass(frozen=True, slots=True)
class Pinned:
    node_id: str
    organisation_id: str
    relay_node: str  # the node id of the peer it comes through
    relay_peer_id: str
    relay_organisation_id: str | None


def pinned(session: Session) -> dict[str, Pinned]:
    """Every pinned node, with the relay it comes through."""
    rows = session.execute(
        select(NodePin.node_id, NodePin.organisation_id, Peer.node_id, Peer.id, Peer.organisation_id)
        .join(Peer, Peer.id == NodePin.via_peer_id)
        .where(Peer.enabled.is_(True))
    )
    return {r[0]: Pinned(*r) for r in rows}


def through(session: Session, relay_nodes: set[str]) -> dict[str, str]:
    """The origins whose versions may come through these relay nodes, each with its relay: `importer.receive`'s
    `relays`."""
    peers = set(session.scalars(select(Peer.node_id)))  # a node that is a peer comes directly, or not at all
    return {
        p.node_id: p.relay_node
        for p in pinned(session).values()
        if p.relay_node in relay_nodes and p.node_id not in peers
    }


def passed_on(peer_node: str) -> ColumnElement[bool]:
    """What this node may send a peer besides its own versions: other origins' first-hand versions, CLEAR to AMBER,
    never back to their origin (the read policy, applied with it, decides what the peer's organisation reads)."""
    return and_(
        StixObject.origin_node.is_not(None),
        StixObject.origin_node != peer_node,
        StixObject.relayed_by.is_(None),
        StixObject.tlp.in_(sorted(RELAYABLE)),
    )
