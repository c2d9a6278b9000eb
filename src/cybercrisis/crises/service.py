"""Crises: opening, linking incidents, escalation by the deployment's model, decisions, actions (ADR 0007).

Objects of a crisis (escalations, decisions, actions) carry the crisis's marking and share list, written when they
are created and rewritten whenever the crisis's audience changes (`_reshare`), so that one access layer decides
about each of them like about anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.models import Share
from cybercrisis.access.policy import COMMUNITY, ORG, can_read, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises.escalation import AFFECTED_MEMBER_STATES, EscalationModel, Stage, model_for
from cybercrisis.crises.models import (
    Action,
    ActionStatus,
    CommissionRole,
    Crisis,
    CrisisIncident,
    CrisisStatus,
    Decision,
    DecisionKind,
    Escalation,
    EscalationApproval,
    EscalationConsultation,
    EscalationState,
    Justification,
    Phase,
)
from cybercrisis.crises.schemas import ActionIn, ActionPatch, ConsultationIn, CrisisIn, CrisisPatch, DecisionIn
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory import service as directory
from cybercrisis.directory.models import Community, CommunityMembership, MembershipRole, Organisation
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.incidents.models import Incident, IncidentCountry
from cybercrisis.notify.service import notify_readers

# Decisions recorded through their own endpoints, never through the generic decision log.
_OWN_ENDPOINT = {DecisionKind.ESCALATION, DecisionKind.DE_ESCALATION, DecisionKind.PHASE}
LEVELS = ("technical", "operational", "political")


def _bad(field: str, message: str, **extra: object) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message, **extra}])


def _choice(field: str, value: str, valid: Iterable[str]) -> str:
    options = list(valid)
    if value not in options:
        raise _bad(field, f"'{value}' is not valid for {field}; valid: {', '.join(options)}", valid=options)
    return value


# --- audience ------------------------------------------------------------------------------------------------


def org_principal(session: Session, org_id: str) -> Principal:
    """Any ordinary user of `org_id`, for asking whether that organisation may read something."""
    communities = frozenset(
        session.scalars(select(CommunityMembership.community_slug).where(CommunityMembership.org_id == org_id))
    )
    return Principal(user_id=f"user--probe-of-{org_id}", org_id=org_id, communities=communities)


def org_can_read(session: Session, org_id: str, crisis: Crisis, shares: Sequence[Share] | None = None) -> bool:
    rows = sharing.shares_of(session, crisis.id) if shares is None else shares
    return can_read(org_principal(session, org_id), tlp=crisis.tlp, owner_org_id=crisis.owner_org_id, shares=rows)


def audience_orgs(session: Session, crisis: Crisis) -> set[str]:
    """Organisations whose users may read the crisis (named users of RED aside)."""
    if crisis.tlp == TLP.RED:
        return {crisis.owner_org_id}
    shares = sharing.shares_of(session, crisis.id)
    orgs = {s.target for s in shares if s.kind == ORG} | {crisis.owner_org_id}
    if crisis.tlp != TLP.AMBER_STRICT:
        slugs = [s.target for s in shares if s.kind == COMMUNITY]
        if slugs:
            orgs |= set(
                session.scalars(
                    select(CommunityMembership.org_id).where(CommunityMembership.community_slug.in_(sorted(slugs)))
                )
            )
    return orgs


_CHILD_MODELS: tuple[type[Escalation] | type[Decision] | type[Action], ...] = (Escalation, Decision, Action)


def _children(session: Session, crisis_id: str) -> list[str]:
    ids: list[str] = []
    for model in _CHILD_MODELS:
        ids += session.scalars(select(model.id).where(model.crisis_id == crisis_id))
    return ids


def _copy_shares(session: Session, crisis: Crisis, child_ids: Sequence[str]) -> None:
    """Give `child_ids` exactly the crisis's marking and share list."""
    if not child_ids:
        return
    entries = [(s.kind, s.target) for s in sharing.shares_of(session, crisis.id)]
    session.execute(delete(Share).where(Share.object_id.in_(list(child_ids))))
    for child in child_ids:
        sharing.write(session, object_id=child, entries=entries, added_by=crisis.owner_org_id)
    for model in _CHILD_MODELS:
        session.execute(
            sql_update(model)
            .where(model.id.in_(list(child_ids)), model.tlp != crisis.tlp)
            .values(tlp=crisis.tlp)
            .execution_options(synchronize_session="fetch")
        )


def _reshare(session: Session, crisis: Crisis) -> None:
    session.flush()
    _copy_shares(session, crisis, _children(session, crisis.id))


def _require_readers(session: Session, crisis: Crisis, org_ids: Iterable[str], *, why: str) -> None:
    """Refuse when one of these organisations cannot read the crisis: a proposal adds no reader (issue 12); the
    originator decides who reads, through the crisis's sharing."""
    shares = sharing.shares_of(session, crisis.id)
    missing = [o for o in dict.fromkeys(org_ids) if not org_can_read(session, o, crisis, shares)]
    if not missing:
        return
    names = ", ".join(sorted(_names(session, missing).values()))
    owner = _names(session, [crisis.owner_org_id])[crisis.owner_org_id]
    fix = (
        "the originator must mark it AMBER+STRICT or wider and share it with them first"
        if crisis.tlp == TLP.RED
        else f"the originator ({owner}) shares it with them first (PUT /api/v1/crises/{crisis.id}/sharing)"
    )
    raise Conflict(
        f"{names} {why} but cannot read this crisis ({TLP(crisis.tlp).label}); a proposal adds no reader: {fix}"
    )


