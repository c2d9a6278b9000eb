"""Moving a crisis between the stages of the deployment's escalation model (`escalation.py`): proposing a move,
agreeing to or refusing it, withdrawing it, and applying it once everyone it needs agreed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing, widening
from cybercrisis.access.policy import COMMUNITY, ORG
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.answers import service as answers
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises.audience import (
    add_community,
    community_orgs,
    notify,
    org_can_read,
    org_names,
    require_readers,
    reshare,
)
from cybercrisis.crises.decisions import add_decision
from cybercrisis.crises.escalation import AFFECTED_MEMBER_STATES, EscalationModel, Stage, model_for
from cybercrisis.crises.governance import activators, missing_consultations
from cybercrisis.crises.models import (
    Crisis,
    DecisionKind,
    Escalation,
    EscalationApproval,
    EscalationState,
)
from cybercrisis.crises.rules import (
    bad,
    check_decider,
    for_update,
    no_pending,
    owner_act,
    pending_escalation,
    proposer_org,
    require_open,
    stage_of,
)
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict


def propose_escalation(
    session: Session,
    *,
    actor: Principal,
    crisis_id: str,
    to: str,
    rationale: str,
    settings: Settings,
    share_with_approvers: bool = False,
) -> Escalation:
    """Propose moving the crisis to another stage; done at once when nobody else must agree.

    `share_with_approvers`: the originator first lets those who must agree read the crisis (its own sharing act,
    audited as such); the proposal itself never adds a reader."""
    crisis = for_update(session, actor, crisis_id)
    model = model_for(settings)
    current = stage_of(model, crisis)
    target = model.find(to)
    # Whoever coordinates now proposes: the owner and the organisations at the current level.
    check_decider(session, actor, crisis, current.level, model, act="crisis.escalation.propose")
    require_open(crisis)
    if target.key == current.key:
        raise Conflict(f"the crisis is already at '{current.label}'")
    no_pending(session, crisis)
    required = list(model.required_for(current, target))
    any_of = list(model.any_of_for(current, target))
    consult = list(model.consult_for(current, target))
    named = [*required, *any_of, *(p for p in consult if p != AFFECTED_MEMBER_STATES)]
    known = set(org_names(session, named))
    unknown = [r for r in dict.fromkeys(named) if r not in known or not session.get(Organisation, r)]
    if unknown:
        raise Conflict(f"the escalation model names organisations this node's directory lacks: {', '.join(unknown)}")
    if _widens_beyond(session, actor.org_id, crisis, target) and crisis.owner_org_id not in required:
        # The target stage's community would start reading the crisis: only its originator lets it in.
        required.append(crisis.owner_org_id)
    if share_with_approvers:  # those who must agree, and those of whom any one may activate the step
        _share_with(session, actor, crisis, [*required, *(o for o in any_of if o not in required)])
    require_readers(session, crisis, required, why="must agree to this step")
    if any_of and not any(org_can_read(session, o, crisis) for o in any_of):
        names = ", ".join(org_names(session, any_of).values())
        raise Conflict(
            f"one of {names} activates this step but none of them can read this crisis; the originator "
            "shares it with the one that is to act first"
        )
    direction = "escalate" if target.rank > current.rank else "de-escalate"
    now = utcnow()
    esc = Escalation(
        id=new_id("escalation"),
        owner_org_id=crisis.owner_org_id,
        created_by_id=actor.user_id,
        tlp=crisis.tlp,
        exercise=crisis.exercise,
        crisis_id=crisis.id,
        from_stage=current.key,
        to_stage=target.key,
        direction=direction,
        rationale=rationale,
        state=EscalationState.PENDING.value,
        required=required,
        any_of=any_of,
        consult=consult,
        proposed_by_org_id=actor.org_id,
        created_at=now,
        modified_at=now,
    )
    session.add(esc)
    session.flush()
    # Proposing counts as agreeing for the proposer's own organisation, once the consultations it owes are recorded
    # (until then the proposal waits, and the organisation agrees after recording them).
    if actor.org_id in (*required, *any_of) and not missing_consultations(session, crisis, esc, actor.org_id):
        session.add(
            EscalationApproval(
                escalation_id=esc.id, org_id=actor.org_id, user_id=actor.user_id, verdict="agree", comment="proposed it"
            )
        )
    reshare(session, crisis)
    audit.record(
        session,
        actor=actor,
        tag="crises:escalation:propose",
        object_id=esc.id,
        summary={"crisis": crisis.id, "from": current.key, "to": target.key, "required": required},
    )
    session.flush()
    if not waiting_for(session, esc):
        _apply(session, actor, crisis, esc, model)
    else:
        notify(
            session,
            crisis,
            event="crises:escalation:approval-requested",
            subject=f"Your agreement is needed: {crisis.title} to {target.label}",
            body=f"A move of the crisis '{crisis.title}' from '{current.label}' to '{target.label}' waits for "
            "your organisation's agreement.",
            object_id=esc.id,
            dedupe=f"escalation-ask:{esc.id}",
            orgs=waiting_for(session, esc),
        )
    return esc


def waiting_for(session: Session, esc: Escalation) -> list[str]:
    """Who the step still waits for: every required organisation, and the `any_of` group until one of it agreed."""
    return waiting_among(esc, answers_of(session, [esc.id]).get(esc.id, {}))


def answers_of(session: Session, escalation_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """The answers given to each of these steps so far: escalation id -> {organisation id: verdict}, in one query."""
    out: dict[str, dict[str, str]] = {}
    if escalation_ids:
        rows = session.execute(
            select(EscalationApproval.escalation_id, EscalationApproval.org_id, EscalationApproval.verdict).where(
                EscalationApproval.escalation_id.in_(sorted(set(escalation_ids)))
            )
        )
        for esc_id, org_id, verdict in rows:
            out.setdefault(esc_id, {})[org_id] = verdict
    return out


def waiting_among(esc: Escalation, answers: Mapping[str, str]) -> list[str]:
    """`waiting_for` from the step's answers (`answers_of`)."""
    agreed = {o for o, verdict in answers.items() if verdict == "agree"}
    waiting = [o for o in esc.required if o not in agreed]
    if esc.any_of and not agreed & set(esc.any_of):
        waiting += [o for o in esc.any_of if o not in waiting]
    return waiting


