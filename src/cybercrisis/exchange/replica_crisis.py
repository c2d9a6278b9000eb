"""A crisis held at another node, rebuilt from its origin's signed `x-cybercrisis-crisis` object (ADR 0013 step 3).

The object carries the whole crisis (exchange/stix_crisis.py), so each version replaces the replica and everything
of it at once: its fields, its escalations with their agreements and consultations, its decisions and its actions.
A crisis, escalation, decision or action that is this node's own, or another node's, is never overwritten.

- Escalations, decisions and actions are replicas too (same origin, owner, TLP, exercise flag and share list as the
  crisis), so the one read policy and the replica guard treat them like the crisis.
- Incident links are kept for the incidents held here (local or replicas); the others are not named to this node.
- Organisations this node's directory lacks are left out (an agreement, a consultation, an action's assignee): the
  directory is the same on every node, so this is a node whose directory lags, and the next version fills them in.
- Users do not travel: who proposed, agreed or decided is the organisation (`proposed_by_org_id`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.access.tlp import TLP
from cybercrisis.crises import audience, escalations
from cybercrisis.crises.models import (
    Action,
    Crisis,
    CrisisIncident,
    Decision,
    Escalation,
    EscalationApproval,
    EscalationConsultation,
    EscalationState,
)
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.import_plan import Received, fit
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.stix_common import CRISIS_TYPE, chunks
from cybercrisis.exchange.stix_crisis import sdo_id
from cybercrisis.incidents.models import Incident

log = logging.getLogger(__name__)

MAX_CHILDREN = 2000  # per kind in one crisis: a bound against a malformed object, far above any real crisis


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time of the origin's, or None when it is not one (a bad value does not stop a page)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_time = parse_time


def text(value: Any, limit: int, default: str = "") -> str:
    return value[:limit] if isinstance(value, str) else default


def list_of(value: Any) -> list[Any]:
    """A list of the origin's, or none: a malformed value never stops the page it came in."""
    return value if isinstance(value, list) else []


def _texts(value: Any, limit: int, most: int) -> list[str]:
    return [v[:limit] for v in list_of(value) if isinstance(v, str)][:most]


def _ids(value: Any, known: set[str]) -> list[str]:
    return [v for v in list_of(value) if isinstance(v, str) and v in known]


def _rows(value: Any, prefix: str) -> list[dict[str, Any]]:
    """The well-formed entries of a list of children: a mapping with an id of this kind."""
    return [
        v
        for v in list_of(value)[:MAX_CHILDREN]
        if isinstance(v, dict) and isinstance(v.get("id"), str) and v["id"].startswith(prefix) and len(v["id"]) <= 120
    ]


def apply(session: Session, obj: Mapping[str, Any], rec: Received) -> bool:
    """Bring the replica of the crisis this object carries up to date; False when it is not applied."""
    node = rec.block["node"]
    cid = obj.get("crisis_id")
    if not isinstance(cid, str) or not cid.startswith("crisis--") or len(cid) > 120 or obj.get("id") != sdo_id(cid):
        log.warning("crisis object %s from node %s does not carry its own crisis: not replicated", obj.get("id"), node)
        return False
    modified = _time(obj.get("modified")) or utcnow()
    existing, done = held(session, Crisis, cid, obj, rec, modified, parts=lambda: _child_ids(session, cid))
    if done is not None:
        return bool(done)
    known = set(session.scalars(select(Organisation.id)))
    crisis = existing or Crisis(id=cid)
    crisis.title = text(obj.get("name"), 300, "(no title)")
    crisis.description = text(obj.get("description"), 100_000)
    crisis.justification = text(obj.get("justification"), 100_000)
    crisis.criteria = _texts(obj.get("criteria"), 64, 50)
    crisis.stage = text(obj.get("stage"), 64, "unknown")
    crisis.phase = text(obj.get("phase"), 16, "response")
    crisis.status = text(obj.get("status"), 16, "open")
    crisis.suspected_criminal = obj.get("suspected_criminal") is True
    crisis.closed_at = _time(obj.get("closed_at"))
    crisis.commission_role = text(obj.get("commission_role"), 16, "observer")
    _common(crisis, obj, rec, modified, exercise="exercise" in list_of(obj.get("labels")))
    if existing is None:
        session.add(crisis)
    session.flush()

    wanted = [i for i in list_of(obj.get("incident_refs")) if isinstance(i, str) and i.startswith("incident--")]
    linked = (
        set(session.scalars(select(Incident.id).where(Incident.id.in_(wanted[:MAX_CHILDREN])))) if wanted else set()
    )
    session.execute(delete(CrisisIncident).where(CrisisIncident.crisis_id == cid))
    session.add_all(CrisisIncident(crisis_id=cid, incident_id=i, added_by_id=None) for i in sorted(linked))

    children: list[str] = []
    children += _escalations(session, crisis, obj, rec, known)
    children += _decisions(session, crisis, obj, rec, known)
    children += _actions(session, crisis, obj, rec, known)
    session.flush()
    set_shares(session, [cid, *children], signed_entries(rec))
    prune(session, obj, node, modified)
    _ask_for_agreements(session, crisis)
    return True


