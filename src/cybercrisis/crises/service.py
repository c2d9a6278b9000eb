"""Crises: opening, editing, sharing, linking incidents, closing and reopening (ADR 0007), and the crisis list.

The decision log is in `decisions`, moves between stages in `escalations`, IPCR consultations and the Commission's
role in `governance`, actions in `actions`; who may do what in `rules`, who reads and is told in `audience`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises.audience import notify, org_names, reshare
from cybercrisis.crises.decisions import add_decision
from cybercrisis.crises.escalation import model_for
from cybercrisis.crises.governance import consultations_of
from cybercrisis.crises.models import (
    Crisis,
    CrisisIncident,
    CrisisStatus,
    DecisionKind,
    Justification,
    Phase,
)
from cybercrisis.crises.rules import (
    bad,
    choice,
    deciders_at,
    for_update,
    get,
    no_pending,
    owner_act,
    relations,
    require_open,
    stage_of,
)
from cybercrisis.crises.schemas import CrisisIn, CrisisPatch
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory import recipients
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.incidents.models import Incident
from cybercrisis.pagination import cursor_time, decode_cursor, encode_cursor

# `crises/room.py` reads these as `service.<name>` (and the crisis itself through `get`).
_stage = stage_of
__all__ = [
    "CrisisFilters",
    "CrisisList",
    "_stage",
    "close",
    "consultations_of",
    "deciders_at",
    "get",
    "link_incidents",
    "list_crises",
    "open_crisis",
    "reopen",
    "set_sharing",
    "unlink_incident",
    "update",
]


def _criteria(values: Sequence[str]) -> list[str]:
    valid = [j.value for j in Justification]
    return sorted({choice("criteria", v, valid) for v in values})


def _incidents(session: Session, actor: Principal, ids: Sequence[str]) -> list[str]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = set(session.scalars(select(Incident.id).where(Incident.id.in_(wanted), read_filter(actor, Incident))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise bad("incidents", f"no incident you may see with id {', '.join(missing)}")
    return wanted


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
        names = ", ".join(org_names(session, needed).values())
        raise bad(
            "stage",
            f"'{stage.label}' needs the agreement of {names}: open the crisis at a lower stage and "
            "propose the escalation",
        )
    incident_ids = _incidents(session, actor, data.incidents)
    phase = (
        choice("phase", data.phase, [p.value for p in Phase])
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
    notify(
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


def update(session: Session, *, actor: Principal, crisis_id: str, patch: CrisisPatch) -> Crisis:
    crisis = for_update(session, actor, crisis_id)
    owner_act(actor, crisis, "crisis.edit")
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
    crisis = for_update(session, actor, crisis_id)
    rel = relations(session, actor, crisis, model_for(settings))
    authority.authorize(actor, "crisis.link", rel)
    require_open(crisis)
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
    crisis = for_update(session, actor, crisis_id)
    owner_act(actor, crisis, "crisis.unlink")
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
    crisis = for_update(session, actor, crisis_id)
    owner_act(actor, crisis, "crisis.share")
    recipients.set_sharing(
        session,
        principal=actor,
        obj=crisis,
        tlp=sharing.parse_tlp(tlp),
        share_with=share_with,
        tag="crises:crisis:share",
    )
    crisis.modified_at = utcnow()
    reshare(session, crisis)
    return crisis


def close(session: Session, *, actor: Principal, crisis_id: str, rationale: str, settings: Settings) -> Crisis:
    crisis = for_update(session, actor, crisis_id)
    owner_act(actor, crisis, "crisis.close")
    model = model_for(settings)
    require_open(crisis)
    no_pending(session, crisis)
    crisis.status = CrisisStatus.CLOSED.value
    crisis.closed_at = utcnow()
    crisis.modified_at = crisis.closed_at
    add_decision(
        session,
        actor,
        crisis,
        level=stage_of(model, crisis).level,
        kind=DecisionKind.OTHER,
        title="Crisis closed",
        rationale=rationale,
        decided_by=[crisis.owner_org_id],
    )
    audit.record(session, actor=actor, tag="crises:crisis:close", object_id=crisis.id, summary={})
    return crisis


def reopen(session: Session, *, actor: Principal, crisis_id: str, rationale: str, settings: Settings) -> Crisis:
    crisis = for_update(session, actor, crisis_id)
    owner_act(actor, crisis, "crisis.reopen")
    model = model_for(settings)
    if crisis.status == CrisisStatus.OPEN:
        raise Conflict("the crisis is already open")
    crisis.status = CrisisStatus.OPEN.value
    crisis.closed_at = None
    crisis.modified_at = utcnow()
    add_decision(
        session,
        actor,
        crisis,
        level=stage_of(model, crisis).level,
        kind=DecisionKind.OTHER,
        title="Crisis reopened",
        rationale=rationale,
        decided_by=[crisis.owner_org_id],
    )
    audit.record(session, actor=actor, tag="crises:crisis:reopen", object_id=crisis.id, summary={})
    return crisis


# --- the list ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrisisFilters:
    status: str | None = None  # open or closed


@dataclass(frozen=True, slots=True)
class CrisisList:
    items: list[Crisis]
    incidents: dict[str, int]  # per crisis, the linked incidents this reader may see
    next: str | None  # the cursor of the next page


def list_crises(
    session: Session, *, principal: Principal, filters: CrisisFilters, cursor: str | None, limit: int
) -> CrisisList:
    """The crises the reader may see, most recently changed first, with the count of their incidents it may see."""
    q = select(Crisis).where(read_filter(principal, Crisis))
    if filters.status:
        if filters.status not in (CrisisStatus.OPEN, CrisisStatus.CLOSED):
            raise InvalidInput("status is open or closed", errors=[{"field": "status", "message": "open or closed"}])
        q = q.where(Crisis.status == filters.status)
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(Crisis.modified_at, Crisis.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(q.order_by(Crisis.modified_at.desc(), Crisis.id.desc()).limit(limit + 1)))
    page = rows[:limit]
    nxt = encode_cursor([page[-1].modified_at.isoformat(), page[-1].id]) if len(rows) > limit else None
    counts: dict[str, int] = {}
    if page:
        counts = {
            row[0]: row[1]
            for row in session.execute(
                select(CrisisIncident.crisis_id, func.count())
                .join(Incident, Incident.id == CrisisIncident.incident_id)
                .where(CrisisIncident.crisis_id.in_([c.id for c in page]), read_filter(principal, Incident))
                .group_by(CrisisIncident.crisis_id)
            )
        }
    return CrisisList(items=page, incidents=counts, next=nxt)
