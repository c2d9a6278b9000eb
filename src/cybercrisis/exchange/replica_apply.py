"""Replicas built from their origin's signed versions (ADR 0013): incidents, early warnings, crises, requests for
assistance, national contributions and coordinated communications held elsewhere.

`importer.receive` stores a peer's versions in the STIX store and then calls `apply` in the same transaction (for
a pull, the one that also moves the cursor): a crash leaves both or neither. Only versions stored as new (or again
with a new signed share list) are applied, so a resumed pull that reads a page again changes nothing.

- An `incident` SDO sets the replica's fields from its Incident Core and our extension (status, times, flags,
  significance, sectors, countries, the NIS2 reports' clocks) and its recipients. A version older than the one
  held (two paths delivering out of order) is ignored.
- Its `relationship`s add what they name: observables (`related-to`) and the affected entity (`impacts`); a revoked
  `related-to` takes its observable off the replica. The origin publishes an incident and its relationships in one
  transaction, incident first, and pages follow that order, so the replica exists when they arrive.
- An early warning's `report` with our early-warning extension sets the replica alert, its recipients and their
  acknowledgements.
- A crisis, a request for assistance, an offer, a national contribution, a coordinated communication or a published
  situation report travels whole, as one object of our extension, and its newest version in a receipt replaces the
  replica (exchange/replica_crisis.py, replica_assistance.py, replica_contribution.py, replica_communication.py,
  replica_sitrep.py).

A replica keeps the origin's id, owner, TLP, exercise flag and times; its share rows are the recipients its
origin signed that exist here and that its TLP allows (`Received.entries`). Users do not travel: who created it
and who acknowledged is NULL here. Each change is audited `exchange:replica:apply`, so this node's change feed,
live picture and caches see it like a local change. Notifications go through this node's routes: an early warning,
a request for assistance and a statement awaiting approval are announced to the organisations that may read them
here when they arrive (once each; a statement once per version); the origin notifies through its own routes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cybercrisis.access import replicas
from cybercrisis.alerts import service as alerts_service
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.audit import service as audit
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange import (
    replica_assistance,
    replica_communication,
    replica_contribution,
    replica_crisis,
    replica_sitrep,
    withdrawals,
)
from cybercrisis.exchange.import_plan import Received
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.replica_crisis import parse_time as _time
from cybercrisis.exchange.stix_common import (
    ALERT_EXTENSION_ID,
    COMMUNICATION_TYPE,
    CONTRIBUTION_TYPE,
    CRISIS_TYPE,
    EXTENSION_ID,
    OFFER_TYPE,
    REQUEST_TYPE,
    SITREP_TYPE,
    WITHDRAWAL_TYPE,
    derived_id,
)
from cybercrisis.exchange.stix_read import incident_from_stix, observables_from
from cybercrisis.incidents.models import (
    Incident,
    IncidentCountry,
    IncidentSector,
    Observable,
    Report,
    Sighting,
)

log = logging.getLogger(__name__)

APPLY = "exchange:replica:apply"
MAX_REPLICAS_PER_RECEIPT = 5000  # a page holds at most a few hundred objects; a bound, not a tuning knob


def _text(value: Any, limit: int) -> str | None:
    """A text of the origin's, cut to the column's size (a longer one is the origin's bug, not a reason to stop)."""
    return value[:limit] if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any, default: int, *, low: int = 0, high: int = 10_000_000) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else default


Item = tuple[Mapping[str, Any], Received]
# The objects that travel whole, in the order they are applied: how, the property naming the object, its kind.
_WHOLE: dict[str, tuple[Callable[[Session, Mapping[str, Any], Received], bool], str, str]] = {
    CRISIS_TYPE: (replica_crisis.apply, "crisis_id", "crisis"),
    REQUEST_TYPE: (replica_assistance.apply, "request_id", "assistance-request"),
    OFFER_TYPE: (replica_assistance.apply_offer, "offer_id", "assistance-offer"),  # after its request
    CONTRIBUTION_TYPE: (replica_contribution.apply, "contribution_id", "contribution"),
    COMMUNICATION_TYPE: (replica_communication.apply, "communication_id", "communication"),
    SITREP_TYPE: (replica_sitrep.apply, "sitrep_id", "sitrep"),
}


