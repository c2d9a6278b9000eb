"""Shared API shapes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import Response
from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HeldAt(BaseModel):
    """Where an object held at another node (a replica, ADR 0013) lives, and how fresh this copy is. Only the
    origin changes it; acts that are answers to it (acknowledging an early warning) are sent there."""

    node: str = Field(description="the origin node's id (identity--...), as `cybercrisis node show` prints it")
    node_name: str | None = Field(description="its name, when it is a peer of this node (its discovery's title)")
    organisation: str | None = Field(
        description="the organisation that runs it, as this node's peer row or pin names it (null: not known here)"
    )
    version: datetime = Field(description="the origin's `modified` of the version held here")
    received_at: datetime = Field(description="when that version arrived here")
    last_heard: datetime = Field(
        description="the later of the last successful sync round with that node and the arrival of this version"
    )
    stale: bool = Field(
        description="nothing heard from that node for more than 10 minutes: this copy may be out of date (a node that "
        "only pushes to this one is heard when it sends something)"
    )


REPLICA_STALE_AFTER = timedelta(minutes=10)  # our own rule of thumb (three missed sync rounds and more), not law


def held_at(session: Any, obj: Any) -> HeldAt | None:
    """`obj`'s origin when it is a replica, else None."""
    return held_at_many(session, [obj]).get(obj.id)


def held_at_many(session: Any, objs: Any) -> dict[str, HeldAt]:
    """The origin of each replica among `objs`, by id (a page of them in two queries); the others have none."""
    replicas = [o for o in objs if getattr(o, "origin_node", None) is not None and o.received_at is not None]
    if not replicas:
        return {}
    from sqlalchemy import select

    from cybercrisis.db import utcnow
    from cybercrisis.exchange.models import NodePin, Peer

    nodes = sorted({o.origin_node for o in replicas})
    peers: dict[str, Any] = {}
    for row in session.execute(
        select(Peer.node_id, Peer.title, Peer.organisation_id, Peer.last_success_at).where(Peer.node_id.in_(nodes))
    ):
        peers.setdefault(row.node_id, row)
    unpeered = [n for n in nodes if n not in peers]
    pins = (
        {p.node_id: p.organisation_id for p in session.scalars(select(NodePin).where(NodePin.node_id.in_(unpeered)))}
        if unpeered
        else {}
    )
    now, out = utcnow(), dict[str, HeldAt]()
    for o in replicas:
        peer = peers.get(o.origin_node)
        synced = peer.last_success_at if peer is not None else None
        heard = max(synced, o.received_at) if synced is not None else o.received_at
        out[o.id] = HeldAt(
            node=o.origin_node,
            node_name=peer.title or None if peer is not None else None,
            organisation=peer.organisation_id if peer is not None else pins.get(o.origin_node),
            version=o.received_version or o.modified_at,
            received_at=o.received_at,
            last_heard=heard,
            stale=now - heard > REPLICA_STALE_AFTER,
        )
    return out


class AnswerOut(BaseModel):
    """An act of the reader's organisation on an object held at another node, sent there (ADR 0013)."""

    id: str = Field(examples=["answer--6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"])
    act: str = Field(
        examples=[
            "alert.acknowledge",
            "crisis.escalation.answer",
            "crisis.decide",
            "assistance.offer",
            "communication.verdict",
        ]
    )
    state: str = Field(
        description="queued (waiting for the origin node, retried until it answers) | applied (its change comes "
        "back as a new version) | refused (see reason)",
        examples=["queued"],
    )
    reason: str = Field(description="the origin node's reason for a refusal")
    node: str = Field(description="the origin node it is sent to")
    created: datetime
    answered: datetime | None
    attempts: int
    last_error: str | None = Field(description="why the last delivery failed, while it is queued")
    object: str = Field(
        description="what it answers: the early warning, the escalation of a crisis, the crisis (a decision), the "
        "request for assistance, or the communication (a verdict)"
    )
    input: dict[str, Any] = Field(
        default_factory=dict,
        description="what the organisation sent: nothing for an acknowledgement, {agree, comment} for a move, the "
        "decision for a decision, the offer (capability, people, available_from, conditions) for an offer, "
        "{version, verdict: approve|changes, comment} for a verdict",
    )

    @classmethod
    def of(cls, a: Any) -> AnswerOut:
        """From an `answers.models.Answer` row."""
        return cls(
            id=a.id,
            act=a.act,
            object=a.object_id,
            input=dict(a.input or {}),
            state=a.state,
            reason=a.reason,
            node=a.origin_node,
            created=a.created_at,
            answered=a.answered_at,
            attempts=a.attempts,
            last_error=a.last_error,
        )


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    tag: str
    actor_user_id: str | None
    actor_org_id: str | None
    summary: dict[str, object]


def json_body(model: BaseModel) -> Response:
    """The model as a JSON response, serialised once, here.

    FastAPI passes a returned `Response` through untouched: a sync route then neither validates its model a second
    time nor takes one more trip through the thread pool to do it (issue 14). The route keeps its `response_model`,
    which documents the body in OpenAPI.
    """
    return Response(model.model_dump_json(), media_type="application/json")
