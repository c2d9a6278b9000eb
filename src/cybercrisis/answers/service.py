"""Acts on replicas are sent home (ADR 0013): queue them here, show them while they travel.

A service that finds the object it acts on held at another node (`access.replicas.held_at`) checks the act as
usual (the authority policy, from the replica's data), then calls `queue` instead of writing: the answer waits in
the outbox until the delivery job (exchange/answers_out.py) has it applied or refused by the origin node, whose
new version of the object then arrives like any other. Nothing about the replica changes here meanwhile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Shareable
from cybercrisis.access.principal import Principal
from cybercrisis.answers.models import APPLIED, QUEUED, Answer
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id
from cybercrisis.errors import Conflict, PermissionDenied
from cybercrisis.notify.wake import wake

QUEUE = "answers:answer:queue"
DELIVER = "deliver_answers"  # the job that sends them (jobs.py, exchange/answers_out.py)


def user_ref(user_id: str | None) -> str:
    """What the origin learns of the user who asked: an opaque reference, the same for the same user."""
    return hashlib.sha256(f"cybercrisis-user|{user_id or '-'}".encode()).hexdigest()[:32]


def queue(
    session: Session,
    *,
    actor: Principal,
    act: str,
    obj: Shareable,
    data: dict[str, Any] | None = None,
    once: bool = True,
    tlp: str | None = None,
) -> Answer:
    """Queue `act` of the actor's organisation on the replica `obj` for its origin node; the same act of the same
    organisation already waiting for the same object is not queued twice (it is returned); with another input, or
    once applied there while the replica still holds the version it was made on, it is a conflict. `once=False`:
    an act an organisation may do several times (offering help), each its own answer. `tlp`: what the answer
    carries when stricter than its object (an offer: AMBER+STRICT)."""
    node = obj.origin_node
    if node is None or actor.org_id is None:
        raise PermissionDenied("only an act of an organisation on an object held at another node is sent there")
    mine = select(Answer).where(
        Answer.object_id == obj.id,
        Answer.act == act,
        Answer.owner_org_id == actor.org_id,
        Answer.state.in_((QUEUED, APPLIED)),
    )
    sent = list(session.scalars(mine)) if once else []
    waiting = next((a for a in sent if a.state == QUEUED), None)
    if waiting is not None:
        if waiting.input != (data or {}):
            raise Conflict(
                f"your organisation's answer of {waiting.created_at:%Y-%m-%d %H:%M} UTC is still on its way to node "
                f"{node}, with another choice: it is sent as it was, and cannot be changed here"
            )
        return waiting
    if any(a.version_seen == obj.received_version for a in sent):
        raise Conflict(f"node {node} applied your organisation's answer; its new version has not arrived here yet")
    answer = Answer(
        id=new_id("answer"),
        act=act,
        object_id=obj.id,
        origin_node=node,
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        user_ref=user_ref(actor.user_id),
        tlp=tlp or obj.tlp,
        exercise=obj.exercise,
        version_seen=obj.received_version,
        input=data or {},
        state=QUEUED,
    )
    session.add(answer)
    session.flush()
    wake(session, DELIVER)  # sent within a second of the commit, not at the job's next turn
    audit.record(
        session,
        actor=actor,
        tag=QUEUE,
        object_id=obj.id,
        summary={"answer": answer.id, "act": act, "node": node},
    )
    return answer


def of_organisation(session: Session, *, principal: Principal, object_ids: Sequence[str]) -> list[Answer]:
    """The answers the reader's organisation sent about these objects, newest first (only its own: what another
    organisation asked is between it and the origin)."""
    if principal.org_id is None or not object_ids:
        return []
    return list(
        session.scalars(
            select(Answer)
            .where(Answer.object_id.in_(list(object_ids)), Answer.owner_org_id == principal.org_id)
            .order_by(Answer.created_at.desc(), Answer.id)
        )
    )
