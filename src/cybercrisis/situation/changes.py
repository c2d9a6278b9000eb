"""What the audit entries of a change are about, for the caches (cybercrisis.cache): the object's kind, who may
read it now and what it belongs to, read in one pass per batch of entries."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.policy import ShareEntry, read_scope
from cybercrisis.alerts.models import Alert
from cybercrisis.assistance.models import AssistanceRequest, Offer
from cybercrisis.cache import AuditRows, Change, Facts
from cybercrisis.comms.models import Communication, Publication
from cybercrisis.crises.models import Action, Crisis, CrisisIncident, Decision, Escalation
from cybercrisis.handoffs.models import Handoff
from cybercrisis.incidents.models import Incident, Report
from cybercrisis.situation.models import Contribution, Sitrep

# The kinds a cached view shows, by the type part of their id, with the columns naming what each belongs to.
KINDS: dict[str, tuple[type[Any], tuple[str, ...]]] = {
    "incident": (Incident, ()),
    "alert": (Alert, ("incident_id",)),
    "contribution": (Contribution, ()),
    "sitrep": (Sitrep, ()),
    "crisis": (Crisis, ()),
    "escalation": (Escalation, ("crisis_id",)),
    "decision": (Decision, ("crisis_id",)),
    "task": (Action, ("crisis_id",)),  # a crisis action
    "assistance-request": (AssistanceRequest, ("crisis_id",)),
    "assistance-offer": (Offer, ("request_id",)),
    "communication": (Communication, ("crisis_id",)),
    "publication": (Publication, ("crisis_id",)),
    "handoff": (Handoff, ("crisis_id", "incident_id")),
}
# The subject of the audit tag that records a creation (`source:subject:create`), where it is not the kind.
CREATED_AS = {"task": "action", "assistance-request": "request", "assistance-offer": "offer"}
# Kinds no cached view shows: a user's own changes (role, organisation) reach the views through the reader's key.
IGNORED = frozenset({"user", "api-token", "document", "contact", "capability", "impact-assessment"})
# Entries about no object, from parts that write nothing a cached view shows (sign-ins, exchange, routes).
IGNORED_SOURCES = ("accounts:", "exchange:", "notify:")


def _kind(object_id: str | None) -> str:
    return object_id.split("--", 1)[0] if object_id and "--" in object_id else ""


def describe(session: Session, rows: AuditRows) -> list[Change]:
    """A Change per audit row (seq, tag, object_id)."""
    by_kind: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_kind[_kind(r.object_id)].add(r.object_id)
    facts: dict[str, tuple[str, str, Any]] = {}  # id -> (tlp, owner, scope); shares below, for the id that has them
    share_of: dict[str, str] = {}  # id -> the id whose shares apply (a report: its incident)
    parents: dict[str, set[str]] = defaultdict(set)
    for kind, ids in by_kind.items():
        if kind not in KINDS:
            continue
        model, columns = KINDS[kind]
        scope = read_scope(model)
        cols = [getattr(model, c) for c in columns]
        for row in session.execute(select(model.id, model.tlp, model.owner_org_id, *cols).where(model.id.in_(ids))):
            facts[row[0]] = (row[1], row[2], scope)
            share_of[row[0]] = row[0]
            parents[row[0]].update(p for p in row[3:] if p)
    if by_kind.get("incident"):
        for crisis_id, incident_id in session.execute(
            select(CrisisIncident.crisis_id, CrisisIncident.incident_id).where(
                CrisisIncident.incident_id.in_(by_kind["incident"])
            )
        ):
            parents[incident_id].add(crisis_id)
    if by_kind.get("report"):  # a NIS2 report is read under its incident's marking
        for rid, iid, tlp, owner in session.execute(
            select(Report.id, Report.incident_id, Incident.tlp, Incident.owner_org_id)
            .join(Incident, Incident.id == Report.incident_id)
            .where(Report.id.in_(by_kind["report"]))
        ):
            facts[rid] = (tlp, owner, read_scope(Incident))
            share_of[rid] = iid
            parents[rid].add(iid)
    shares = sharing.shares_of_many(session, sorted(set(share_of.values())))
    out = []
    for r in rows:
        oid, kind = r.object_id, _kind(r.object_id)
        if oid in facts:
            tlp, owner, scope = facts[oid]
            entries = tuple(ShareEntry(s.kind, s.target) for s in shares.get(share_of[oid], ()))
            facts_of = Facts(tlp, owner, entries, scope)
            created = r.tag.endswith(f":{CREATED_AS.get(kind, kind)}:create")
            out.append(
                Change(r.seq, oid, kind, facts_of, frozenset(parents[oid]), subject=share_of[oid], created=created)
            )
        elif kind in IGNORED or kind in KINDS or kind == "report" or r.tag.startswith(IGNORED_SOURCES):
            out.append(Change(r.seq, oid, kind))  # gone, or shown nowhere: views that show its kind drop entries
        else:
            out.append(Change(r.seq, oid, kind, everything=True))  # organisations, unknown kinds: drop everything
    return out