@dataclass
class _Sorted:
    """A receipt's versions by what they bring up to date."""

    incidents: dict[str, Item] = field(default_factory=dict)
    related: dict[str, list[Item]] = field(default_factory=dict)
    alerts: list[Item] = field(default_factory=list)
    # The newest version in a receipt of each object that travels whole (a crisis, a request, a contribution).
    whole: dict[str, dict[str, Item]] = field(default_factory=dict)
    withdrawn: list[Item] = field(default_factory=list)
    batch: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def add(self, obj: Mapping[str, Any], rec: Received) -> None:
        kind, oid = obj.get("type"), obj.get("id")
        if not isinstance(oid, str):
            return
        self.batch[oid] = obj
        if kind == "incident":
            self.incidents[oid] = (obj, rec)
        elif kind == "relationship" and str(obj.get("source_ref", "")).startswith("incident--"):
            self.related.setdefault(str(obj["source_ref"]), []).append((obj, rec))
        elif kind == "report" and ALERT_EXTENSION_ID in (obj.get("extensions") or {}):
            self.alerts.append((obj, rec))
        elif kind in _WHOLE:
            newest = self.whole.setdefault(kind, {})
            held = newest.get(oid)
            if held is None or str(obj.get("modified", "")) >= str(held[0].get("modified", "")):
                newest[oid] = (obj, rec)
        elif kind == WITHDRAWAL_TYPE:
            self.withdrawn.append((obj, rec))


def apply(session: Session, received: Iterable[Item]) -> int:
    """Bring up to date the replicas that the received versions (stored as new, or again with a new share list)
    touch; returns how many were written."""
    got = _Sorted()
    for obj, rec in received:
        got.add(obj, rec)
    done = 0
    with replicas.writing(session):
        ids = list(got.incidents)[:MAX_REPLICAS_PER_RECEIPT]
        held = set(session.scalars(select(Incident.id).where(Incident.id.in_(ids)))) if ids else set()
        for oid in ids:
            done += _incident(session, *got.incidents[oid])
        # Incidents new here may be named by crises held here that came before them (another path).
        replica_crisis.relink(session, [i for i in ids if i not in held])
        for oid, rels in list(got.related.items())[:MAX_REPLICAS_PER_RECEIPT]:
            _relationships(session, oid, rels, got.batch)
        for obj, rec in got.alerts[:MAX_REPLICAS_PER_RECEIPT]:
            done += _alert(session, obj, rec)
        # After the incidents, so that a crisis links the incidents that arrived in the same page.
        # Crises first: a request names its crisis when held here.
        for kind, (apply_one, key, name) in _WHOLE.items():
            if kind == OFFER_TYPE:  # offers that came before their request, now held here
                offers = got.whole.setdefault(OFFER_TYPE, {})
                requests = [str(o.get("request_id")) for o, _ in got.whole.get(REQUEST_TYPE, {}).values()]
                for obj, rec in replica_assistance.waiting_offers(session, requests):
                    offers.setdefault(str(obj["id"]), (obj, rec))
            for obj, rec in list(got.whole.get(kind, {}).values())[:MAX_REPLICAS_PER_RECEIPT]:
                done += _whole(session, obj, rec, apply_one, key, name)
        # Last: a withdrawal narrows what the versions before it in the origin's order gave (revocation travels).
        for obj, rec in got.withdrawn[:MAX_REPLICAS_PER_RECEIPT]:
            target = withdrawals.apply(session, obj, rec, modified=_time(obj.get("modified")))
            if target is not None:
                summary = {"node": rec.block["node"], "withdrawn_from": obj.get("withdrawn_from")}
                audit.record(session, actor=None, tag=withdrawals.WITHDRAW, object_id=target, summary=summary)
                done += 1
    return done