def _share_with(session: Session, actor: Principal, crisis: Crisis, org_ids: Sequence[str]) -> None:
    """The originator adds organisations to the crisis's share list (those who must agree to a move)."""
    owner_act(actor, crisis, "crisis.share")
    shares = sharing.shares_of(session, crisis.id)
    missing = [o for o in dict.fromkeys(org_ids) if not org_can_read(session, o, crisis, shares)]
    if not missing or crisis.tlp == TLP.RED:
        return  # RED: organisations never read it; require_readers says so
    sharing.write(session, object_id=crisis.id, entries=[(ORG, o) for o in missing], added_by=actor.org_id)
    reshare(session, crisis)
    audit.record(
        session,
        actor=actor,
        tag="crises:crisis:share",
        object_id=crisis.id,
        summary={"added": missing, "why": "they must agree to a move"},
    )


def _widens_beyond(session: Session, org_id: str | None, crisis: Crisis, target: Stage) -> bool:
    """Whether moving to `target` would bring its community in beyond what `org_id` may widen the crisis to."""
    if target.community is None or crisis.tlp in (TLP.RED, TLP.AMBER_STRICT):
        return False  # communities never read these: the move adds no reader
    if (COMMUNITY, target.community) in {(s.kind, s.target) for s in sharing.shares_of(session, crisis.id)}:
        return False
    return bool(
        widening.refused_widening(
            session,
            org_id=org_id,
            tlp=crisis.tlp,
            owner_org_id=crisis.owner_org_id,
            added=[(COMMUNITY, target.community)],
        )
    )


def _apply(session: Session, actor: Principal, crisis: Crisis, esc: Escalation, model: EscalationModel) -> None:
    target = model.stage(esc.to_stage)
    agreed = list(
        session.scalars(
            select(EscalationApproval.org_id).where(
                EscalationApproval.escalation_id == esc.id, EscalationApproval.verdict == "agree"
            )
        )
    )
    crisis.stage = target.key
    crisis.modified_at = utcnow()
    # The community joins when the originator agreed (proposed, or answered) or the proposer may widen to it.
    originator_agreed = crisis.owner_org_id in {*agreed, proposer_org(session, esc)}
    widening_ok = originator_agreed or not _widens_beyond(session, proposer_org(session, esc), crisis, target)
    added = add_community(session, crisis, target.community) if widening_ok else None
    kind = DecisionKind.ESCALATION if esc.direction == "escalate" else DecisionKind.DE_ESCALATION
    verb = "Escalated" if kind == DecisionKind.ESCALATION else "De-escalated"
    decision = add_decision(
        session,
        actor,
        crisis,
        level=target.level,
        kind=kind,
        title=f"{verb} to {target.label}",
        rationale=esc.rationale,
        decided_by=[o for o in (proposer_org(session, esc),) if o] + agreed,
        escalation_id=esc.id,
    )
    esc.state = EscalationState.DONE.value
    esc.decided_at = decision.decided_at
    esc.decision_id = decision.id
    esc.modified_at = decision.decided_at
    reshare(session, crisis)
    audit.record(
        session,
        actor=actor,
        tag="crises:escalation:done",
        object_id=esc.id,
        summary={"crisis": crisis.id, "to": target.key, "community_added": added},
    )
    audit.record(
        session,
        actor=actor,
        tag="crises:crisis:stage",
        object_id=crisis.id,
        summary={"from": esc.from_stage, "to": target.key, "decision": decision.id},
    )
    notify(
        session,
        crisis,
        event=f"crises:crisis:{esc.direction}",
        subject=f"{verb}: {crisis.title}",
        body=f"The crisis '{crisis.title}' moved to '{target.label}' ({target.level} level).",
        object_id=esc.id,
        dedupe=f"escalation-done:{esc.id}",
        orgs=community_orgs(session, target.notify) | set(esc.required) | set(esc.any_of),
    )


