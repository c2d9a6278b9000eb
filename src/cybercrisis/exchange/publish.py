"""Our own objects, as STIX, in the store of STIX objects: written in the transaction that changes them (ADR 0008).

Every change is audited, so the audit events of a transaction say what changed: at commit, each incident and
early warning named by one is mapped to STIX (exchange/stix.py) and each new version stored, so that TAXII and
federation read one table. What is stored carries the object's own access: its TLP, its owner, and `share_id` =
its id, so that its share list (changed later or not) decides who reads every STIX object derived from it
(observables, relationships, NIS2 reports as notes). Country `location` objects are public reference data (CLEAR).

Situation reports are not stored: their figures are computed for each reader (ADR 0006); they are exported per
reader through the API. An observable (SCO) seen in several incidents has one STIX id: it is stored once, with the
access of the first incident that brought it; readers of a later incident still see that incident's relationship
to it, and get the value from the incident itself.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from cybercrisis.access.tlp import TLP
from cybercrisis.exchange.models import StixObject

_PENDING = "cybercrisis.stix_publish"
_PREFIXES = ("incident--", "alert--")


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _context: Any) -> None:
    from cybercrisis.audit.models import AuditEvent

    for obj in session.new:
        if isinstance(obj, AuditEvent) and obj.object_id and obj.object_id.startswith(_PREFIXES):
            session.info.setdefault(_PENDING, set()).add(obj.object_id)


@event.listens_for(Session, "before_commit")
def _publish_pending(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids:
        publish(session, sorted(ids))


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _rows_for(session: Session, ids: list[str]) -> list[dict[str, Any]]:
    from cybercrisis.alerts.models import Alert
    from cybercrisis.exchange import importer, stix
    from cybercrisis.incidents.models import Incident

    out: list[dict[str, Any]] = []

    def add(obj: Any, *, tlp: str, owner: str, share_id: str, exercise: bool, origin: str) -> None:
        data = json.loads(obj.serialize()) if hasattr(obj, "serialize") else dict(obj)
        checked = importer._check(0, data)
        if isinstance(checked, importer.Rejected):  # our own mapping is validated in the tests: never expected
            raise ValueError(f"our own STIX object {data.get('id')} is invalid: {checked.reason}")
        public = data["type"] == "location"
        out.append({
            "id": checked.id, "modified": checked.modified, "type": checked.type, "spec_version": "2.1",
            "custom": checked.custom, "revoked": False, "data": data,
            "tlp": TLP.CLEAR.value if public else tlp, "owner_org_id": owner, "created_by_id": None,
            "exercise": exercise, "origin": origin, "share_id": checked.id if public else share_id,
            "latest": True, "origin_node": None, "signature": None, "signed": False,
        })  # fmt: skip

    incidents = [i for i in ids if i.startswith("incident--")]
    if incidents:
        found = list(session.scalars(select(Incident).where(Incident.id.in_(incidents))))
        for data in stix.load_incidents(session, found):
            i = data.incident
            for obj in stix.incident_objects(data):
                add(obj, tlp=i.tlp, owner=i.owner_org_id, share_id=i.id, exercise=i.exercise, origin=f"local:{i.id}")
    alerts = [a for a in ids if a.startswith("alert--")]
    if alerts:
        for a in session.scalars(select(Alert).where(Alert.id.in_(alerts))):
            add(stix.alert_report(a, incident_visible=False), tlp=a.tlp, owner=a.owner_org_id, share_id=a.id,
                exercise=a.exercise, origin=f"local:{a.id}")  # fmt: skip
    return out


def publish(session: Session, ids: list[str]) -> int:
    """Store the new STIX versions of these objects of ours (incidents, alerts); returns how many were new."""
    from cybercrisis.audit import service as audit
    from cybercrisis.exchange.importer import added_now

    rows = _rows_for(session, ids)
    if not rows:
        return 0
    by_key = {(r["id"], r["modified"]): r for r in rows}  # an SCO in two of the incidents: once
    wanted = sorted({r["id"] for r in rows})
    stored: dict[str, list[Any]] = {}
    for n in range(0, len(wanted), 500):
        for oid, modified in session.execute(
            select(StixObject.id, StixObject.modified).where(StixObject.id.in_(wanted[n : n + 500]))
        ):
            stored.setdefault(oid, []).append(modified)
    new = [r for key, r in by_key.items() if key[1] not in stored.get(key[0], [])]
    if not new:
        return 0
    audit.lock(session)  # already held when an audit event was written in this transaction: seq in commit order
    now = added_now(session)
    for r in new:
        r["added_at"] = now
        newer = [m for m in stored.get(r["id"], []) if m > r["modified"]]
        r["latest"] = not newer
    session.execute(insert(StixObject.__table__), new)  # type: ignore[arg-type]
    for r in new:
        if r["latest"] and stored.get(r["id"]):
            session.execute(
                update(StixObject)
                .where(StixObject.id == r["id"], StixObject.modified < r["modified"], StixObject.latest.is_(True))
                .values(latest=False)
            )
    return len(new)