def _whole(
    session: Session,
    obj: Mapping[str, Any],
    rec: Received,
    apply_one: Callable[[Session, Mapping[str, Any], Received], bool],
    key: str,
    kind: str,
) -> int:
    """One version of an object that travels whole (a crisis, a request for assistance), in a savepoint: whatever is
    wrong in one signed object (a value of the wrong shape) sets it aside, logged, and never stops its page."""
    try:
        with session.begin_nested():
            applied = apply_one(session, obj, rec)
    except (TypeError, ValueError, AttributeError, KeyError, LookupError):
        log.exception("%s object %s from node %s cannot be applied: set aside", kind, obj.get("id"), rec.block["node"])
        return 0
    if not applied:
        return 0
    summary = {"node": rec.block["node"], "modified": obj.get("modified"), "kind": kind}
    audit.record(session, actor=None, tag=APPLY, object_id=str(obj[key]), summary=summary)
    return 1


# --- incidents ---------------------------------------------------------------------------------------------------


def _incident(session: Session, sdo: Mapping[str, Any], rec: Received) -> int:
    """The incident's own fields, countries, sectors, NIS2 clocks and recipients, from its SDO (our extension)."""
    node, oid = rec.block["node"], str(sdo["id"])
    existing = session.get(Incident, oid)
    if existing is not None and existing.origin_node != node:
        log.warning("incident %s from node %s is held here otherwise: not replicated", oid, node)
        return 0
    modified = _time(sdo.get("modified")) or utcnow()
    if existing is not None and existing.received_version is not None and existing.received_version > modified:
        return 0  # an older version arriving late: the newer one stays
    try:
        fields = incident_from_stix([dict(sdo)])
    except InvalidInput as exc:
        log.warning("incident %s from node %s cannot be read back: %s", oid, node, exc)
        return 0
    ext = (sdo.get("extensions") or {}).get(EXTENSION_ID) or {}
    incident = existing or Incident(id=oid)
    incident.title = _text(fields["title"], 300) or "(no title)"
    incident.description = _text(fields.get("description"), 100_000) or ""
    incident.status = _text(fields["status"], 16) or "new"
    incident.pap = _text(fields["pap"], 8) or "amber"
    for key in ("rsit_class", "rsit_type", "root_cause"):
        setattr(incident, key, _text(fields.get(key), 64))
    for key in ("threat_severity", "impact_severity", "outlook"):
        setattr(incident, key, _text(fields.get(key), 16))
    incident.tags = [t[:200] for t in fields.get("tags") or [] if isinstance(t, str)][:200]
    incident.aware_at = fields["aware_at"]
    incident.occurred_at = fields.get("occurred_at")
    incident.handled_at = _time(ext.get("handled_at"))
    incident.suspected_malicious = bool(fields["suspected_malicious"])
    incident.cross_border = bool(fields["cross_border"])
    incident.exceeds_national_capacity = bool(fields["exceeds_national_capacity"])
    incident.entity_name = _text(fields.get("entity_name"), 300) or ""
    incident.entity_type = _text(fields.get("entity_type"), 64)
    incident.entity_category = _text(fields.get("entity_category"), 16)
    facts = fields.get("facts")
    incident.facts = dict(facts) if isinstance(facts, dict) else {}
    incident.significance = _text(ext.get("significance"), 16) or incident.significance or "reported"
    incident.apparent_root_cause = _text(ext.get("apparent_root_cause"), 300)
    _common(incident, sdo, rec, modified)
    if existing is None:
        session.add(incident)
    countries = sorted({c.upper() for c in _list(ext.get("countries")) if isinstance(c, str) and len(c) == 2})
    incident.country_rows = [IncidentCountry(country=c) for c in countries]
    sectors = sorted({s for s in fields.get("sectors") or [] if isinstance(s, str) and 0 < len(s) <= 64})
    incident.sector_rows = [IncidentSector(sector=s) for s in sectors]
    session.flush()
    _reports(session, oid, _list(ext.get("reports")))
    return _done(session, oid, rec, sdo, "incident")