def answer_escalation(
    session: Session,
    *,
    actor: Principal,
    crisis_id: str,
    escalation_id: str,
    agree: bool,
    comment: str,
    settings: Settings,
) -> Escalation:
    """One required organisation agrees (or refuses). The crisis row lock makes two answers at once both count.

    On a crisis held at another node (ADR 0013) the answer is checked here as far as this node can (the
    organisation is awaited, says why it refuses), then sent to that node, which applies it under its own model and
    policy; nothing changes here until its new version arrives. The returned escalation is then unchanged."""
    act = "crisis.escalation.answer"
    crisis, esc = pending_escalation(session, actor, crisis_id, escalation_id, answer=act)
    names = ", ".join(org_names(session, [*esc.required, *esc.any_of]).values()) or "nobody"
    may_agree = actor.org_id in {*esc.required, *esc.any_of}
    authority.authorize(
        actor,
        act,
        {authority.R.REQUIRED} if may_agree else set(),
        refusal=f"your organisation is not among those that must agree to this step ({names})",
        held_at=crisis.origin_node,
    )
    assert actor.org_id is not None
    if not agree and not comment:
        raise bad("comment", "say why your organisation does not agree")
    existing = session.get(EscalationApproval, (esc.id, actor.org_id))
    if existing is not None:
        raise Conflict(f"your organisation already answered ({existing.verdict}) on {existing.at.isoformat()}")
    if esc.origin_node is not None:
        # Its origin checks the consultations owed under its own escalation model, and applies the answer.
        answers.queue(session, actor=actor, act=act, obj=esc, data={"agree": agree, "comment": comment})
        return esc
    model = model_for(settings)
    if agree and actor.org_id in activators(esc, model):
        missing = missing_consultations(session, crisis, esc, actor.org_id)
        if missing:
            raise Conflict(
                f"record the consultations this step needs before agreeing: {'; '.join(missing)} "
                f"(POST /api/v1/crises/{crisis.id}/escalations/{esc.id}/consultations)"
            )
    session.add(
        EscalationApproval(
            escalation_id=esc.id,
            org_id=actor.org_id,
            user_id=actor.user_id,
            verdict="agree" if agree else "reject",
            comment=comment,
        )
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="crises:escalation:" + ("agree" if agree else "reject"),
        object_id=esc.id,
        summary={"crisis": crisis.id, "org": actor.org_id},
    )
    if not agree:
        esc.state = EscalationState.REJECTED.value
        esc.decided_at = utcnow()
        target = model.stage(esc.to_stage)
        decision = add_decision(
            session,
            actor,
            crisis,
            level=target.level,
            kind=DecisionKind("escalation" if esc.direction == "escalate" else "de-escalation"),
            title=f"Move to {target.label} not agreed",
            rationale=comment,
            decided_by=[actor.org_id],
            escalation_id=esc.id,
        )
        esc.decision_id = decision.id
        notify(
            session,
            crisis,
            event="crises:escalation:rejected",
            subject=f"Not agreed: {crisis.title}",
            body=f"The move to '{target.label}' was not agreed.",
            object_id=esc.id,
            dedupe=f"escalation-rejected:{esc.id}",
            orgs=[crisis.owner_org_id, *esc.required, *esc.any_of],
        )
    elif not waiting_for(session, esc):
        _apply(session, actor, crisis, esc, model)
    return esc


def withdraw_escalation(session: Session, *, actor: Principal, crisis_id: str, escalation_id: str) -> Escalation:
    crisis, esc = pending_escalation(session, actor, crisis_id, escalation_id)
    rel = {authority.R.OWNER} if actor.org_id == crisis.owner_org_id else set()
    if actor.org_id is not None and actor.org_id == proposer_org(session, esc):
        rel.add(authority.R.PROPOSER)
    authority.authorize(actor, "crisis.escalation.withdraw", rel)
    esc.state = EscalationState.WITHDRAWN.value
    esc.decided_at = utcnow()
    audit.record(
        session, actor=actor, tag="crises:escalation:withdraw", object_id=esc.id, summary={"crisis": crisis.id}
    )
    return esc