def _ask_for_agreements(session: Session, crisis: Crisis) -> None:
    """The organisations a pending move waits for hear of it through this node's routes, as the origin tells its own:
    once per move (the origin's dedupe key), whichever version brought it."""
    for esc in session.scalars(
        select(Escalation).where(Escalation.crisis_id == crisis.id, Escalation.state == EscalationState.PENDING.value)
    ):
        waiting = escalations.waiting_for(session, esc)
        if waiting:
            audience.notify(
                session,
                crisis,
                event="crises:escalation:approval-requested",
                subject=f"Your agreement is needed: {crisis.title} to {esc.to_stage}",
                body=f"A move of the crisis '{crisis.title}' from '{esc.from_stage}' to '{esc.to_stage}' waits for "
                "your organisation's agreement. Give it, or refuse it, on this node: it is sent to the node that holds "
                "the crisis.",
                object_id=esc.id,
                dedupe=f"escalation-ask:{esc.id}",
                orgs=waiting,
            )


def prune(session: Session, obj: Mapping[str, Any], node: str, newest: datetime) -> None:
    """Keep only the newest version of a crisis's (or a request's) object in the store, as its origin does: each
    names the links its own share list allowed, and the store's share rows are the latest list, which an older
    version must not get."""
    session.execute(
        delete(StixObject).where(
            StixObject.id == obj["id"], StixObject.origin_node == node, StixObject.modified < newest
        )
    )


def relink(session: Session, incident_ids: list[str]) -> None:
    """Link incidents that arrived after a crisis naming them (another path, or shared later): from the latest
    crisis objects held here."""
    if not incident_ids:
        return
    wanted = set(incident_ids)
    for data, node in session.execute(
        select(StixObject.data, StixObject.origin_node).where(
            StixObject.type == CRISIS_TYPE, StixObject.latest.is_(True), StixObject.origin_node.is_not(None)
        )
    ):
        named = wanted & {i for i in list_of(data.get("incident_refs")) if isinstance(i, str)}
        cid = data.get("crisis_id")
        crisis = session.get(Crisis, cid) if named and isinstance(cid, str) else None
        if crisis is None or crisis.origin_node != node:
            continue
        have = set(session.scalars(select(CrisisIncident.incident_id).where(CrisisIncident.crisis_id == cid)))
        session.add_all(CrisisIncident(crisis_id=cid, incident_id=i, added_by_id=None) for i in sorted(named - have))
    session.flush()


def _common(
    row: Crisis | Escalation | Decision | Action,
    obj: Mapping[str, Any],
    rec: Received,
    modified: datetime,
    *,
    exercise: bool,
) -> None:
    """What a crisis and each of its objects take from the crisis's version: origin, owner, TLP, exercise flag;
    their own times from `obj` (the crisis, or the entry of the object)."""
    row.owner_org_id = rec.block["owner"]
    row.tlp = rec.block["tlp"]
    row.exercise = exercise
    row.created_at = _time(obj.get("created")) or modified
    row.modified_at = _time(obj.get("modified")) or modified
    row.origin_node = rec.block["node"]
    row.received_version = modified
    row.received_at = utcnow()


def held(
    session: Session,
    model: Any,
    oid: str,
    obj: Mapping[str, Any],
    rec: Received,
    modified: datetime,
    *,
    parts: Callable[[], list[str]] = list,
) -> Any:
    """The replica of `oid` held here, and whether this version is to be applied: `(row or None, None)` to apply it;
    `(row, False)` when it is not (held here otherwise, or an older version arriving late, pruned from the store);
    `(row, True)` when it is the version held, re-served with another list, which only the share rows take (its own
    and those of its `parts`, which share its list). Every object that travels whole goes through here first."""
    node = rec.block["node"]
    existing = session.get(model, oid)
    if existing is not None and existing.origin_node != node:
        log.warning("%s from node %s is held here otherwise: not replicated", oid, node)
        return existing, False
    if existing is not None and existing.received_version is not None and existing.received_version >= modified:
        if existing.received_version > modified:
            prune(session, obj, node, existing.received_version)
            return existing, False  # an older version arriving late: the newer one stays
        set_shares(session, [oid, *parts()], signed_entries(rec))  # the same version re-served: only the list
        return existing, True
    return existing, None