def _relationships(
    session: Session,
    oid: str,
    received: list[tuple[Mapping[str, Any], Received]],
    batch: Mapping[str, Mapping[str, Any]],
) -> None:
    """What an incident's relationships add: its observables (`related-to`) and the affected entity (`impacts`).
    They follow their incident in the origin's order (published in one transaction, incident first), so the
    replica exists when they arrive; a relationship of an incident not held here is only in the store."""
    incident = session.get(Incident, oid)
    if incident is None or incident.origin_node is None:
        return
    node = incident.origin_node
    # Only the incident's origin, speaking for its owner, says what the incident relates to: another node's
    # relationship naming it stays in the store (signed by that node, read by whom it was shared with).
    rels = [r for r, rec in received if (rec.block["node"], rec.block["owner"]) == (node, incident.owner_org_id)]
    # A revoked relationship is the origin taking a value off the incident (exchange/publish.py `_retract`).
    gone = [
        str(r.get("target_ref", "")) for r in rels if r.get("relationship_type") == "related-to" and r.get("revoked")
    ]
    wanted = [
        str(r.get("target_ref", ""))
        for r in rels
        if r.get("relationship_type") == "related-to" and not r.get("revoked")
    ]
    missing = sorted({t for t in [*wanted, *gone] if t not in batch})
    stored = {o["id"]: o for o in _latest(session, node, missing)} if missing else {}

    def values_of(targets: list[str]) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for target in targets:
            obj = batch.get(target) or stored.get(target)
            if obj is not None:
                out += observables_from(obj)
        return out

    for rel in rels:
        target = str(rel.get("target_ref", ""))
        if rel.get("relationship_type") == "impacts" and target.startswith("identity--") and not rel.get("revoked"):
            incident.entity_org_id = target if session.get(Organisation, target) else None
    _observables(session, oid, values_of(wanted))
    _unlink(session, oid, values_of(gone))


def _unlink(session: Session, incident_id: str, values: list[dict[str, str]]) -> None:
    """Remove the sightings of these values from the replica: its origin took them off the incident."""
    for kind, value in sorted({(o["type"], o["value"]) for o in values}):
        found = session.scalars(select(Observable.id).where(Observable.type == kind, Observable.value == value)).first()
        if found is not None:
            session.execute(
                delete(Sighting).where(Sighting.incident_id == incident_id, Sighting.observable_id == found)
            )
    session.flush()


