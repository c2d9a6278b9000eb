"""Who may do what to a crisis: the relations the authority policy asks about, and the checks every change makes.

`allowed_actions` is what the API, the pages and the service guards share: a page offers what it lists, and the
service refuses the rest with the policy's own reasons.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, replicas, sharing
from cybercrisis.access.principal import Principal
from cybercrisis.crises.audience import community_orgs, org_names
from cybercrisis.crises.escalation import EscalationModel, Stage
from cybercrisis.crises.models import (
    CommissionRole,
    Crisis,
    CrisisStatus,
    Escalation,
    EscalationState,
)
from cybercrisis.directory import service as directory
from cybercrisis.directory.models import Community, MembershipRole
from cybercrisis.errors import Conflict, InvalidInput, NotFound

LEVELS = ("technical", "operational", "political")


def bad(field: str, message: str, **extra: object) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message, **extra}])


def choice(field: str, value: str, valid: Iterable[str]) -> str:
    options = list(valid)
    if value not in options:
        raise bad(field, f"'{value}' is not valid for {field}; valid: {', '.join(options)}", valid=options)
    return value


def get(session: Session, actor: Principal, crisis_id: str) -> Crisis:
    return sharing.get_readable(session, actor, Crisis, crisis_id)


def for_update(session: Session, actor: Principal, crisis_id: str, *, answer: str | None = None) -> Crisis:
    """A readable crisis, locked until commit so that concurrent decisions about it are serialised.

    A crisis held at another node (ADR 0013) takes only `answer`, an act its origin applies (authority.ANSWERS):
    every other change is refused here, with the node that decides."""
    crisis = get(session, actor, crisis_id)
    if crisis.origin_node is not None and answer not in authority.ANSWERS:
        raise replicas.refusal(crisis.origin_node)
    # Read again under the lock: another transaction may have changed it while we waited.
    q = select(Crisis).where(Crisis.id == crisis.id).with_for_update().execution_options(populate_existing=True)
    return session.scalars(q).one()


def require_open(crisis: Crisis) -> None:
    if crisis.status != CrisisStatus.OPEN:
        raise Conflict(f"the crisis is {crisis.status}; reopen it first")


def owner_act(actor: Principal, crisis: Crisis, act: str) -> None:
    authority.authorize(actor, act, {authority.R.OWNER} if actor.org_id == crisis.owner_org_id else set())


def stage_of(model: EscalationModel, crisis: Crisis) -> Stage:
    try:
        return model.stage(crisis.stage)
    except KeyError:
        raise Conflict(
            f"the crisis is at stage '{crisis.stage}', which the deployment's escalation model no longer "
            "has; an administrator must restore it or move the crisis"
        ) from None


def participants_at(session: Session, crisis: Crisis, level: str, model: EscalationModel) -> set[str]:
    """Organisations that take part at `level`: the owner, and members of that level's communities."""
    slugs = [s.community for s in model.stages if s.level == level and s.community]
    return {crisis.owner_org_id} | community_orgs(session, slugs)


def participants(session: Session, crisis: Crisis, model: EscalationModel) -> set[str]:
    """Organisations taking part in the crisis: the owner, and members of the communities of every stage up to the
    current one (the levels the crisis has reached)."""
    current = stage_of(model, crisis)
    slugs = [s.community for s in model.stages if s.rank <= current.rank and s.community]
    return {crisis.owner_org_id} | community_orgs(session, slugs)


def relations(
    session: Session, actor: Principal, crisis: Crisis, model: EscalationModel, level: str | None = None
) -> set[authority.Relation]:
    """How the actor's organisation stands to a crisis it reads: owner, participant (at `level`, or in the crisis
    as a whole), or a mere recipient."""
    if actor.org_id is None:
        return set()
    if actor.org_id == crisis.owner_org_id:
        return {authority.R.OWNER, authority.R.PARTICIPANT}
    taking_part = (
        participants(session, crisis, model) if level is None else participants_at(session, crisis, level, model)
    )
    return {authority.R.PARTICIPANT} if actor.org_id in taking_part else {authority.R.RECIPIENT}


def level_communities(model: EscalationModel, level: str) -> list[str]:
    return sorted({s.community for s in model.stages if s.level == level and s.community})


def community_deciders(session: Session, crisis: Crisis, slug: str, model: EscalationModel) -> set[str]:
    """The deciding members of one community for this crisis: its `member`s (directory roles), with the Commission
    a member or not as the crisis records (NIS2 Art. 16(2))."""
    deciders = directory.deciding_members(session, community=slug)
    switch = model.commission
    if switch is not None and switch.community == slug:
        if crisis.commission_role == CommissionRole.MEMBER:
            deciders.add(switch.org_id)
        else:
            deciders.discard(switch.org_id)
    return deciders


def deciders_at(session: Session, crisis: Crisis, level: str, model: EscalationModel) -> set[str]:
    """Who decides at `level`: the deciding members of that level's communities; where the level has no community
    (a national crisis), the crisis owner."""
    slugs = level_communities(model, level)
    if not slugs:
        return {crisis.owner_org_id}
    return {o for slug in slugs for o in community_deciders(session, crisis, slug, model)}


