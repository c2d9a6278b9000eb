"""Delivering queued answers to their origin nodes (ADR 0013): the job `deliver_answers`.

Each queued answer (answers/service.py) is signed with this node's key and posted to its origin's
`/federation/v1/answers` with the token of the account this node holds there (the peer's, `peer add`), or, for an
origin pinned through a hub (`node pin --via`), to that hub, which keeps it and answers `relayed` until the origin
has answered (asked again every 2 s). An answer a hub relays goes on as its asking node signed it. All of it runs
outside any database transaction; the signed reply (applied or refused, with the reason) is verified with the
pinned keys of the node posted to and recorded. An origin that is down, slow or answers garbage leaves the answer
queued: it is tried again with a growing delay (2 s doubling, at most 5 min). The origin keeps a receipt per key,
so an answer sent again after a crash between its delivery and our record is applied once and answered with the
same outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import secretbox
from cybercrisis.answers.models import APPLIED, QUEUED, REFUSED, Answer
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.exchange import answers_in, peer_client
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import NodePin, Peer
from cybercrisis.exchange.stix_common import ts

log = logging.getLogger(__name__)

PATH = "/federation/v1/answers"
BATCH = 100
MAX_DELAY = timedelta(minutes=5)
RELAYED_POLL = timedelta(seconds=2)  # how soon to ask a relay again what became of an answer it holds


@dataclass
class Delivered:
    applied: int = 0
    refused: int = 0
    failed: int = 0
    relayed: int = 0


@dataclass(frozen=True, slots=True)
class _Send:
    id: str
    url: str
    token: str
    username: str | None
    timeout: float
    keys: dict[str, str]
    node_id: str
    body: dict[str, Any]
    # Through a relay: the origin and its pinned keys, which alone sign an outcome (the relay signs `relayed` only).
    origin: str | None = None
    origin_keys: dict[str, str] | None = None


def _prepare(session: Session, answer: Answer, settings: Settings, local: nodes.Node) -> _Send | str:
    """Where and what to send: to the origin if it is a peer, else to the relay it was pinned through; an answer
    this node relays goes on as its asking node signed it."""
    peer = session.scalars(select(Peer).where(Peer.node_id == answer.origin_node, Peer.enabled.is_(True))).first()
    origin_keys: dict[str, str] | None = None
    if peer is None and answer.act in answers_in.BILATERAL:
        # AMBER+STRICT between offerer and requester: never through a hub, even when the direct peer went away.
        return (
            f"this answer goes to node {answer.origin_node} directly, never through a hub, and that node is no "
            "longer an enabled peer of this one: enable or add it again (peer enable, peer add) to send it"
        )
    if peer is None and answer.relayed_for is None:
        pin = session.get(NodePin, answer.origin_node)
        peer = session.get(Peer, pin.via_peer_id) if pin is not None else None
        origin_keys = dict(pin.keys) if pin is not None else None
    if peer is None:
        return (
            f"no enabled peer for node {answer.origin_node}, nor a relay it is pinned through: add it (peer add) or "
            "pin it through a hub (node pin) to send answers there"
        )
    if answer.relayed_for is not None and answer.signature is not None:
        body = dict(answer.signature["body"]) | {"signature": answer.signature["block"]}
    else:
        body = {
            "to": answer.origin_node,
            "key": answer.id,
            "act": answer.act,
            "object": answer.object_id,
            "organisation": answer.owner_org_id,
            "user": answer.user_ref,
            "version_seen": ts(answer.version_seen) if answer.version_seen else None,
            "input": dict(answer.input),
        }
        body["signature"] = local.sign_message(answers_in.PURPOSE, body)
    return _Send(
        id=answer.id,
        url=urljoin(peer.url, PATH),
        token=secretbox.reveal(settings, secretbox.PEER_TOKEN, peer.token),
        username=peer.username,
        timeout=peer.timeout_seconds,
        keys={str(k["id"]): str(k["public_key"]) for k in peer.keys},
        node_id=peer.node_id,
        body=body,
        origin=answer.origin_node if origin_keys is not None else None,
        origin_keys=origin_keys,
    )


def _post(send: _Send, settings: Settings) -> dict[str, Any]:
    """The origin's verified reply; raises PeerError (or a requests error) otherwise."""
    conn = peer_client.connect(
        token=send.token, username=send.username, timeout=send.timeout, allow=settings.outbound_networks
    )
    try:
        response = conn.session.post(send.url, json=send.body, headers={"Accept": "application/json"})
        if response.status_code in (403, 422):
            # The origin will not take it, however often it is sent: say why, and stop (a 401 is a token to renew).
            detail = response.json().get("detail") if "json" in response.headers.get("content-type", "") else None
            reason = f"the origin node did not take it (HTTP {response.status_code}): {detail or 'no reason given'}"
            return {"key": send.id, "status": REFUSED, "reason": str(reason)[:2000]}
        if response.status_code != 200:
            response.raise_for_status()
            raise peer_client.PeerError(f"the origin answered HTTP {response.status_code}")
        reply = response.json()
    finally:
        conn.session.close()
    if not isinstance(reply, dict):
        raise peer_client.PeerError("the origin's reply is not a JSON object")
    signature = reply.get("signature")
    body = {k: v for k, v in reply.items() if k != "signature"}
    # An outcome is signed by the origin: sent through a relay, the relay signs only `relayed` and passes the
    # origin's own signed reply on unchanged, so it cannot invent one.
    if send.origin is not None and reply.get("status") != answers_in.RELAYED:
        ring = {send.origin: send.origin_keys or {}}
    else:
        ring = {send.node_id: send.keys}
    problem = nodes.verify_message(answers_in.REPLY, body, signature, ring)
    if problem is not None:
        raise peer_client.PeerError(f"the reply is not signed by the node that decides: {problem}")
    if reply.get("key") != send.id or reply.get("status") not in (APPLIED, REFUSED, answers_in.RELAYED):
        raise peer_client.PeerError("the reply is not about this answer")
    return reply


