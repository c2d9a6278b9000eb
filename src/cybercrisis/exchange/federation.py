"""Sync with peer nodes over TAXII 2.1 (ADR 0008): pull what our account may read there, push what their
organisation may read here, each collection with a crash-safe cursor, never looping an object back.

One round with one peer: refresh its keys from discovery; then per collection (the configured ones, or every one
that both nodes have) PULL pages from the cursor (`added_after`, then `next`), each page stored by
`importer.receive` in its own transaction together with the cursor (only objects the peer itself signed), and PUSH
this node's own versions after the push cursor that the peer's organisation may read (`read_filter`; nothing
received from another node is relayed), in envelopes of at most 500 objects and under the peer's
`max_content_length`, advancing the cursor after each accepted POST. A peer that is down, slow or answers
garbage gets its error recorded and the round goes on with the others (`sync_all` runs them in parallel).

What is pushed is chosen in exchange/federation_push.py; the cursors and `peer status` are in
exchange/federation_cursors.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import requests
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from taxii2client import exceptions as taxii_errors  # type: ignore[import-untyped]
from taxii2client.v21 import Collection  # type: ignore[import-untyped]

from cybercrisis import secretbox
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.errors import NotFound
from cybercrisis.exchange import importer, peer_client, peers, relays, taxii
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.federation_cursors import cursor_for, parse_time, pull_after
from cybercrisis.exchange.federation_push import envelopes, local_collections, outgoing, peer_principal, push_filter
from cybercrisis.exchange.models import Peer, PeerCursor
from cybercrisis.exchange.peer_client import PeerError

log = logging.getLogger(__name__)

PAGE_SIZE = 500  # objects asked per pull page
MAX_ENVELOPE = 500  # objects per push envelope
ENVELOPE_MARGIN = 4096  # bytes kept free under the peer's max_content_length
ROUND_BUDGET_SECONDS = 240.0  # a round stops paging after this (the cursor keeps the place); the job lease is 600 s
MAX_PARALLEL = 8
LISTED_REJECTIONS = 5


@dataclass(slots=True)
class SyncResult:
    """One round with one peer."""

    peer_id: str
    url: str
    pulled: int = 0  # new versions stored here
    pushed: int = 0  # versions the peer accepted
    unchanged: int = 0  # pulled versions already here (or ours coming back)
    rejected: int = 0  # refused either way
    errors: list[str] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)  # the first few, "id: reason"
    incomplete: bool = False  # stopped by the round budget: the next round goes on

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict[str, Any]:
        return {
            "pulled": self.pulled,
            "pushed": self.pushed,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "errors": self.errors[:LISTED_REJECTIONS],
            "rejections": self.rejections,
            "incomplete": self.incomplete,
        }

    def reject(self, items: Iterable[str]) -> None:
        for item in items:
            if len(self.rejections) < LISTED_REJECTIONS:
                self.rejections.append(item[:400])


@dataclass(frozen=True, slots=True)
class _PeerConfig:
    """What a round needs from the peer row, read once (jobs take ids, never ORM objects across sessions)."""

    id: str
    url: str
    api_root: str
    node_id: str
    organisation_id: str | None
    relay: bool  # this node passes other origins' versions on to this peer
    token: str  # as stored (sealed), until sync_peer opens it for the round
    username: str | None
    direction: str
    collections: tuple[str, ...]
    timeout: float

    @classmethod
    def of(cls, p: Peer) -> _PeerConfig:
        return cls(
            p.id,
            p.url,
            p.api_root,
            p.node_id,
            p.organisation_id,
            bool(p.relay),
            p.token,
            p.username,
            p.direction,
            tuple(p.collections or ()),
            float(p.timeout_seconds),
        )

    @property
    def pulls(self) -> bool:
        return self.direction in ("pull", "both")

    @property
    def pushes(self) -> bool:
        return self.direction in ("push", "both")


# --- one round ---------------------------------------------------------------------------------------------------


class _Round:
    def __init__(self, factory: sessionmaker[Session], settings: Settings, cfg: _PeerConfig, page_size: int) -> None:
        self.factory, self.cfg, self.page_size = factory, cfg, page_size
        self.node = nodes.load(settings.data_dir)
        self.settings = settings
        self.result = SyncResult(cfg.id, cfg.url)
        self.deadline = time.monotonic() + ROUND_BUDGET_SECONDS
        self.conn = peer_client.connect(
            token=cfg.token, username=cfg.username, timeout=cfg.timeout, allow=settings.outbound_networks
        )
        self.ring: nodes.KeyRing = {}

    def run(self) -> None:
        cfg = self.cfg
        discovery = peer_client.discover(self.conn, cfg.url)
        if discovery.node_id != cfg.node_id:
            raise PeerError(
                f"{cfg.url} now answers as node {discovery.node_id}, not the pinned {cfg.node_id}: "
                "if that is right, remove the peer and add it again"
            )
        with unit_of_work(self.factory) as s:
            peers.refresh_keys(s, peer_id=cfg.id, discovery=discovery, local_node=self.node.id)
            self.ring = nodes.key_ring(s, self.node)
            here = local_collections(s)
        root = peer_client.api_root(self.conn, cfg.api_root)
        remote = {c.id: c for c in root.collections}
        wanted = list(cfg.collections) or sorted(set(remote) & set(here))
        for cid in wanted:
            if cid not in remote:
                self.result.errors.append(f"collection {cid} is not listed by the peer (any more)")
        wanted = [c for c in wanted if c in remote]
        if cfg.pulls:
            for cid in wanted:
                if remote[cid].can_read and not self._out_of_time():
                    self._each(cid, lambda c=cid: self._pull(remote[c]))
        if cfg.pushes and self.node.key_id not in discovery.relayed.get(self.node.id, {}):
            # It would reject every object as signed by an unknown node, and the cursor would move past them.
            self.result.errors.append(
                f"the peer does not know this node's current key {self.node.key_id} yet: add "
                "this node as a peer there (after a key rotation: wait for its next round); "
                "nothing was pushed"
            )
        elif cfg.pushes:
            from cybercrisis.exchange.signer import sign_pending

            sign_pending(self.factory, self.settings, budget_seconds=max(1.0, self.deadline - time.monotonic()) / 2)
            limit = int(root.max_content_length or 0) or 10 * 1024 * 1024
            for cid in wanted:
                if cid not in here:
                    self.result.errors.append(f"collection {cid} does not exist on this node: nothing to push")
                elif remote[cid].can_write and not self._out_of_time():
                    self._each(cid, lambda c=cid: self._push(remote[c], here[c], limit))

    def _out_of_time(self) -> bool:
        if time.monotonic() > self.deadline:
            self.result.incomplete = True
            return True
        return False

    def _each(self, cid: str, step: Any) -> None:
        """One collection: an HTTP refusal (403 on one collection, a 413) is recorded and the others go on;
        a peer that is down or too slow ends the round."""
        try:
            step()
        except requests.HTTPError as exc:
            self.result.errors.append(
                f"collection {cid}: " + peer_client.describe(exc, url=self.cfg.url, timeout=self.cfg.timeout)
            )

    # --- pull ---

    def _pull(self, remote: peer_client.RemoteCollection) -> None:
        cfg = self.cfg
        collection = _collection(self.conn, cfg.api_root, remote.id)
        with unit_of_work(self.factory, write=False) as s:
            row = s.get(PeerCursor, (cfg.id, remote.id, "pull"))
            after = pull_after(row.position, row.complete) if row else None
        next_token: str | None = None
        while True:
            if self._out_of_time():
                return
            params: dict[str, Any] = {"version": "all"}
            if after:
                params["added_after"] = after
            if next_token:
                params["next"] = next_token
            envelope = collection.get_objects(limit=self.page_size, **params)
            if not isinstance(envelope, dict) or not isinstance(envelope.get("objects", []), list):
                raise PeerError(f"{cfg.url} answered a page of collection {remote.id} that is not a TAXII envelope")
            objects = envelope.get("objects", [])
            more = envelope.get("more") is True
            next_token = envelope.get("next") if isinstance(envelope.get("next"), str) else None
            last = self.conn.last_headers.get("X-TAXII-Date-Added-Last")
            if objects and (not isinstance(last, str) or parse_time(last) is None):
                raise PeerError(f"{cfg.url} sent objects without a valid X-TAXII-Date-Added-Last header")
            if more and not next_token:
                raise PeerError(f"{cfg.url} said there is more in collection {remote.id} but sent no `next`")
            self._store_page(remote.id, objects, last if objects else None, complete=not more)
            if not more:
                return

    def _store_page(self, cid: str, objects: list[Any], last: str | None, *, complete: bool) -> None:
        """One page and the cursor in one transaction: a crash leaves either both or neither."""
        cfg = self.cfg
        with unit_of_work(self.factory) as s:
            got = importer.receive(
                s,
                objects=objects,
                ring=self.ring,
                local_node=self.node.id,
                actor=None,
                origin=f"peer:{cfg.node_id}",
                senders={cfg.node_id},
                via=f"relayed by the peer node {cfg.node_id}",
                relays=relays.through(s, {cfg.node_id}),
            )
            cursor = cursor_for(s, cfg.id, cid, "pull")
            if last is not None:
                cursor.position = last
            cursor.complete = complete
            if complete:
                cursor.updated_at = utcnow()  # pull cursors: when this collection was last read to its end
            totals = {"pulled": Peer.pulled + got.imported + got.updated, "rejected": Peer.rejected + len(got.rejected)}
            s.execute(update(Peer).where(Peer.id == cfg.id).values(**totals))
        self.result.pulled += got.imported + got.updated  # new versions, and versions whose signed share list changed
        self.result.unchanged += got.unchanged
        self.result.rejected += len(got.rejected)
        self.result.reject(f"{r.id or '#' + str(r.index)}: {r.reason}" for r in got.rejected)

    # --- push ---

    def _push(self, remote: peer_client.RemoteCollection, local: taxii.Collection, limit: int) -> None:
        cfg = self.cfg
        collection = _collection(self.conn, cfg.api_root, remote.id)
        with unit_of_work(self.factory, write=False) as s:
            row = s.get(PeerCursor, (cfg.id, remote.id, "push"))
            after = int(row.position) if row and row.position and row.position.isdigit() else 0
            principal = peer_principal(s, node_id=cfg.node_id, organisation_id=cfg.organisation_id)
        where = push_filter(principal, local, peer_node=cfg.node_id, relay=cfg.relay)
        while not self._out_of_time():
            with unit_of_work(self.factory, write=False) as s:
                batch = outgoing(s, where=where, after=after, node=self.node, limit=MAX_ENVELOPE)
            if not batch:
                return
            for envelope, last_seq, too_big in envelopes(batch, max_bytes=limit - ENVELOPE_MARGIN):
                for oid in too_big:
                    self.result.rejected += 1
                    self.result.reject([f"{oid}: larger than the peer's max_content_length ({limit} bytes)"])
                accepted = failed = 0
                if envelope:
                    status = collection.add_objects(
                        {"objects": envelope}, wait_for_completion=True, poll_interval=1, timeout=cfg.timeout
                    )
                    accepted, failed = int(status.success_count or 0), int(status.failure_count or 0)
                    self.result.reject(
                        f"{f.get('id')}: {f.get('message')}" for f in status.failures or [] if isinstance(f, dict)
                    )
                with unit_of_work(self.factory) as s:
                    cursor = cursor_for(s, cfg.id, remote.id, "push")
                    cursor.position = str(last_seq)
                    cursor.complete = True
                    cursor.updated_at = utcnow()
                    s.execute(
                        update(Peer)
                        .where(Peer.id == cfg.id)
                        .values(pushed=Peer.pushed + accepted, rejected=Peer.rejected + failed + len(too_big))
                    )
                self.result.pushed += accepted
                self.result.rejected += failed
            after = batch[-1][0]


def _collection(conn: peer_client.Connection, api_root: str, cid: str) -> Any:
    return Collection(f"{api_root}collections/{cid}/", conn=conn)


# --- entry points ------------------------------------------------------------------------------------------------


def sync_peer(
    factory: sessionmaker[Session], settings: Settings, peer_id: str, *, page_size: int = PAGE_SIZE
) -> SyncResult:
    """One round with one peer; never raises for what the peer or the network does (it is recorded on the peer)."""
    with unit_of_work(factory) as s:
        row = s.get(Peer, peer_id)
        if row is None:
            raise NotFound(f"no peer {peer_id}")
        cfg = _PeerConfig.of(row)
        row.last_attempt_at = utcnow()
    try:  # the token is opened for this round's connection only; the row keeps it sealed
        cfg = replace(cfg, token=secretbox.reveal(settings, secretbox.PEER_TOKEN, cfg.token))
    except secretbox.Unreadable as exc:
        unreadable = SyncResult(cfg.id, cfg.url, errors=[str(exc)])
        _record(factory, unreadable)
        return unreadable
    job = _Round(factory, settings, cfg, page_size)
    try:
        job.run()
    except Exception as exc:  # a peer's failure is recorded, never allowed to end the other rounds
        job.result.errors.append(peer_client.describe(exc, url=cfg.url, timeout=cfg.timeout))
        if not isinstance(exc, PeerError) and not _is_network(exc):
            log.warning("sync with %s failed", cfg.url, exc_info=True)
    finally:
        job.conn.close()
    _record(factory, job.result)
    return job.result


def _is_network(exc: BaseException) -> bool:
    return isinstance(exc, requests.RequestException | taxii_errors.TAXIIServiceException)


def _record(factory: sessionmaker[Session], result: SyncResult) -> None:
    now = utcnow()
    with unit_of_work(factory) as s:
        peer = s.get(Peer, result.peer_id)
        if peer is None:  # removed during the round
            return
        if result.ok:
            peer.last_success_at = now
        else:
            peer.last_error = "; ".join(result.errors)[:2000]
            peer.last_error_at = now
        audit.record(s, actor=None, tag="exchange:peer:sync", object_id=peer.id, summary=result.summary())


def enabled_peers(factory: sessionmaker[Session]) -> list[str]:
    with unit_of_work(factory, write=False) as s:
        return list(s.scalars(select(Peer.id).where(Peer.enabled.is_(True)).order_by(Peer.created_at, Peer.id)))


def sync_peers(
    factory: sessionmaker[Session], settings: Settings, peer_ids: Sequence[str], *, page_size: int = PAGE_SIZE
) -> list[SyncResult]:
    """Rounds with several peers in parallel, each bounded by its own timeout: a stuck peer stalls nobody."""
    if not peer_ids:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(peer_ids)), thread_name_prefix="federation") as pool:
        futures = [pool.submit(sync_peer, factory, settings, pid, page_size=page_size) for pid in peer_ids]
        results: list[SyncResult] = []
        for pid, future in zip(peer_ids, futures, strict=True):
            try:
                results.append(future.result())
            except Exception:  # e.g. the database was unreachable: logged, the others go on
                log.exception("sync round with peer %s failed", pid)
                results.append(SyncResult(pid, "", errors=["the round failed on this node (see the log)"]))
        return results


def sync_all(factory: sessionmaker[Session], settings: Settings) -> None:
    """One round with every enabled peer (the `federation_sync` job, every 30 s)."""
    sync_peers(factory, settings, enabled_peers(factory))