def _why_not_decider(session: Session, actor: Principal, crisis: Crisis, level: str, model: EscalationModel) -> str:
    """The reason, in the community's own terms, why the actor's organisation does not decide at `level`."""
    slugs = level_communities(model, level)
    org_id = actor.org_id or ""
    name = org_names(session, [org_id]).get(org_id, "your organisation") if org_id else "your organisation"
    for slug in slugs:
        community = session.get(Community, slug)
        label = community.name if community else slug
        cite = next((s.composition for s in model.stages if s.community == slug and s.composition), "")
        if not cite and community is not None and 0 < len(community.basis) <= 80:
            cite = community.basis
        basis = f" ({cite})" if cite else ""
        switch = model.commission
        if switch is not None and switch.community == slug and switch.org_id == org_id:
            return (
                f"{name} takes part in {label} as an observer in this crisis ({switch.basis}): a deciding member "
                f"of {label} or the crisis owner records it as a member where the incident has or is likely to "
                "have a significant impact on services within the scope of NIS2"
            )
        role = directory.community_role(session, org_id=org_id, community=slug)
        if role == MembershipRole.SECRETARIAT:
            return f"{name} is the secretariat of {label}{basis}: it supports but does not decide"
        if role in (MembershipRole.OBSERVER, MembershipRole.INVITED_OBSERVER):
            kind = "an invited observer" if role == MembershipRole.INVITED_OBSERVER else "an observer"
            return f"{name} is {kind} in {label}{basis}: observers read but do not decide"
    return (
        f"only the deciding members of {', '.join(slugs)} (role member) decide at the {level} level; "
        f"{name} is not one of them"
    )


def check_decider(
    session: Session, actor: Principal, crisis: Crisis, level: str, model: EscalationModel, act: str = "crisis.decide"
) -> None:
    rel = relations(session, actor, crisis, model, level)
    if actor.org_id is not None and actor.org_id in deciders_at(session, crisis, level, model):
        rel.add(authority.R.DECIDER)
    if not authority.allows(actor, act, rel):
        authority.authorize(actor, act, rel, refusal=_why_not_decider(session, actor, crisis, level, model))


def no_pending(session: Session, crisis: Crisis) -> None:
    pending = session.scalars(
        select(Escalation.id).where(Escalation.crisis_id == crisis.id, Escalation.state == EscalationState.PENDING)
    ).first()
    if pending:
        raise Conflict(f"escalation {pending} is still waiting for agreement: decide it or withdraw it first")


def pending_escalation(
    session: Session, actor: Principal, crisis_id: str, escalation_id: str, *, answer: str | None = None
) -> tuple[Crisis, Escalation]:
    crisis = for_update(session, actor, crisis_id, answer=answer)
    esc = sharing.get_readable(session, actor, Escalation, escalation_id)
    if esc.crisis_id != crisis.id:
        raise NotFound(f"no escalation {escalation_id} in this crisis")
    session.execute(select(Escalation.id).where(Escalation.id == esc.id).with_for_update())
    session.refresh(esc)
    if esc.state != EscalationState.PENDING:
        raise Conflict(f"this escalation is already {esc.state}")
    return crisis, esc


def proposer_org(session: Session, esc: Escalation) -> str | None:
    from cybercrisis.accounts.models import User

    if esc.proposed_by_org_id is not None:
        return esc.proposed_by_org_id
    if esc.created_by_id is None:
        return None
    return session.scalar(select(User.org_id).where(User.id == esc.created_by_id))


# --- what the reader may do ----------------------------------------------------------------------------------

# Acts on the crisis itself; the decision forms follow the room's own `can_decide` (per level, from the deciders).
CRISIS_ACTS = (
    "crisis.edit",
    "crisis.share",
    "crisis.close",
    "crisis.reopen",
    "crisis.unlink",
    "crisis.link",
    "crisis.action.create",
)


def allowed_actions(session: Session, principal: Principal, crisis: Crisis, model: EscalationModel) -> frozenset[str]:
    """The acts of the authority policy (`access/authority.py`) this reader may do to the crisis as it stands.

    A closed crisis takes nothing but reopening; an open one cannot be reopened. The service checks each act again
    (with the policy's reason when it refuses)."""
    rel = relations(session, principal, crisis, model)
    acts = {act for act in CRISIS_ACTS if authority.allows(principal, act, rel, held_at=crisis.origin_node)}
    if crisis.status == CrisisStatus.OPEN:
        acts.discard("crisis.reopen")
    else:
        acts &= {"crisis.reopen"}
    return frozenset(acts)


def escalation_actions(
    principal: Principal,
    *,
    owner_org_id: str,
    proposer_org_id: str | None,
    waiting_for: Iterable[str],
    pending: bool,
    held_at: str | None = None,
) -> frozenset[str]:
    """What the reader may do to one escalation: answer it while its organisation's agreement is awaited, withdraw
    it as the crisis owner or the proposer's organisation. Nothing once it is no longer pending. On a crisis held at
    another node (`held_at`), answering only: the answer goes to that node."""
    org = principal.org_id
    if not pending or org is None:
        return frozenset()
    acts: set[str] = set()
    required = {authority.R.REQUIRED} if org in waiting_for else set()
    if authority.allows(principal, "crisis.escalation.answer", required, held_at=held_at):
        acts.add("crisis.escalation.answer")
    rel = {r for r, o in ((authority.R.OWNER, owner_org_id), (authority.R.PROPOSER, proposer_org_id)) if o == org}
    if authority.allows(principal, "crisis.escalation.withdraw", rel, held_at=held_at):
        acts.add("crisis.escalation.withdraw")
    return frozenset(acts)


def action_actions(
    principal: Principal, *, owner_org_id: str, assignee_org_id: str, held_at: str | None = None
) -> frozenset[str]:
    """What the reader may do to one action of the crisis: its owner's organisation and the crisis owner update it;
    only the crisis owner gives it to another organisation. Nothing on a crisis held at another node."""
    org = principal.org_id
    rel = {r for r, o in ((authority.R.OWNER, owner_org_id), (authority.R.ASSIGNEE, assignee_org_id)) if o == org}
    return frozenset(
        act
        for act in ("crisis.action.update", "crisis.action.reassign")
        if authority.allows(principal, act, rel, held_at=held_at)
    )
