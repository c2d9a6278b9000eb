"""A crisis as one STIX object, for the nodes that hold it as a replica (ADR 0013 step 3).

STIX has no crisis. A crisis of ours travels as one `x-cybercrisis-crisis` object, a new SDO of our extension
(docs/exchange.md), that carries the whole state a node needs to show the crisis room and answer a move: its fields,
its escalations (with the agreements and consultations given), its decisions and its actions. One object per
version, so a replica is always one consistent state of the crisis, never a crisis with half of a decision.

- Its id is derived from the crisis's (`crisis_id` carries the crisis's own), and its `modified` is the newest time
  of anything in it, so that each change of the crisis or of one of its objects is a new version.
- Its access is the crisis's: the crisis's TLP, owner and share list, which its escalations, decisions and actions
  share (crises/audience.py).
- It names a linked incident only when every reader of the crisis may also read that incident, by the two share
  lists (`nameable`): the object goes to all of them alike, and an id must not tell a reader of an incident it may
  not see. A link that becomes nameable later (the incident is shared wider) shows in the crisis's next version.
  Since that depends on the crisis's list, the store keeps only a crisis's latest version, and a new list makes a
  new version (publish.py): an older version is never served to a wider list than it was made for.
- Users do not travel: who proposed, agreed or decided is the organisation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.policy import can_read, readers_within
from cybercrisis.access.tlp import TLP
from cybercrisis.crises.audience import org_principal
from cybercrisis.crises.models import (
    Action,
    Crisis,
    CrisisIncident,
    Decision,
    Escalation,
    EscalationApproval,
    EscalationConsultation,
)
from cybercrisis.exchange.stix_common import CRISIS_EXTENSION_ID, CRISIS_TYPE, derived_id, marking_id, ts
from cybercrisis.incidents.models import Incident


def sdo_id(crisis_id: str) -> str:
    """The STIX id of a crisis's object: derived from the crisis's own id (`crisis--`, not a STIX type)."""
    return derived_id(CRISIS_TYPE, crisis_id)


def _t(value: datetime | None) -> str | None:
    return ts(value) if value is not None else None


def nameable(session: Session, holder: Any, ids: list[str], model: Any = Incident) -> list[str]:
    """The objects of `model` (incidents, a crisis) among `ids` that every reader of `holder` (a crisis, a request
    for assistance) may read too, by the share lists (`access.policy.readers_within`); the holder's owner must read
    the object as it stands (it linked it)."""
    if not ids:
        return []
    ours = [(s.kind, s.target) for s in sharing.shares_of(session, holder.id)]
    found = list(session.scalars(select(model).where(model.id.in_(ids))))
    shares = sharing.shares_of_many(session, [i.id for i in found])
    owner = org_principal(session, holder.owner_org_id)
    out = []
    for i in found:
        rows = shares.get(i.id, [])
        within = readers_within(
            holder.tlp, ours, tlp=i.tlp, entries=[(s.kind, s.target) for s in rows], owner_org_id=i.owner_org_id
        )
        if within and can_read(owner, tlp=i.tlp, owner_org_id=i.owner_org_id, shares=rows):
            out.append(i.id)
    return sorted(out)


def crisis_object(session: Session, crisis: Crisis) -> dict[str, Any]:
    """The crisis and everything of it, as one STIX object (see the module's text)."""
    escalations = list(
        session.scalars(select(Escalation).where(Escalation.crisis_id == crisis.id).order_by(Escalation.created_at))
    )
    esc_ids = [e.id for e in escalations]
    approvals: dict[str, list[EscalationApproval]] = {i: [] for i in esc_ids}
    consultations: dict[str, list[EscalationConsultation]] = {i: [] for i in esc_ids}
    if esc_ids:
        for a in session.scalars(
            select(EscalationApproval)
            .where(EscalationApproval.escalation_id.in_(esc_ids))
            .order_by(EscalationApproval.at)
        ):
            approvals[a.escalation_id].append(a)
        for c in session.scalars(
            select(EscalationConsultation)
            .where(EscalationConsultation.escalation_id.in_(esc_ids))
            .order_by(EscalationConsultation.at)
        ):
            consultations[c.escalation_id].append(c)
    decisions = list(
        session.scalars(select(Decision).where(Decision.crisis_id == crisis.id).order_by(Decision.decided_at))
    )
    actions = list(session.scalars(select(Action).where(Action.crisis_id == crisis.id).order_by(Action.created_at)))
    links = list(session.scalars(select(CrisisIncident).where(CrisisIncident.crisis_id == crisis.id)))

    times: list[datetime] = [crisis.created_at, crisis.modified_at]
    times += [t for e in escalations for t in (e.modified_at, e.decided_at) if t is not None]
    times += [a.at for v in approvals.values() for a in v] + [c.at for v in consultations.values() for c in v]
    times += [d.modified_at for d in decisions] + [a.modified_at for a in actions] + [x.added_at for x in links]

    out: dict[str, Any] = {
        "type": CRISIS_TYPE,
        "spec_version": "2.1",
        "id": sdo_id(crisis.id),
        "created": ts(crisis.created_at),
        "modified": ts(max(times)),
        "created_by_ref": crisis.owner_org_id,
        "object_marking_refs": [marking_id(crisis.tlp)],
        "extensions": {CRISIS_EXTENSION_ID: {"extension_type": "new-sdo"}},
        "name": crisis.title,
        "crisis_id": crisis.id,
        "description": crisis.description,
        "justification": crisis.justification,
        "criteria": list(crisis.criteria),
        "stage": crisis.stage,
        "phase": crisis.phase,
        "status": crisis.status,
        "suspected_criminal": crisis.suspected_criminal,
        "commission_role": crisis.commission_role,
        "incident_refs": nameable(session, crisis, sorted(x.incident_id for x in links)),
        "escalations": [_escalation(e, approvals[e.id], consultations[e.id]) for e in escalations],
        "decisions": [_decision(d) for d in decisions],
        "actions": [_action(a) for a in actions],
    }
    if crisis.closed_at is not None:
        out["closed_at"] = ts(crisis.closed_at)
    if crisis.exercise:
        out["labels"] = ["exercise"]
    if TLP(crisis.tlp) == TLP.RED:
        out["incident_refs"] = []  # named users only read it: no organisation-wide reader to check links for
    cleaned: dict[str, Any] = no_nulls(out)
    return cleaned


def no_nulls(value: Any) -> Any:
    """STIX leaves a property out rather than giving it null (and an empty list out too)."""
    if isinstance(value, dict):
        return {k: no_nulls(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [no_nulls(v) for v in value]
    return value


def _common(row: Escalation | Decision | Action) -> dict[str, Any]:
    return {"id": row.id, "created": ts(row.created_at), "modified": ts(row.modified_at)}


def _escalation(
    e: Escalation, approvals: Iterable[EscalationApproval], consultations: Iterable[EscalationConsultation]
) -> dict[str, Any]:
    return _common(e) | {
        "from_stage": e.from_stage,
        "to_stage": e.to_stage,
        "direction": e.direction,
        "rationale": e.rationale,
        "state": e.state,
        "required": list(e.required),
        "any_of": list(e.any_of),
        "consult": list(e.consult),
        "proposed_by": e.proposed_by_org_id,
        "decided_at": _t(e.decided_at),
        "decision_id": e.decision_id,
        "approvals": [
            {"organisation": a.org_id, "verdict": a.verdict, "comment": a.comment, "at": ts(a.at)} for a in approvals
        ],
        "consultations": [
            {
                "organisation": c.org_id,
                "consulted_at": ts(c.consulted_at),
                "view": c.view,
                "recorded_by": c.recorded_by_org_id,
                "at": ts(c.at),
            }
            for c in consultations
        ],
    }


def _decision(d: Decision) -> dict[str, Any]:
    return _common(d) | {
        "level": d.level,
        "kind": d.kind,
        "title": d.title,
        "detail": d.detail,
        "options": list(d.options),
        "rationale": d.rationale,
        "decided_at": ts(d.decided_at),
        "decided_by": list(d.decided_by),
        "escalation_id": d.escalation_id,
    }


def _action(a: Action) -> dict[str, Any]:
    return _common(a) | {
        "title": a.title,
        "detail": a.detail,
        "assignee": a.assignee_org_id,
        "due_at": _t(a.due_at),
        "status": a.status,
        "done_at": _t(a.done_at),
        "decision_id": a.decision_id,
    }
