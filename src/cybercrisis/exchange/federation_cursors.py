"""Where sync stands with each peer: the crash-safe cursor of each collection and direction, and each peer's lag
(`peer status`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.db import utcnow
from cybercrisis.exchange import peers
from cybercrisis.exchange.federation_push import local_collections, peer_principal, push_filter
from cybercrisis.exchange.models import Peer, PeerCursor, StixObject


def cursor_for(session: Session, peer_id: str, collection: str, direction: str) -> PeerCursor:
    """The cursor of one collection and direction, added (at the start) on its first round."""
    cursor = session.get(PeerCursor, (peer_id, collection, direction))
    if cursor is None:
        cursor = PeerCursor(
            peer_id=peer_id,
            collection_id=collection,
            direction=direction,
            position=None,
            complete=True,
            updated_at=utcnow(),
        )
        session.add(cursor)
    return cursor


def _taxii_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime | None:
    """A peer's TAXII timestamp; None when it is not one (or has no zone)."""
    try:
        parsed = datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def pull_after(position: str | None, complete: bool) -> str | None:
    """The `added_after` to ask from: the position itself once read to its end, else just before it (objects
    added in one transaction share a date_added, and a page may have stopped amid them: re-reads are harmless)."""
    if not position:
        return None
    if complete:
        return position
    parsed = parse_time(position)
    return _taxii_time(parsed - timedelta(microseconds=1)) if parsed else None


@dataclass(frozen=True, slots=True)
class PeerStatus:
    peer: Peer
    waiting: int | None  # push: local versions waiting for it (None: it does not push)
    caught_up_at: datetime | None  # pull: when every pulled collection was last read to its end
    pull_collections: int
    last_round: dict[str, Any] | None


def status(session: Session) -> list[PeerStatus]:
    """Each peer with its lag, for `peer status`."""
    from cybercrisis.audit.models import AuditEvent

    here = local_collections(session)
    out: list[PeerStatus] = []
    for peer in peers.list_peers(session):
        cursors = list(session.scalars(select(PeerCursor).where(PeerCursor.peer_id == peer.id)))
        pulls = [c for c in cursors if c.direction == "pull"]
        caught = None
        if pulls and all(c.complete for c in pulls):
            caught = min(c.updated_at for c in pulls)
        waiting = None
        if peer.direction in ("push", "both"):
            principal = peer_principal(session, node_id=peer.node_id, organisation_id=peer.organisation_id)
            positions = {c.collection_id: int(c.position or 0) for c in cursors if c.direction == "push"}
            targets = list(peer.collections) or sorted(positions)
            waiting = 0 if targets else None  # None: no round has found a collection to push yet
            for cid in targets:
                if cid in here and waiting is not None:
                    where = push_filter(principal, here[cid], peer_node=peer.node_id, relay=peer.relay)
                    query = select(func.count()).select_from(StixObject).where(StixObject.seq > positions.get(cid, 0))
                    waiting += session.scalar(query.where(where)) or 0
        event = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.tag == "exchange:peer:sync", AuditEvent.object_id == peer.id)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).first()
        out.append(PeerStatus(peer, waiting, caught, len(pulls), json.loads(event.summary) if event else None))
    return out
