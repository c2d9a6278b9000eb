"""What this node pushes to a peer (ADR 0008): the peer's organisation as a reader, the collections here, what
may be pushed in each (this node's own versions only), and the envelopes that fit the peer's `max_content_length`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.directory.reading import organisation_cards
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange import relays, taxii, taxii_resources
from cybercrisis.exchange.models import StixObject


def local_collections(session: Session) -> dict[str, taxii.Collection]:
    """Every collection of this node (one per community, one per organisation, the defined ones), by id."""
    return {c.id: c for c in taxii.all_collections(session)}


def peer_principal(session: Session, *, node_id: str, organisation_id: str | None) -> Principal:
    """The peer node as a reader: its organisation and that organisation's communities, never a named user
    (so RED never leaves, and AMBER+STRICT only when the organisation is a named recipient)."""
    org = organisation_cards(session, [organisation_id]).get(organisation_id) if organisation_id else None
    return Principal(
        user_id=f"node:{node_id}", org_id=org.id if org else None, communities=frozenset(org.communities if org else ())
    )


def push_filter(
    principal: Principal, collection: taxii.Collection, *, peer_node: str, relay: bool = False
) -> ColumnElement[bool]:
    """What may be pushed in one collection: in it, readable by the peer's organisation, and this node's own; to a
    peer this node relays to (`peer add --relay`, a hub's national nodes), also other origins' versions that this
    node got first hand and may pass on (relays.passed_on, ADR 0013). A node signs only what it originated, and
    passes on others' signed versions unchanged, one hop."""
    if principal.org_id is None:
        return false()
    own = (
        or_(StixObject.origin_node.is_(None), relays.passed_on(peer_node))
        if relay
        else StixObject.origin_node.is_(None)
    )
    return and_(taxii.membership(collection), read_filter(principal, StixObject), own)


Outgoing = tuple[int, str, dict[str, Any]]  # (seq, id, the object as sent)


def outgoing(
    session: Session, *, where: ColumnElement[bool], after: int, node: nodes.Node, limit: int
) -> list[Outgoing]:
    """The next versions to push after local seq `after`, as the TAXII server serves them: with their origin
    signature (made now for a version of ours the signer job has not reached) and their share list."""
    rows = list(
        session.scalars(select(StixObject).where(StixObject.seq > after, where).order_by(StixObject.seq).limit(limit))
    )
    return [
        (r.seq, r.id, obj) for r, obj in zip(rows, taxii_resources.served(session, node=node, rows=rows), strict=True)
    ]


def envelopes(batch: Sequence[Outgoing], *, max_bytes: int) -> Iterable[tuple[list[dict[str, Any]], int, list[str]]]:
    """Split a batch into envelopes under `max_bytes` (JSON as taxii2-client sends it): (objects, the seq of the last
    one, ids too big to send at all)."""
    current: list[dict[str, Any]] = []
    too_big: list[str] = []
    size = len(b'{"objects": []}')
    last = 0
    for seq, oid, obj in batch:
        n = len(json.dumps(obj, ensure_ascii=False).encode()) + 2
        if size + n > max_bytes and current:
            yield current, last, too_big
            current, too_big, size = [], [], len(b'{"objects": []}')
        if size + n > max_bytes:
            too_big.append(oid)
        else:
            current.append(obj)
            size += n
        last = seq
    if current or too_big:
        yield current, last, too_big
