"""The decision log of a crisis: decisions at a level, and phase changes (themselves decisions)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.answers import service as answers
from cybercrisis.answers.models import Answer
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises.audience import copy_shares, notify
from cybercrisis.crises.escalation import model_for
from cybercrisis.crises.models import (
    Crisis,
    Decision,
    DecisionKind,
    Phase,
)
from cybercrisis.crises.rules import LEVELS, check_decider, choice, for_update, participants_at, require_open, stage_of
from cybercrisis.crises.schemas import DecisionIn
from cybercrisis.db import new_id, utcnow
from cybercrisis.errors import Conflict

_OWN_ENDPOINT = {DecisionKind.ESCALATION, DecisionKind.DE_ESCALATION, DecisionKind.PHASE}


def add_decision(
    session: Session,
    actor: Principal,
    crisis: Crisis,
    *,
    level: str,
    kind: DecisionKind,
    title: str,
    rationale: str,
    decided_by: Sequence[str],
    detail: str = "",
    options: Sequence[str] = (),
    escalation_id: str | None = None,
) -> Decision:
    now = utcnow()
    decision = Decision(
        id=new_id("decision"),
        owner_org_id=crisis.owner_org_id,
        created_by_id=actor.user_id,
        tlp=crisis.tlp,
        exercise=crisis.exercise,
        crisis_id=crisis.id,
        level=level,
        kind=kind.value,
        title=title,
        detail=detail,
        options=list(options),
        rationale=rationale,
        decided_at=now,
        decided_by=list(dict.fromkeys(decided_by)),
        escalation_id=escalation_id,
        created_at=now,
        modified_at=now,
    )
    session.add(decision)
    session.flush()
    copy_shares(session, crisis, [decision.id])
    audit.record(
        session,
        actor=actor,
        tag="crises:decision:create",
        object_id=decision.id,
        summary={"crisis": crisis.id, "level": level, "kind": kind.value},
    )
    return decision


def record_decision(
    session: Session, *, actor: Principal, crisis_id: str, data: DecisionIn, settings: Settings
) -> Decision | Answer:
    """Record a decision at a level where the actor's organisation decides. On a crisis held at another node (ADR
    0013) the decision is checked here as far as this node can (the level, a deciding organisation there), then
    sent to that node, which records it under its own model: the answer is returned."""
    crisis = for_update(session, actor, crisis_id, answer="crisis.decide")
    model = model_for(settings)
    level = choice("level", data.level, LEVELS)
    kind = DecisionKind(choice("kind", data.kind, [k.value for k in DecisionKind if k not in _OWN_ENDPOINT]))
    check_decider(session, actor, crisis, level, model)
    require_open(crisis)
    options = [o.strip() for o in data.options if o.strip()]
    assert actor.org_id is not None  # check_decider found the organisation among the participants
    if crisis.origin_node is not None:
        sent = data.model_dump() | {"options": options}
        return answers.queue(session, actor=actor, act="crisis.decide", obj=crisis, data=sent, once=False)
    decision = add_decision(
        session,
        actor,
        crisis,
        level=level,
        kind=kind,
        title=data.title,
        detail=data.detail,
        options=options,
        rationale=data.rationale,
        decided_by=[actor.org_id],
    )
    crisis.modified_at = utcnow()
    notify(
        session,
        crisis,
        event="crises:decision:create",
        subject=f"Decision in crisis {crisis.title}",
        body=f"A {level}-level decision was recorded: {decision.title}",
        object_id=decision.id,
        dedupe=f"decision:{decision.id}",
        orgs=participants_at(session, crisis, level, model),
        exclude=actor,
    )
    return decision


def change_phase(
    session: Session, *, actor: Principal, crisis_id: str, phase: str, rationale: str, settings: Settings
) -> Decision:
    crisis = for_update(session, actor, crisis_id)
    model = model_for(settings)
    new = choice("phase", phase, [p.value for p in Phase])
    level = stage_of(model, crisis).level
    check_decider(session, actor, crisis, level, model, act="crisis.phase")
    require_open(crisis)
    if new == crisis.phase:
        raise Conflict(f"the crisis is already in the {new} phase")
    before = crisis.phase
    crisis.phase = new
    crisis.modified_at = utcnow()
    assert actor.org_id is not None
    decision = add_decision(
        session,
        actor,
        crisis,
        level=level,
        kind=DecisionKind.PHASE,
        title=f"Phase changed from {before} to {new}",
        rationale=rationale,
        decided_by=[actor.org_id],
    )
    audit.record(
        session, actor=actor, tag="crises:crisis:phase", object_id=crisis.id, summary={"from": before, "to": new}
    )
    return decision