def _add_community(session: Session, crisis: Crisis, slug: str | None) -> str | None:
    """A stage's community joins the audience where the marking allows communities (CLEAR, GREEN, AMBER)."""
    if slug is None or crisis.tlp in (TLP.RED, TLP.AMBER_STRICT):
        return None
    existing = {(s.kind, s.target) for s in sharing.shares_of(session, crisis.id)}
    if (COMMUNITY, slug) in existing:
        return None
    sharing.write(session, object_id=crisis.id, entries=[(COMMUNITY, slug)], added_by=crisis.owner_org_id)
    return slug


def _names(session: Session, org_ids: Iterable[str]) -> dict[str, str]:
    ids = sorted(set(org_ids))
    if not ids:
        return {}
    rows = session.execute(select(Organisation.id, Organisation.short_name).where(Organisation.id.in_(ids))).all()
    found = {r.id: r.short_name for r in rows}
    return {i: found.get(i, i) for i in ids}


def _notify(
    session: Session,
    crisis: Crisis,
    *,
    event: str,
    subject: str,
    body: str,
    object_id: str,
    dedupe: str,
    orgs: Iterable[str] | None = None,
    exclude: Principal | None = None,
) -> None:
    """Tell those who may read the crisis: its organisations or, on TLP:RED, its named users only (notify_readers).
    `exclude` is the actor: its organisation (on RED, the user) is not told. The text carries titles only."""
    audience = audience_orgs(session, crisis)
    targets = audience if orgs is None else audience & set(orgs)
    targets.discard(exclude.org_id or "" if exclude else "")
    notify_readers(
        session,
        obj=crisis,
        event=event,
        org_ids=targets,
        subject=f"[{TLP(crisis.tlp).label}] {subject}",
        body=f"{body}\nOpen it in cybercrisis: /crises/{crisis.id}",
        object_id=object_id,
        payload={"crisis": crisis.id, "object": object_id},
        dedupe=dedupe,
        actor=exclude,
    )


def _community_orgs(session: Session, slugs: Iterable[str]) -> set[str]:
    wanted = sorted(set(slugs))
    if not wanted:
        return set()
    return set(
        session.scalars(select(CommunityMembership.org_id).where(CommunityMembership.community_slug.in_(wanted)))
    )


# --- checks ------------------------------------------------------------------------------------------------


def get(session: Session, actor: Principal, crisis_id: str) -> Crisis:
    return sharing.get_readable(session, actor, Crisis, crisis_id)


def _for_update(session: Session, actor: Principal, crisis_id: str) -> Crisis:
    """A readable crisis, locked until commit so that concurrent decisions about it are serialised."""
    crisis = get(session, actor, crisis_id)
    # Read again under the lock: another transaction may have changed it while we waited.
    q = select(Crisis).where(Crisis.id == crisis.id).with_for_update().execution_options(populate_existing=True)
    return session.scalars(q).one()


def _open(crisis: Crisis) -> None:
    if crisis.status != CrisisStatus.OPEN:
        raise Conflict(f"the crisis is {crisis.status}; reopen it first")


def participants_at(session: Session, crisis: Crisis, level: str, model: EscalationModel) -> set[str]:
    """Organisations that take part at `level`: the owner, and members of that level's communities."""
    slugs = [s.community for s in model.stages if s.level == level and s.community]
    return {crisis.owner_org_id} | _community_orgs(session, slugs)


def participants(session: Session, crisis: Crisis, model: EscalationModel) -> set[str]:
    """Organisations taking part in the crisis: the owner, and members of the communities of every stage up to the
    current one (the levels the crisis has reached)."""
    current = _stage(model, crisis)
    slugs = [s.community for s in model.stages if s.rank <= current.rank and s.community]
    return {crisis.owner_org_id} | _community_orgs(session, slugs)


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


def _level_communities(model: EscalationModel, level: str) -> list[str]:
    return sorted({s.community for s in model.stages if s.level == level and s.community})


def _community_deciders(session: Session, crisis: Crisis, slug: str, model: EscalationModel) -> set[str]:
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
    slugs = _level_communities(model, level)
    if not slugs:
        return {crisis.owner_org_id}
    return {o for slug in slugs for o in _community_deciders(session, crisis, slug, model)}


def _why_not_decider(session: Session, actor: Principal, crisis: Crisis, level: str, model: EscalationModel) -> str:
    """The reason, in the community's own terms, why the actor's organisation does not decide at `level`."""
    slugs = _level_communities(model, level)
    org_id = actor.org_id or ""
    name = _names(session, [org_id]).get(org_id, "your organisation") if org_id else "your organisation"
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