def stamp(session: Session, row: Any, existing: Any, obj: Mapping[str, Any], rec: Received, modified: datetime) -> None:
    """What every replica takes from its origin's signed version: origin, owner, TLP, exercise flag, times (users do
    not travel); added when new, then flushed."""
    row.owner_org_id = rec.block["owner"]
    row.tlp = rec.block["tlp"]
    row.exercise = "exercise" in list_of(obj.get("labels"))
    row.created_at = _time(obj.get("created")) or modified
    row.modified_at = modified
    row.created_by_id = None
    row.origin_node = rec.block["node"]
    row.received_version = modified
    row.received_at = utcnow()
    if existing is None:
        session.add(row)
    session.flush()


def signed_entries(rec: Received) -> list[tuple[str, str]]:
    """The recipients a replica's origin signed that exist here and that its TLP allows."""
    return fit(rec.entries, TLP(rec.block["tlp"]))


def _child_ids(session: Session, cid: str) -> list[str]:
    ids: list[str] = []
    for model in (Escalation, Decision, Action):
        ids += session.scalars(select(model.id).where(model.crisis_id == cid))
    return ids


def set_shares(session: Session, ids: list[str], entries: list[tuple[str, str]]) -> None:
    """These replicas' recipients become `entries` (the replica writer's one way to their share rows); a crisis and
    each of its objects share one list (crises/audience.py)."""
    for chunk in chunks(ids):
        session.execute(delete(Share).where(Share.object_id.in_(chunk), Share.kind.in_(nodes.SHARE_KINDS)))
    session.add_all(Share(object_id=o, kind=k, target=t, added_by_org_id=None) for o in ids for k, t in entries)
    session.flush()


def _replace(session: Session, model: type[Any], crisis: Crisis, keep: set[str]) -> dict[str, Any]:
    """The crisis's current rows of `model`, without those the new version no longer has (deleted here)."""
    rows = {r.id: r for r in session.scalars(select(model).where(model.crisis_id == crisis.id))}
    for rid, row in list(rows.items()):
        if rid not in keep:
            session.execute(delete(Share).where(Share.object_id == rid))
            session.delete(row)
            del rows[rid]
    return rows


def _owned_elsewhere(session: Session, model: type[Any], rid: str, crisis: Crisis) -> bool:
    """An id of this kind held here under another crisis, or as this node's own: never overwritten (and said
    loudly: another node may have sent it first)."""
    found = session.get(model, rid)
    if found is None:
        return False
    taken = bool(found.crisis_id != crisis.id or found.origin_node != crisis.origin_node)
    if taken:
        log.warning(
            "%s of crisis %s from node %s is held here under crisis %s from %s: left out",
            rid,
            crisis.id,
            crisis.origin_node,
            found.crisis_id,
            found.origin_node or "this node",
        )
    return taken


def _ref(value: Any) -> str | None:
    """An id the origin names (a decision, an escalation), or None when it is not one."""
    return value if isinstance(value, str) and len(value) <= 120 else None


def _children(
    session: Session,
    model: type[Any],
    crisis: Crisis,
    entries: list[dict[str, Any]],
    rec: Received,
    fill: Callable[[Any, dict[str, Any]], None],
) -> list[tuple[Any, dict[str, Any]]]:
    """The crisis's objects of one kind as its new version has them: the others deleted here, each kept one
    updated (`fill`), each new one added; an id held here otherwise is left out."""
    rows = _replace(session, model, crisis, {e["id"] for e in entries})
    out = []
    for e in entries:
        if e["id"] not in rows and _owned_elsewhere(session, model, e["id"], crisis):
            continue
        row = rows.get(e["id"]) or model(id=e["id"], crisis_id=crisis.id)
        fill(row, e)
        _common(row, e, rec, crisis.received_version or utcnow(), exercise=crisis.exercise)
        if e["id"] not in rows:
            session.add(row)
        out.append((row, e))
    return out