def deliver_due(factory: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> Delivered:
    """Send every queued answer that is due, one by one; record each outcome in its own transaction."""
    now = now or utcnow()
    stats = Delivered()
    local = nodes.load(settings.data_dir)
    with unit_of_work(factory, write=False) as s:
        due = list(
            s.scalars(
                select(Answer.id)
                .where(Answer.state == QUEUED, Answer.next_attempt_at <= now)
                .order_by(Answer.created_at, Answer.id)
                .limit(BATCH)
            )
        )
    down: dict[str, str] = {}
    for answer_id in due:
        with unit_of_work(factory, write=False) as s:
            answer = s.get(Answer, answer_id)
            if answer is None or answer.state != QUEUED:
                continue
            send = _prepare(s, answer, settings, local)
        reply: dict[str, Any] | None = None
        error: str | None = send if isinstance(send, str) else None
        if not isinstance(send, str) and send.node_id in down:
            error = down[send.node_id]  # unreachable a moment ago in this round: not asked again now
        elif not isinstance(send, str):
            try:
                reply = _post(send, settings)
            except (peer_client.PeerError, requests.RequestException, ValueError) as exc:
                error = peer_client.describe(exc, url=send.url, timeout=send.timeout)
                if isinstance(exc, requests.ConnectionError | requests.Timeout):
                    down[send.node_id] = error
        with unit_of_work(factory) as s:
            answer = s.get(Answer, answer_id)
            if answer is None or answer.state != QUEUED:
                continue
            if reply is None:
                answer.attempts += 1
                answer.last_error = error
                answer.next_attempt_at = utcnow() + min(timedelta(seconds=2 ** min(answer.attempts, 9)), MAX_DELAY)
                stats.failed += 1
                continue
            if reply["status"] == answers_in.RELAYED:  # a hub holds it for the origin: ask it again shortly
                answer.last_error = None
                answer.next_attempt_at = utcnow() + RELAYED_POLL
                stats.relayed += 1
                continue
            if answer.relayed_for is not None and "signature" in reply:  # kept for the asking node, as signed
                answer.signature = dict(answer.signature or {}) | {"reply": reply}
            answer.state = str(reply["status"])
            answer.reason = str(reply.get("reason") or "")[:2000]
            answer.answered_at = utcnow()
            answer.last_error = None
            audit.record(
                s,
                actor=None,
                tag=f"answers:answer:{answer.state}",
                object_id=answer.object_id,
                summary={"answer": answer.id, "act": answer.act, "node": answer.origin_node, "reason": answer.reason},
            )
            if answer.state == APPLIED:
                stats.applied += 1
            else:
                stats.refused += 1
    return stats
