"""Peer nodes (ADR 0008): adding, listing, removing and enabling them, and their keys.

A peer is added from what `peer_client.probe` learned from its discovery URL with one of our API tokens on it. Its
keys are pinned then (trust on first use, or checked against a key id given out of band), and each sync round
accepts only new keys endorsed by an accepted one (`node.endorsed_keys`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cybercrisis import secretbox
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict, InvalidInput, NotFound
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import Peer, PeerCursor
from cybercrisis.exchange.peer_client import Discovery, Probe, normalise_url

DIRECTIONS = ("pull", "push", "both")
MAX_TIMEOUT = 600.0


def _key_entries(keys: list[dict[str, Any]], accepted: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"id": k["id"], "public_key": k["public_key"], "created": k.get("created"), "endorsed_by": k.get("endorsed_by")}
        for k in keys
        if k["id"] in accepted
    ]


def add(
    session: Session,
    *,
    actor: Principal | None,
    local_node: str,
    probe: Probe,
    token: str,
    username: str | None,
    direction: str,
    collections: list[str],
    timeout: float,
    settings: Settings,
    fingerprint: str | None = None,
    relay: bool = False,
) -> Peer:
    """Store a peer from what `probe` learned; its current keys are pinned; `token` is stored sealed with the
    server key (secretbox). Audited `exchange:peer:add`."""
    d = probe.discovery

    def refuse(where: str, message: str) -> InvalidInput:
        return InvalidInput(message, errors=[{"field": where, "message": message}])

    if direction not in DIRECTIONS:
        raise refuse("direction", f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise refuse("timeout", f"timeout {timeout:g} is not between 0 and {MAX_TIMEOUT:g} seconds")
    if d.node_id == local_node:
        raise refuse("url", f"{d.url} is this node itself ({local_node})")
    if fingerprint is not None and fingerprint.strip().lower() != d.current_key:
        raise refuse(
            "fingerprint",
            f"the peer's current key is {d.current_key}, not {fingerprint.strip()}: do not add it until you know why",
        )
    unknown = [c for c in collections if c not in probe.collections]
    if unknown:
        raise refuse("collections", f"collection {unknown[0]} is not one the peer shows to this token")
    organisation = d.organisation if d.organisation and session.get(Organisation, d.organisation) else None
    if direction != "pull" and organisation is None:
        what = (
            f"its organisation {d.organisation}, which is not in this node's directory"
            if d.organisation
            else ("no organisation (set CYBERCRISIS_NODE_ORGANISATION on the peer)")
        )
        raise refuse(
            "direction", f"cannot push to {d.url}: it names {what}; push sends what that organisation may read"
        )
    clash = session.scalars(select(Peer).where(or_(Peer.url == d.url, Peer.node_id == d.node_id))).first()
    if clash is not None:
        raise Conflict(f"{d.url} (node {d.node_id}) is already peer {clash.id}")
    pinned = {str(k["id"]): str(k["public_key"]) for k in d.keys}
    peer = Peer(
        id=f"peer--{uuid.uuid4()}",
        url=d.url,
        api_root=d.api_root,
        title=d.title[:200],
        node_id=d.node_id,
        organisation_id=organisation,
        token=secretbox.seal(settings, secretbox.PEER_TOKEN, token),
        username=username.strip().lower() if username else None,
        direction=direction,
        relay=relay,
        collections=list(collections),
        keys=_key_entries(d.keys, pinned),
        relayed_keys={n: k for n, k in d.relayed.items() if n != local_node},
        timeout_seconds=timeout,
        enabled=True,
        created_by_id=actor.user_id if actor else None,
    )
    session.add(peer)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="exchange:peer:add",
        object_id=peer.id,
        summary={
            "url": peer.url,
            "node": peer.node_id,
            "organisation": organisation,
            "direction": direction,
            "relay": relay,
            "collections": list(collections),
            "keys": sorted(pinned),
            "fingerprint_checked": fingerprint is not None,
        },
    )
    return peer


def get(session: Session, ref: str) -> Peer:
    """A peer by its id, node id or URL; NotFound otherwise."""
    ref = ref.strip()
    urls = {ref, ref + "/"}
    with contextlib.suppress(InvalidInput):  # an id, not a URL
        urls.add(normalise_url(ref))  # e.g. the node's address it was added with
    peer = session.scalars(select(Peer).where(or_(Peer.id == ref, Peer.node_id == ref, Peer.url.in_(urls)))).first()
    if peer is None:
        raise NotFound(f"no peer {ref}")
    return peer


def list_peers(session: Session) -> list[Peer]:
    return list(session.scalars(select(Peer).order_by(Peer.created_at, Peer.id)))


def remove(session: Session, *, actor: Principal | None, ref: str) -> Peer:
    """Forget a peer and its cursors (what was pulled from it stays). Audited `exchange:peer:remove`."""
    peer = get(session, ref)
    for cursor in session.scalars(select(PeerCursor).where(PeerCursor.peer_id == peer.id)):
        session.delete(cursor)
    session.delete(peer)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="exchange:peer:remove",
        object_id=peer.id,
        summary={"url": peer.url, "node": peer.node_id},
    )
    return peer


def refresh_keys(session: Session, *, peer_id: str, discovery: Discovery, local_node: str) -> list[str]:
    """Accept the peer's new keys that chain to a pinned one, and take its relayed keys; the key ids added.

    Audited `exchange:peer:keys` when the pinned keys change."""
    peer = session.get(Peer, peer_id, with_for_update=True)
    if peer is None:
        raise NotFound(f"no peer {peer_id}")
    pinned = {str(k["id"]): str(k["public_key"]) for k in peer.keys}
    published: list[Mapping[str, Any]] = list(discovery.keys)
    accepted = nodes.endorsed_keys(peer.node_id, pinned, published)
    added = sorted(set(accepted) - set(pinned))
    if added:
        known = {k["id"] for k in peer.keys}
        peer.keys = [*peer.keys, *(e for e in _key_entries(discovery.keys, accepted) if e["id"] not in known)]
        audit.record(
            session,
            actor=None,
            tag="exchange:peer:keys",
            object_id=peer.id,
            summary={"node": peer.node_id, "added": added},
        )
    relayed = {n: k for n, k in discovery.relayed.items() if n not in (local_node, peer.node_id)}
    if relayed != peer.relayed_keys:
        peer.relayed_keys = relayed
    return added


def ignored_keys(peer: Peer, discovery: Discovery) -> list[str]:
    """Published key ids that are neither pinned nor endorsed by a pinned key (a warning for the operator)."""
    pinned = {str(k["id"]): str(k["public_key"]) for k in peer.keys}
    published: list[Mapping[str, Any]] = list(discovery.keys)
    accepted = nodes.endorsed_keys(peer.node_id, pinned, published)
    return [str(k["id"]) for k in discovery.keys if k["id"] not in accepted]


def set_enabled(session: Session, *, actor: Principal | None, ref: str, enabled: bool) -> Peer:
    peer = get(session, ref)
    if peer.enabled != enabled:
        peer.enabled = enabled
        audit.record(
            session,
            actor=actor,
            tag=f"exchange:peer:{'enable' if enabled else 'disable'}",
            object_id=peer.id,
            summary={"url": peer.url},
        )
    return peer


def age(since: datetime | None, now: datetime | None = None) -> str:
    """'3 min', '2 h', 'never'."""
    if since is None:
        return "never"
    seconds = max(0.0, ((now or utcnow()) - since).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