def _escalations(session: Session, crisis: Crisis, obj: Mapping[str, Any], rec: Received, known: set[str]) -> list[str]:
    entries = _rows(obj.get("escalations"), "escalation--")
    held = list(session.scalars(select(Escalation.id).where(Escalation.crisis_id == crisis.id)))
    if held:  # their agreements and consultations are the new version's
        session.execute(delete(EscalationApproval).where(EscalationApproval.escalation_id.in_(held)))
        session.execute(delete(EscalationConsultation).where(EscalationConsultation.escalation_id.in_(held)))

    def fill(esc: Escalation, e: dict[str, Any]) -> None:
        esc.from_stage = text(e.get("from_stage"), 64, "unknown")
        esc.to_stage = text(e.get("to_stage"), 64, "unknown")
        esc.direction = text(e.get("direction"), 16, "escalate")
        esc.rationale = text(e.get("rationale"), 100_000)
        esc.state = text(e.get("state"), 16, "pending")
        esc.required = _ids(e.get("required"), known)
        esc.any_of = _ids(e.get("any_of"), known)
        esc.consult = [c for c in list_of(e.get("consult")) if isinstance(c, str) and len(c) <= 120][:100]
        proposer = e.get("proposed_by")
        esc.proposed_by_org_id = proposer if isinstance(proposer, str) and proposer in known else None
        esc.decided_at = _time(e.get("decided_at"))
        esc.decision_id = _ref(e.get("decision_id"))

    done = _children(session, Escalation, crisis, entries, rec, fill)
    session.flush()
    for esc, e in done:
        for a in list_of(e.get("approvals")):
            org = a.get("organisation") if isinstance(a, dict) else None
            if isinstance(org, str) and org in known and a.get("verdict") in ("agree", "reject"):
                session.merge(
                    EscalationApproval(
                        escalation_id=esc.id,
                        org_id=org,
                        user_id=None,
                        verdict=a["verdict"],
                        comment=text(a.get("comment"), 100_000),
                        at=_time(a.get("at")) or esc.modified_at,
                    )
                )
        for c in list_of(e.get("consultations")):
            org = c.get("organisation") if isinstance(c, dict) else None
            by = c.get("recorded_by") if isinstance(c, dict) else None
            if isinstance(org, str) and org in known and isinstance(by, str) and by in known:
                session.merge(
                    EscalationConsultation(
                        escalation_id=esc.id,
                        org_id=org,
                        consulted_at=_time(c.get("consulted_at")) or esc.modified_at,
                        view=text(c.get("view"), 100_000),
                        recorded_by_org_id=by,
                        recorded_by_id=None,
                        at=_time(c.get("at")) or esc.modified_at,
                    )
                )
    return [esc.id for esc, _ in done]


def _decisions(session: Session, crisis: Crisis, obj: Mapping[str, Any], rec: Received, known: set[str]) -> list[str]:
    def fill(row: Decision, d: dict[str, Any]) -> None:
        row.level = text(d.get("level"), 16, "technical")
        row.kind = text(d.get("kind"), 24, "other")
        row.title = text(d.get("title"), 300, "(no title)")
        row.detail = text(d.get("detail"), 100_000)
        row.options = _texts(d.get("options"), 1000, 50)
        row.rationale = text(d.get("rationale"), 100_000)
        row.decided_at = _time(d.get("decided_at")) or crisis.modified_at
        row.decided_by = _ids(d.get("decided_by"), known)
        row.escalation_id = _ref(d.get("escalation_id"))

    entries = _rows(obj.get("decisions"), "decision--")
    return [row.id for row, _ in _children(session, Decision, crisis, entries, rec, fill)]


def _actions(session: Session, crisis: Crisis, obj: Mapping[str, Any], rec: Received, known: set[str]) -> list[str]:
    def fill(row: Action, a: dict[str, Any]) -> None:
        row.title = text(a.get("title"), 300, "(no title)")
        row.detail = text(a.get("detail"), 100_000)
        row.assignee_org_id = a["assignee"]
        row.due_at = _time(a.get("due_at"))
        row.status = text(a.get("status"), 16, "open")
        row.done_at = _time(a.get("done_at"))
        row.decision_id = _ref(a.get("decision_id"))

    entries = [a for a in _rows(obj.get("actions"), "task--") if _ids([a.get("assignee")], known)]
    return [row.id for row, _ in _children(session, Action, crisis, entries, rec, fill)]