def _latest(session: Session, node: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The latest versions of these ids held here from `node` (an observable pulled once, in another incident's
    copy: exchange/copies.py)."""
    query = select(StixObject.data).where(
        StixObject.origin_node == node, StixObject.latest.is_(True), StixObject.id.in_(list(ids))
    )
    return [dict(d) for d in session.scalars(query)]


def _common(obj: Incident | Alert, sdo: Mapping[str, Any], rec: Received, modified: datetime) -> None:
    obj.owner_org_id = rec.block["owner"]
    obj.tlp = rec.block["tlp"]
    obj.exercise = "exercise" in (sdo.get("labels") or [])
    obj.created_at = _time(sdo.get("created")) or modified
    obj.modified_at = modified
    obj.origin_node = rec.block["node"]
    obj.received_version = modified
    obj.received_at = utcnow()


def _observables(session: Session, incident_id: str, values: list[dict[str, str]]) -> None:
    """Add the sightings of these values (a value taken off comes as a revoked relationship: `_unlink`)."""
    have = set(session.scalars(select(Sighting.observable_id).where(Sighting.incident_id == incident_id)))
    for kind, value in sorted({(o["type"], o["value"]) for o in values}):
        found = session.scalars(select(Observable.id).where(Observable.type == kind, Observable.value == value)).first()
        if found is None:
            row = Observable(type=kind, value=value)
            session.add(row)
            session.flush()
            found = row.id
        if found not in have:
            have.add(found)
            session.add(Sighting(observable_id=found, incident_id=incident_id))
    session.flush()


def _reports(session: Session, incident_id: str, clocks: list[Any]) -> None:
    rows = {r.id: r for r in session.scalars(select(Report).where(Report.incident_id == incident_id))}
    keep: set[str] = set()
    for clock in clocks:
        rid, kind = (clock.get("id"), clock.get("kind")) if isinstance(clock, dict) else (None, None)
        if not isinstance(rid, str) or not rid.startswith("report--") or len(rid) > 120 or not isinstance(kind, str):
            continue
        if rid not in rows and session.get(Report, rid) is not None:
            continue  # the id of another incident's report: not this incident's clock
        keep.add(rid)
        row = rows.get(rid) or Report(id=rid, incident_id=incident_id, content={})
        row.kind = kind[:24]
        row.version = _int(clock.get("version"), 0)
        row.due_at = _time(clock.get("due_at"))
        row.requested_at = _time(clock.get("requested_at"))
        row.submitted_at = _time(clock.get("submitted_at"))
        if clock["id"] not in rows:
            session.add(row)
    for rid, row in rows.items():
        if rid not in keep:
            session.delete(row)


def _done(session: Session, object_id: str, rec: Received, sdo: Mapping[str, Any], kind: str) -> int:
    """The replica's recipients, and the audit entry that tells this node's change feed about it."""
    _shares(session, object_id, rec)
    summary = {"node": rec.block["node"], "modified": sdo.get("modified"), "kind": kind}
    audit.record(session, actor=None, tag=APPLY, object_id=object_id, summary=summary)
    return 1


def _shares(session: Session, object_id: str, rec: Received) -> None:
    """The recipients its origin signed that exist here and that its TLP allows, as the store's copy has them."""
    replica_crisis.set_shares(session, [object_id], replica_crisis.signed_entries(rec))


# --- early warnings ----------------------------------------------------------------------------------------------


def _alert(session: Session, obj: Mapping[str, Any], rec: Received) -> int:
    node = rec.block["node"]
    ext = (obj.get("extensions") or {}).get(ALERT_EXTENSION_ID) or {}
    aid = ext.get("alert_id")
    if not isinstance(aid, str) or not aid.startswith("alert--") or len(aid) > 120:
        return 0
    if obj.get("id") != derived_id("report", aid):  # the report an origin makes of that alert, and no other
        log.warning("report %s from node %s does not carry its own early warning: not replicated", obj.get("id"), node)
        return 0
    modified = _time(obj.get("modified")) or utcnow()
    existing = session.get(Alert, aid)
    if existing is not None and existing.origin_node != node:
        log.warning("early warning %s from node %s is held here otherwise: not replicated", aid, node)
        return 0
    if existing is not None and existing.received_version is not None and existing.received_version >= modified:
        # An older version arriving late, or the same one re-served with a new share list: only the list changes.
        return _done(session, aid, rec, obj, "alert") if existing.received_version == modified else 0
    alert = existing or Alert(id=aid)
    alert.title = _text(obj.get("name"), 300) or "(no title)"
    alert.body = _text(obj.get("description"), 100_000) or ""
    alert.incident_id = None  # the origin names the incident only to those who may read it
    alert.remind_after_minutes = _int(ext.get("remind_after_minutes"), 60, low=1)
    alert.escalate_after_minutes = _int(ext.get("escalate_after_minutes"), 240, low=1)
    _common(alert, obj, rec, modified)
    if existing is None:
        session.add(alert)
    known = set(session.scalars(select(Organisation.id)))
    recipients: dict[str, AlertRecipient] = {}
    for entry in _list(ext.get("recipients")):
        org = entry.get("organisation") if isinstance(entry, dict) else None
        if isinstance(org, str) and org in known and org not in recipients:  # each once, as the key wants
            recipients[org] = AlertRecipient(org_id=org, acknowledged_at=_time(entry.get("acknowledged_at")))
    alert.recipients = list(recipients.values())
    session.flush()
    done = _done(session, aid, rec, obj, "alert")
    if existing is None:  # its recipients here that have not acknowledged it hear of it, through this node
        waiting = [r.org_id for r in recipients.values() if r.acknowledged_at is None]
        alerts_service.announce(session, alert, waiting)
    return done