def _check_decider(
    session: Session, actor: Principal, crisis: Crisis, level: str, model: EscalationModel, act: str = "crisis.decide"
) -> None:
    rel = relations(session, actor, crisis, model, level)
    if actor.org_id is not None and actor.org_id in deciders_at(session, crisis, level, model):
        rel.add(authority.R.DECIDER)
    if not authority.allows(actor, act, rel):
        authority.authorize(actor, act, rel, refusal=_why_not_decider(session, actor, crisis, level, model))


def _criteria(values: Sequence[str]) -> list[str]:
    valid = [j.value for j in Justification]
    return sorted({_choice("criteria", v, valid) for v in values})


def _incidents(session: Session, actor: Principal, ids: Sequence[str]) -> list[str]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = set(session.scalars(select(Incident.id).where(Incident.id.in_(wanted), read_filter(actor, Incident))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise _bad("incidents", f"no incident you may see with id {', '.join(missing)}")
    return wanted


# --- crises ------------------------------------------------------------------------------------------------


def open_crisis(session: Session, *, actor: Principal, data: CrisisIn, settings: Settings) -> Crisis:
    authority.authorize(actor, "crisis.open", ())
    if actor.org_id is None:
        raise PermissionDenied("crises belong to an organisation: act as one of its users")
    model = model_for(settings)
    stage = model.find(data.stage) if data.stage else model.stages[0]
    # Starting higher up must not skip the agreements a step up would need (e.g. the Presidency's for IPCR).
    needed = [o for o in model.required_for(model.stages[0], stage) if o != actor.org_id]
    any_of = model.any_of_for(model.stages[0], stage)
    if any_of and actor.org_id not in any_of:
        needed += [o for o in any_of if o not in needed]
    if model.consult_for(model.stages[0], stage):
        # Consultations are recorded on a proposed step: open lower and propose it.
        needed += [o for o in (*any_of, *model.required_for(model.stages[0], stage)) if o not in needed]
    if needed:
        names = ", ".join(_names(session, needed).values())
        raise _bad(
            "stage",
            f"'{stage.label}' needs the agreement of {names}: open the crisis at a lower stage and "
            "propose the escalation",
        )
    incident_ids = _incidents(session, actor, data.incidents)
    phase = (
        _choice("phase", data.phase, [p.value for p in Phase])
        if data.phase
        else (Phase.RESPONSE.value if incident_ids else Phase.DETECTION.value)
    )
    marking = sharing.parse_tlp(data.tlp)
    share_with = data.share_with
    if share_with is None:
        allows_community = marking in (TLP.CLEAR, TLP.GREEN, TLP.AMBER)
        share_with = ShareWith(communities=[stage.community] if stage.community and allows_community else [])
    entries = sharing.resolve(
        session, tlp=marking, share_with=share_with, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    now = utcnow()
    crisis = Crisis(
        id=new_id("crisis"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        title=data.title,
        description=data.description,
        justification=data.justification,
        criteria=_criteria(data.criteria),
        stage=stage.key,
        phase=phase,
        status=CrisisStatus.OPEN.value,
        suspected_criminal=data.suspected_criminal,
        exercise=data.exercise,
        created_at=now,
        modified_at=now,
    )
    session.add(crisis)
    session.flush()
    sharing.write(session, object_id=crisis.id, entries=entries, added_by=actor.org_id)
    session.add_all(CrisisIncident(crisis_id=crisis.id, incident_id=i, added_by_id=actor.user_id) for i in incident_ids)
    audit.record(
        session,
        actor=actor,
        tag="crises:crisis:create",
        object_id=crisis.id,
        summary={"stage": stage.key, "phase": phase, "tlp": marking.value, "incidents": len(incident_ids)},
    )
    session.flush()
    _notify(
        session,
        crisis,
        event="crises:crisis:create",
        subject=f"Crisis opened: {crisis.title}",
        body=f"A crisis was opened at stage '{stage.label}' ({stage.level} level).",
        object_id=crisis.id,
        dedupe=f"crisis-open:{crisis.id}",
        exclude=actor,
    )
    return crisis


def _owner_act(actor: Principal, crisis: Crisis, act: str) -> None:
    authority.authorize(actor, act, {authority.R.OWNER} if actor.org_id == crisis.owner_org_id else set())


def update(session: Session, *, actor: Principal, crisis_id: str, patch: CrisisPatch) -> Crisis:
    crisis = _for_update(session, actor, crisis_id)
    _owner_act(actor, crisis, "crisis.edit")
    if patch.version != crisis.version:
        raise Conflict(
            f"the crisis changed since you read it (version {patch.version}, now {crisis.version}): "
            "reload and apply your change again"
        )
    changed: list[str] = []
    criteria = _criteria(patch.criteria) if patch.criteria is not None else None
    for field, value in (
        ("title", patch.title),
        ("description", patch.description),
        ("justification", patch.justification),
        ("criteria", criteria),
        ("suspected_criminal", patch.suspected_criminal),
    ):
        if value is not None and getattr(crisis, field) != value:
            setattr(crisis, field, value)
            changed.append(field)
    if changed:
        crisis.modified_at = utcnow()
        audit.record(session, actor=actor, tag="crises:crisis:edit", object_id=crisis.id, summary={"fields": changed})
    return crisis


def link_incidents(
    session: Session, *, actor: Principal, crisis_id: str, incident_ids: Sequence[str], settings: Settings
) -> list[str]:
    """The owner links any incident it reads; an organisation taking part links its own organisation's."""
    crisis = _for_update(session, actor, crisis_id)
    rel = relations(session, actor, crisis, model_for(settings))
    authority.authorize(actor, "crisis.link", rel)
    _open(crisis)
    wanted = _incidents(session, actor, incident_ids)
    if authority.R.OWNER not in rel:
        owners = dict(session.execute(select(Incident.id, Incident.owner_org_id).where(Incident.id.in_(wanted))).all())
        foreign = [i for i in wanted if owners.get(i) != actor.org_id]
        if foreign:
            raise PermissionDenied(
                f"an organisation taking part links its own incidents only; {', '.join(foreign)} "
                "belong to others: their owner or the crisis owner links them"
            )
    existing = set(session.scalars(select(CrisisIncident.incident_id).where(CrisisIncident.crisis_id == crisis.id)))
    added = [i for i in wanted if i not in existing]
    session.add_all(CrisisIncident(crisis_id=crisis.id, incident_id=i, added_by_id=actor.user_id) for i in added)
    if added:
        crisis.modified_at = utcnow()
        audit.record(session, actor=actor, tag="crises:crisis:link", object_id=crisis.id, summary={"incidents": added})
    return added


def unlink_incident(session: Session, *, actor: Principal, crisis_id: str, incident_id: str) -> None:
    crisis = _for_update(session, actor, crisis_id)
    _owner_act(actor, crisis, "crisis.unlink")
    _incidents(session, actor, [incident_id])
    link = session.get(CrisisIncident, (crisis.id, incident_id))
    if link is None:
        raise NotFound(f"{incident_id} is not linked to this crisis")
    session.delete(link)
    crisis.modified_at = utcnow()
    audit.record(
        session, actor=actor, tag="crises:crisis:unlink", object_id=crisis.id, summary={"incident": incident_id}
    )


def set_sharing(session: Session, *, actor: Principal, crisis_id: str, tlp: str, share_with: ShareWith) -> Crisis:
    crisis = _for_update(session, actor, crisis_id)
    _owner_act(actor, crisis, "crisis.share")
    sharing.set_sharing(
        session,
        principal=actor,
        obj=crisis,
        tlp=sharing.parse_tlp(tlp),
        share_with=share_with,
        tag="crises:crisis:share",
    )
    crisis.modified_at = utcnow()
    _reshare(session, crisis)
    return crisis


def close(session: Session, *, actor: Principal, crisis_id: str, rationale: str, settings: Settings) -> Crisis:
    crisis = _for_update(session, actor, crisis_id)
    _owner_act(actor, crisis, "crisis.close")
    model = model_for(settings)
    _open(crisis)
    _no_pending(session, crisis)
    crisis.status = CrisisStatus.CLOSED.value
    crisis.closed_at = utcnow()
    crisis.modified_at = crisis.closed_at
    _decision(
        session,
        actor,
        crisis,
        level=_stage(model, crisis).level,
        kind=DecisionKind.OTHER,
        title="Crisis closed",
        rationale=rationale,
        decided_by=[crisis.owner_org_id],
    )
    audit.record(session, actor=actor, tag="crises:crisis:close", object_id=crisis.id, summary={})
    return crisis


def reopen(session: Session, *, actor: Principal, crisis_id: str, rationale: str, settings: Settings) -> Crisis:
    crisis = _for_update(session, actor, crisis_id)
    _owner_act(actor, crisis, "crisis.reopen")
    model = model_for(settings)
    if crisis.status == CrisisStatus.OPEN:
        raise Conflict("the crisis is already open")
    crisis.status = CrisisStatus.OPEN.value
    crisis.closed_at = None
    crisis.modified_at = utcnow()
    _decision(
        session,
        actor,
        crisis,
        level=_stage(model, crisis).level,
        kind=DecisionKind.OTHER,
        title="Crisis reopened",
        rationale=rationale,
        decided_by=[crisis.owner_org_id],
    )
    audit.record(session, actor=actor, tag="crises:crisis:reopen", object_id=crisis.id, summary={})
    return crisis


# --- decisions -----------------------------------------------------------------------------------------------


def _stage(model: EscalationModel, crisis: Crisis) -> Stage:
    try:
        return model.stage(crisis.stage)
    except KeyError:
        raise Conflict(
            f"the crisis is at stage '{crisis.stage}', which the deployment's escalation model no longer "
            "has; an administrator must restore it or move the crisis"
        ) from None


def _decision(
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
    _copy_shares(session, crisis, [decision.id])
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
) -> Decision:
    crisis = _for_update(session, actor, crisis_id)
    model = model_for(settings)
    level = _choice("level", data.level, LEVELS)
    kind = DecisionKind(_choice("kind", data.kind, [k.value for k in DecisionKind if k not in _OWN_ENDPOINT]))
    _check_decider(session, actor, crisis, level, model)
    _open(crisis)
    options = [o.strip() for o in data.options if o.strip()]
    assert actor.org_id is not None  # _check_decider found the organisation among the participants
    decision = _decision(
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
    _notify(
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
    crisis = _for_update(session, actor, crisis_id)
    model = model_for(settings)
    new = _choice("phase", phase, [p.value for p in Phase])
    level = _stage(model, crisis).level
    _check_decider(session, actor, crisis, level, model, act="crisis.phase")
    _open(crisis)
    if new == crisis.phase:
        raise Conflict(f"the crisis is already in the {new} phase")
    before = crisis.phase
    crisis.phase = new
    crisis.modified_at = utcnow()
    assert actor.org_id is not None
    decision = _decision(
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


# --- escalation ----------------------------------------------------------------------------------------------


def _no_pending(session: Session, crisis: Crisis) -> None:
    pending = session.scalars(
        select(Escalation.id).where(Escalation.crisis_id == crisis.id, Escalation.state == EscalationState.PENDING)
    ).first()
    if pending:
        raise Conflict(f"escalation {pending} is still waiting for agreement: decide it or withdraw it first")


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
    crisis = _for_update(session, actor, crisis_id)
    model = model_for(settings)
    current = _stage(model, crisis)
    target = model.find(to)
    # Whoever coordinates now proposes: the owner and the organisations at the current level.
    _check_decider(session, actor, crisis, current.level, model, act="crisis.escalation.propose")
    _open(crisis)
    if target.key == current.key:
        raise Conflict(f"the crisis is already at '{current.label}'")
    _no_pending(session, crisis)
    required = list(model.required_for(current, target))
    any_of = list(model.any_of_for(current, target))
    consult = list(model.consult_for(current, target))
    named = [*required, *any_of, *(p for p in consult if p != AFFECTED_MEMBER_STATES)]
    known = set(_names(session, named))
    unknown = [r for r in dict.fromkeys(named) if r not in known or not session.get(Organisation, r)]
    if unknown:
        raise Conflict(f"the escalation model names organisations this node's directory lacks: {', '.join(unknown)}")
    if _widens_beyond(session, actor.org_id, crisis, target) and crisis.owner_org_id not in required:
        # The target stage's community would start reading the crisis: only its originator lets it in.
        required.append(crisis.owner_org_id)
    if share_with_approvers:  # those who must agree, and those of whom any one may activate the step
        _share_with(session, actor, crisis, [*required, *(o for o in any_of if o not in required)])
    _require_readers(session, crisis, required, why="must agree to this step")
    if any_of and not any(org_can_read(session, o, crisis) for o in any_of):
        names = ", ".join(_names(session, any_of).values())
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
    _reshare(session, crisis)
    audit.record(
        session,
        actor=actor,
        tag="crises:escalation:propose",
        object_id=esc.id,
        summary={"crisis": crisis.id, "from": current.key, "to": target.key, "required": required},
    )
    session.flush()
    if not _waiting_for(session, esc):
        _apply(session, actor, crisis, esc, model)
    else:
        _notify(
            session,
            crisis,
            event="crises:escalation:approval-requested",
            subject=f"Your agreement is needed: {crisis.title} to {target.label}",
            body=f"A move of the crisis '{crisis.title}' from '{current.label}' to '{target.label}' waits for "
            "your organisation's agreement.",
            object_id=esc.id,
            dedupe=f"escalation-ask:{esc.id}",
            orgs=_waiting_for(session, esc),
        )
    return esc


def _waiting_for(session: Session, esc: Escalation) -> list[str]:
    """Who the step still waits for: every required organisation, and the `any_of` group until one of it agreed."""
    agreed = set(
        session.scalars(
            select(EscalationApproval.org_id).where(
                EscalationApproval.escalation_id == esc.id, EscalationApproval.verdict == "agree"
            )
        )
    )
    waiting = [o for o in esc.required if o not in agreed]
    if esc.any_of and not agreed & set(esc.any_of):
        waiting += [o for o in esc.any_of if o not in waiting]
    return waiting


def _affected_countries(session: Session, crisis: Crisis, org_id: str) -> list[str]:
    """The affected Member States to consult, as the deciding organisation `org_id` knows them: the countries of
    the crisis's linked incidents that it may read (those of incidents hidden from it are neither required nor
    named, so a refusal says nothing about them)."""
    q = (
        select(IncidentCountry.country)
        .join(CrisisIncident, CrisisIncident.incident_id == IncidentCountry.incident_id)
        .join(Incident, Incident.id == IncidentCountry.incident_id)
        .where(CrisisIncident.crisis_id == crisis.id, read_filter(org_principal(session, org_id), Incident))
        .distinct()
    )
    return sorted(session.scalars(q))


def missing_consultations(session: Session, crisis: Crisis, esc: Escalation, org_id: str) -> list[str]:
    """The consultations `org_id` must have recorded before its agreement to `esc` counts (none for its own
    organisation): each party of `esc.consult`; an affected Member State counts as consulted when an organisation
    of that country was."""
    parties = [p for p in esc.consult if p != org_id]
    if not parties:
        return []
    consulted = set(
        session.scalars(select(EscalationConsultation.org_id).where(EscalationConsultation.escalation_id == esc.id))
    )
    missing: list[str] = []
    for party in parties:
        if party == AFFECTED_MEMBER_STATES:
            countries = _affected_countries(session, crisis, org_id)
            if not countries:
                missing.append(
                    "the affected Member States (none is known to your organisation: the countries of "
                    "the crisis's linked incidents that it may read name them; the crisis owner links "
                    "them and their originators share them)"
                )
                continue
            done = set(session.scalars(select(Organisation.country).where(Organisation.id.in_(sorted(consulted)))))
            missing += [f"the affected Member State {cc}" for cc in countries if cc not in done]
        elif party not in consulted:
            missing.append(_names(session, [party])[party])
    return missing


def _activators(esc: Escalation, model: EscalationModel) -> set[str]:
    """Organisations that agree to the step as the model's approvers (not the originator let in for widening)."""
    try:
        path = model.required_for(model.stage(esc.from_stage), model.stage(esc.to_stage))
    except KeyError:
        path = tuple(esc.required)
    return set(path) | set(esc.any_of)


def record_consultation(
    session: Session, *, actor: Principal, crisis_id: str, escalation_id: str, data: ConsultationIn
) -> EscalationConsultation:
    """Record that an organisation was consulted about a pending step, when, and its view (IPCR arrangements)."""
    crisis, esc = _pending(session, actor, crisis_id, escalation_id)
    rel: set[authority.Relation] = set()
    if actor.org_id is not None and actor.org_id in {*esc.required, *esc.any_of}:
        rel.add(authority.R.REQUIRED)
    if actor.org_id is not None and actor.org_id == data.consulted:
        rel.add(authority.R.NAMED)
    authority.authorize(actor, "crisis.escalation.consult", rel)
    assert actor.org_id is not None
    if session.get(Organisation, data.consulted) is None:
        raise _bad("consulted", f"unknown organisation {data.consulted}")
    if data.consulted_at is not None and data.consulted_at.tzinfo is None:
        raise _bad("consulted_at", "give a time zone, e.g. 2026-11-28T18:00:00Z")
    now = utcnow()
    when = data.consulted_at or now
    if when > now:
        raise _bad("consulted_at", "a consultation is recorded once it was held, not in advance")
    existing = session.get(EscalationConsultation, (esc.id, data.consulted))
    if existing is not None:
        name = _names(session, [data.consulted])[data.consulted]
        raise Conflict(f"the consultation of {name} is already recorded ({existing.consulted_at.isoformat()})")
    row = EscalationConsultation(
        escalation_id=esc.id,
        org_id=data.consulted,
        consulted_at=when,
        view=data.view,
        recorded_by_org_id=actor.org_id,
        recorded_by_id=actor.user_id,
        at=now,
    )
    session.add(row)
    esc.modified_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="crises:escalation:consult",
        object_id=esc.id,
        summary={"crisis": crisis.id, "consulted": data.consulted, "consulted_at": when.isoformat()},
    )
    return row


def consultations_of(session: Session, escalation_ids: Sequence[str]) -> list[EscalationConsultation]:
    if not escalation_ids:
        return []
    return list(
        session.scalars(
            select(EscalationConsultation)
            .where(EscalationConsultation.escalation_id.in_(sorted(set(escalation_ids))))
            .order_by(EscalationConsultation.consulted_at)
        )
    )


def set_commission_role(
    session: Session, *, actor: Principal, crisis_id: str, role: str, rationale: str, settings: Settings
) -> Crisis:
    """Record whether the Commission takes part in the model's community (EU-CyCLONe) as a member or an observer in
    this crisis (NIS2 Art. 16(2)); a deciding member of that community or the crisis owner records it."""
    crisis = _for_update(session, actor, crisis_id)
    model = model_for(settings)
    switch = model.commission
    if switch is None:
        raise Conflict("this deployment's escalation model names no Commission role to record (`commission`)")
    rel = {authority.R.OWNER} if actor.org_id == crisis.owner_org_id else set()
    if actor.org_id is not None and actor.org_id in _community_deciders(session, crisis, switch.community, model):
        rel.add(authority.R.DECIDER)
    authority.authorize(
        actor,
        "crisis.commission-role",
        rel,
        refusal=(
            f"only the crisis owner and the deciding members of {switch.community} record the Commission's role there "
            f"({switch.basis})"
        ),
    )
    new = _choice("role", role, [r.value for r in CommissionRole])
    _open(crisis)
    if new == crisis.commission_role:
        raise Conflict(f"the crisis already records the Commission as {new} of {switch.community}")
    before = crisis.commission_role
    crisis.commission_role = new
    crisis.modified_at = utcnow()
    assert actor.org_id is not None
    level = next(s.level for s in model.stages if s.community == switch.community)
    article = "a member" if new == CommissionRole.MEMBER else "an observer"
    _decision(
        session,
        actor,
        crisis,
        level=level,
        kind=DecisionKind.OTHER,
        title=f"The Commission takes part in {switch.community} as {article} ({switch.basis})",
        rationale=rationale,
        decided_by=[actor.org_id],
    )
    audit.record(
        session,
        actor=actor,
        tag="crises:crisis:commission-role",
        object_id=crisis.id,
        summary={"from": before, "to": new, "community": switch.community, "basis": switch.basis},
    )
    return crisis


def _share_with(session: Session, actor: Principal, crisis: Crisis, org_ids: Sequence[str]) -> None:
    """The originator adds organisations to the crisis's share list (those who must agree to a move)."""
    _owner_act(actor, crisis, "crisis.share")
    shares = sharing.shares_of(session, crisis.id)
    missing = [o for o in dict.fromkeys(org_ids) if not org_can_read(session, o, crisis, shares)]
    if not missing or crisis.tlp == TLP.RED:
        return  # RED: organisations never read it; _require_readers says so
    sharing.write(session, object_id=crisis.id, entries=[(ORG, o) for o in missing], added_by=actor.org_id)
    _reshare(session, crisis)
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
        authority.refused_widening(
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
    originator_agreed = crisis.owner_org_id in {*agreed, _proposer_org(session, esc)}
    widening_ok = originator_agreed or not _widens_beyond(session, _proposer_org(session, esc), crisis, target)
    added = _add_community(session, crisis, target.community) if widening_ok else None
    kind = DecisionKind.ESCALATION if esc.direction == "escalate" else DecisionKind.DE_ESCALATION
    verb = "Escalated" if kind == DecisionKind.ESCALATION else "De-escalated"
    decision = _decision(
        session,
        actor,
        crisis,
        level=target.level,
        kind=kind,
        title=f"{verb} to {target.label}",
        rationale=esc.rationale,
        decided_by=[o for o in (_proposer_org(session, esc),) if o] + agreed,
        escalation_id=esc.id,
    )
    esc.state = EscalationState.DONE.value
    esc.decided_at = decision.decided_at
    esc.decision_id = decision.id
    esc.modified_at = decision.decided_at
    _reshare(session, crisis)
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
    _notify(
        session,
        crisis,
        event=f"crises:crisis:{esc.direction}",
        subject=f"{verb}: {crisis.title}",
        body=f"The crisis '{crisis.title}' moved to '{target.label}' ({target.level} level).",
        object_id=esc.id,
        dedupe=f"escalation-done:{esc.id}",
        orgs=_community_orgs(session, target.notify) | set(esc.required) | set(esc.any_of),
    )


def _pending(session: Session, actor: Principal, crisis_id: str, escalation_id: str) -> tuple[Crisis, Escalation]:
    crisis = _for_update(session, actor, crisis_id)
    esc = sharing.get_readable(session, actor, Escalation, escalation_id)
    if esc.crisis_id != crisis.id:
        raise NotFound(f"no escalation {escalation_id} in this crisis")
    session.execute(select(Escalation.id).where(Escalation.id == esc.id).with_for_update())
    session.refresh(esc)
    if esc.state != EscalationState.PENDING:
        raise Conflict(f"this escalation is already {esc.state}")
    return crisis, esc


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
    """One required organisation agrees (or refuses). The crisis row lock makes two answers at once both count."""
    crisis, esc = _pending(session, actor, crisis_id, escalation_id)
    names = ", ".join(_names(session, [*esc.required, *esc.any_of]).values()) or "nobody"
    may_agree = actor.org_id in {*esc.required, *esc.any_of}
    authority.authorize(
        actor,
        "crisis.escalation.answer",
        {authority.R.REQUIRED} if may_agree else set(),
        refusal=f"your organisation is not among those that must agree to this step ({names})",
    )
    assert actor.org_id is not None
    if not agree and not comment:
        raise _bad("comment", "say why your organisation does not agree")
    existing = session.get(EscalationApproval, (esc.id, actor.org_id))
    if existing is not None:
        raise Conflict(f"your organisation already answered ({existing.verdict}) on {existing.at.isoformat()}")
    model = model_for(settings)
    if agree and actor.org_id in _activators(esc, model):
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
        decision = _decision(
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
        _notify(
            session,
            crisis,
            event="crises:escalation:rejected",
            subject=f"Not agreed: {crisis.title}",
            body=f"The move to '{target.label}' was not agreed.",
            object_id=esc.id,
            dedupe=f"escalation-rejected:{esc.id}",
            orgs=[crisis.owner_org_id, *esc.required, *esc.any_of],
        )
    elif not _waiting_for(session, esc):
        _apply(session, actor, crisis, esc, model)
    return esc


def withdraw_escalation(session: Session, *, actor: Principal, crisis_id: str, escalation_id: str) -> Escalation:
    crisis, esc = _pending(session, actor, crisis_id, escalation_id)
    rel = {authority.R.OWNER} if actor.org_id == crisis.owner_org_id else set()
    if actor.org_id is not None and actor.org_id == _proposer_org(session, esc):
        rel.add(authority.R.PROPOSER)
    authority.authorize(actor, "crisis.escalation.withdraw", rel)
    esc.state = EscalationState.WITHDRAWN.value
    esc.decided_at = utcnow()
    audit.record(
        session, actor=actor, tag="crises:escalation:withdraw", object_id=esc.id, summary={"crisis": crisis.id}
    )
    return esc


def _proposer_org(session: Session, esc: Escalation) -> str | None:
    from cybercrisis.accounts.models import User

    if esc.created_by_id is None:
        return None
    return session.scalar(select(User.org_id).where(User.id == esc.created_by_id))


# --- actions -------------------------------------------------------------------------------------------------


def _check_due(due_at: datetime | None) -> None:
    if due_at is not None and due_at.tzinfo is None:
        raise _bad("due_at", "give a time zone, e.g. 2026-11-28T18:00:00Z")


def create_action(session: Session, *, actor: Principal, crisis_id: str, data: ActionIn, settings: Settings) -> Action:
    crisis = _for_update(session, actor, crisis_id)
    authority.authorize(actor, "crisis.action.create", relations(session, actor, crisis, model_for(settings)))
    _open(crisis)
    _check_due(data.due_at)
    if session.get(Organisation, data.assignee) is None:
        raise _bad("assignee", f"unknown organisation {data.assignee}")
    if not org_can_read(session, data.assignee, crisis):
        name = _names(session, [data.assignee])[data.assignee]
        raise _bad("assignee", f"{name} cannot see this crisis; the originator shares it with them first")
    if data.decision is not None:
        decision = sharing.get_readable(session, actor, Decision, data.decision)
        if decision.crisis_id != crisis.id:
            raise _bad("decision", f"decision {data.decision} belongs to another crisis")
    now = utcnow()
    action = Action(
        id=new_id("task"),
        owner_org_id=crisis.owner_org_id,
        created_by_id=actor.user_id,
        tlp=crisis.tlp,
        exercise=crisis.exercise,
        crisis_id=crisis.id,
        title=data.title,
        detail=data.detail,
        assignee_org_id=data.assignee,
        due_at=data.due_at,
        status=ActionStatus.OPEN.value,
        decision_id=data.decision,
        created_at=now,
        modified_at=now,
    )
    session.add(action)
    session.flush()
    _copy_shares(session, crisis, [action.id])
    audit.record(
        session,
        actor=actor,
        tag="crises:action:create",
        object_id=action.id,
        summary={
            "crisis": crisis.id,
            "assignee": data.assignee,
            "due_at": data.due_at.isoformat() if data.due_at else None,
        },
    )
    _notify(
        session,
        crisis,
        event="crises:action:assigned",
        subject=f"Action for your organisation: {action.title}",
        body=f"In crisis '{crisis.title}'" + (f", due {data.due_at:%Y-%m-%d %H:%M} UTC." if data.due_at else "."),
        object_id=action.id,
        dedupe=f"action-assigned:{action.id}",
        orgs=[data.assignee],
        exclude=actor,
    )
    return action


def update_action(session: Session, *, actor: Principal, action_id: str, patch: ActionPatch) -> Action:
    action = sharing.get_readable(session, actor, Action, action_id)
    crisis = _for_update(session, actor, action.crisis_id)
    rel = {authority.R.OWNER} if actor.org_id == crisis.owner_org_id else set()
    if actor.org_id is not None and actor.org_id == action.assignee_org_id:
        rel.add(authority.R.ASSIGNEE)
    authority.authorize(actor, "crisis.action.update", rel)
    if patch.version != action.version:
        raise Conflict(
            f"the action changed since you read it (version {patch.version}, now {action.version}): "
            "reload and apply your change again"
        )
    _check_due(patch.due_at)
    before = {"status": action.status, "assignee": action.assignee_org_id}
    if patch.assignee is not None and patch.assignee != action.assignee_org_id:
        authority.authorize(actor, "crisis.action.reassign", rel & {authority.R.OWNER})
        if session.get(Organisation, patch.assignee) is None or not org_can_read(session, patch.assignee, crisis):
            raise _bad("assignee", f"{patch.assignee} is unknown or cannot see this crisis")
        action.assignee_org_id = patch.assignee
        action.reminded_at = action.overdue_notified_at = None
    if patch.status is not None:
        status = _choice("status", patch.status, [s.value for s in ActionStatus])
        if status != action.status:
            action.status = status
            action.done_at = utcnow() if status == ActionStatus.DONE else None
    for field in ("title", "detail"):
        value = getattr(patch, field)
        if value is not None:
            setattr(action, field, value)
    if patch.due_at is not None and patch.due_at != action.due_at:
        action.due_at = patch.due_at
        action.reminded_at = action.overdue_notified_at = None
    if session.is_modified(action):
        action.modified_at = utcnow()
        audit.record(
            session,
            actor=actor,
            tag="crises:action:update",
            object_id=action.id,
            summary={
                "crisis": crisis.id,
                "status": [before["status"], action.status],
                "assignee": action.assignee_org_id,
            },
        )
    return action
