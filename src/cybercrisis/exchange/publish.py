"""Our own objects, as STIX, in the store of STIX objects: written in the transaction that changes them (ADR 0008).

Every change is audited, so the audit events of a transaction say what changed: at commit, each incident, early
warning, crisis (or escalation, decision or action of one), request for assistance, submitted national
contribution and coordinated communication named by one is mapped to STIX (exchange/stix.py,
exchange/stix_crisis.py) and each new version stored, so that TAXII and federation read one table. `on_commit` is
the audit chain's commit hook, subscribed by `cybercrisis.wiring`: it maps and validates before the chain's lock is
taken, and what it returns stores the versions under the lock (ADR 0011).

What is stored carries the object's own access: its TLP, its owner, and `share_id` = its id, so that its share list
(changed later or not) decides who reads every STIX object derived from it (observables, relationships, countries,
CVEs, NIS2 reports as notes). Each incident stores its own copy of them (exchange/copies.py): an observable seen in
two incidents is read by the readers of either, and a reader of both gets it once. When the share list of an object
changed without a new version, its stored versions are re-served with the new list (`copies.reserve`), so that the
list they travel with is always the current one, signed.

A situation report's figures are computed for each reader (ADR 0006): what is stored of a report is its published
version and the frozen sources every reader of it may read (exchange/stix_sitrep.py), from which a node of its
audience computes each reader's figures; its figures as one reader sees them are exported through the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from cybercrisis.audit import service as audit
from cybercrisis.exchange import copies, federation_wake, withdrawals
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.stix_common import (
    COMMUNICATION_TYPE,
    CONTRIBUTION_TYPE,
    CRISIS_TYPE,
    OFFER_TYPE,
    REQUEST_TYPE,
    SITREP_TYPE,
    ts,
)

_PREFIXES = (
    "incident--",
    "alert--",
    "crisis--",
    "escalation--",
    "decision--",
    "task--",
    "assistance-request--",
    "assistance-offer--",
    "contribution--",
    "communication--",
    "sitrep--",
)
# Objects that name others only as far as their own share list allows: a new list is a new version, and only the
# latest is kept (`_latest_only_versions`).
LATEST_ONLY = frozenset({CRISIS_TYPE, REQUEST_TYPE, OFFER_TYPE, CONTRIBUTION_TYPE, COMMUNICATION_TYPE, SITREP_TYPE})


def on_commit(session: Session, object_ids: Sequence[str]) -> Callable[[], int] | None:
    """Map and validate the new state of our objects named by this commit's audit events, outside the chain's lock;
    returns the write that stores their new versions, to be made under it (audit.service runs both)."""
    ids = sorted(i for i in object_ids if i.startswith(_PREFIXES))
    rows = _rows_for(session, ids) if ids else []
    if not rows:
        return None
    return lambda: _store(session, rows)


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
        # Countries and CVEs are public reference data, but that this incident names them is not: the incident's
        # access decides, like for everything derived from it.
        out.append(
            {
                "id": checked.id,
                "modified": checked.modified,
                "type": checked.type,
                "spec_version": "2.1",
                "custom": checked.custom,
                "revoked": False,
                "data": data,
                "tlp": tlp,
                "owner_org_id": owner,
                "created_by_id": None,
                "exercise": exercise,
                "origin": origin,
                "share_id": share_id,
                "latest": True,
                "origin_node": None,
                "signature": None,
                "signed": False,
                "shares": None,
            }
        )

    incidents = [i for i in ids if i.startswith("incident--")]
    if incidents:
        # Replicas are not ours: their origin signs them (ADR 0013); this node never publishes them as its own.
        found = list(
            session.scalars(select(Incident).where(Incident.id.in_(incidents), Incident.origin_node.is_(None)))
        )
        for data in stix.load_incidents(session, found):
            i = data.incident
            for obj in stix.incident_objects(data):
                add(obj, tlp=i.tlp, owner=i.owner_org_id, share_id=i.id, exercise=i.exercise, origin=f"local:{i.id}")
    for obj, mapped in _whole(session, ids):
        add(
            mapped,
            tlp=obj.tlp,
            owner=obj.owner_org_id,
            share_id=obj.id,
            exercise=obj.exercise,
            origin=f"local:{obj.id}",
        )
    alerts = [a for a in ids if a.startswith("alert--")]
    if alerts:
        for a in session.scalars(select(Alert).where(Alert.id.in_(alerts), Alert.origin_node.is_(None))):
            add(
                stix.alert_report(a, incident_visible=False),
                tlp=a.tlp,
                owner=a.owner_org_id,
                share_id=a.id,
                exercise=a.exercise,
                origin=f"local:{a.id}",
            )
    return out


def _whole(session: Session, ids: list[str]) -> list[tuple[Any, dict[str, Any]]]:
    """The objects of ours that travel whole, one object of our extension each (a crisis with its escalations,
    decisions and actions; a request for assistance; an offer; a submitted national contribution; a communication),
    that these ids name, each with its mapping. Replicas are not ours: their origin signs them (ADR 0013)."""
    from cybercrisis.assistance.models import AssistanceRequest, Offer
    from cybercrisis.comms.models import Communication
    from cybercrisis.crises.models import Crisis
    from cybercrisis.exchange.stix_assistance import offer_object, request_object
    from cybercrisis.exchange.stix_communication import communication_object
    from cybercrisis.exchange.stix_contribution import contribution_object
    from cybercrisis.exchange.stix_crisis import crisis_object
    from cybercrisis.exchange.stix_sitrep import sitrep_object
    from cybercrisis.situation.models import Contribution, ContributionState, Sitrep

    kinds: list[tuple[Any, list[str], Callable[[Session, Any], dict[str, Any] | None], list[Any]]] = [
        (Crisis, _crises_of(session, ids), crisis_object, []),
        (AssistanceRequest, _requests_of(session, ids), request_object, []),
        # An offer goes to its offerer's node too: one made here from that node's answer, and what became of it.
        (Offer, [i for i in ids if i.startswith("assistance-offer--")], offer_object, []),
        # Submitted ones only: a draft stays on its Member State's node (ADR 0013).
        (
            Contribution,
            [i for i in ids if i.startswith("contribution--")],
            contribution_object,
            [Contribution.state == ContributionState.SUBMITTED.value],
        ),
        (Communication, [i for i in ids if i.startswith("communication--")], communication_object, []),
        # Its published version only (ADR 0006: a draft is its drafting organisation's).
        (Sitrep, [i for i in ids if i.startswith("sitrep--")], sitrep_object, [Sitrep.published_version.is_not(None)]),
    ]
    out: list[tuple[Any, dict[str, Any]]] = []
    for model, wanted, mapping, where in kinds:
        if wanted:
            query = select(model).where(model.id.in_(wanted), model.origin_node.is_(None), *where)
            for obj in session.scalars(query):
                mapped = mapping(session, obj)
                if mapped is not None:
                    out.append((obj, mapped))
    return out


def _crises_of(session: Session, ids: list[str]) -> list[str]:
    """The crises that these ids are, or that these escalations, decisions and actions belong to: a change to one
    of them is a new version of its crisis's object (exchange/stix_crisis.py)."""
    from cybercrisis.crises.models import Action, Decision, Escalation

    found = {i for i in ids if i.startswith("crisis--")}
    for prefix, model in (("escalation--", Escalation), ("decision--", Decision), ("task--", Action)):
        wanted = [i for i in ids if i.startswith(prefix)]
        if wanted:
            found.update(session.scalars(select(model.crisis_id).where(model.id.in_(wanted))))
    return sorted(found)


def _requests_of(session: Session, ids: list[str]) -> list[str]:
    """The requests for assistance that these ids are, or that these offers are made on: accepting an offer moves
    its request into support, a new version of the request's object."""
    from cybercrisis.assistance.models import Offer

    found = {i for i in ids if i.startswith("assistance-request--")}
    offers = [i for i in ids if i.startswith("assistance-offer--")]
    if offers:
        found.update(session.scalars(select(Offer.request_id).where(Offer.id.in_(offers))))
    return sorted(found)


def _latest_only_versions(
    rows: list[dict[str, Any]], new: list[dict[str, Any]], changed: set[str], now: datetime
) -> list[dict[str, Any]]:
    """A crisis's or a request's object names its links as its share list allows (exchange/stix_crisis.py): a new
    list makes a new version even where nothing else changed, and only the latest is kept (`_only_latest`), so
    that no version is ever served to a wider list than it was made for."""
    out = []
    for r in rows:
        if r["type"] in LATEST_ONLY and r["share_id"] in changed and r not in new:
            r["modified"], r["data"]["modified"] = now, ts(now)
            out.append(r)
    return out


def _only_latest(session: Session, row: dict[str, Any]) -> None:
    session.execute(
        delete(StixObject).where(
            StixObject.id == row["id"],
            StixObject.share_id == row["share_id"],
            StixObject.origin_node.is_(None),
            StixObject.modified < row["modified"],
        )
    )


def _dropped(session: Session, rows: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """What an incident's copy holds as current that its new mapping no longer has (an observable removed, a
    country taken off): (id, share key, stored object). An incident is always mapped whole, so whatever of its copy
    the mapping lacks is gone from it."""
    mapped: dict[str, set[str]] = {}
    for r in rows:
        if r["share_id"].startswith("incident--"):
            mapped.setdefault(r["share_id"], set()).add(r["id"])
    if not mapped:
        return []
    found = session.execute(
        select(StixObject.id, StixObject.share_id, StixObject.data).where(
            StixObject.share_id.in_(sorted(mapped)),
            StixObject.origin_node.is_(None),
            StixObject.latest.is_(True),
            StixObject.revoked.is_(False),
        )
    )
    return [(oid, key, dict(data)) for oid, key, data in found if oid not in mapped[key]]


def _retract(
    session: Session, dropped: list[tuple[str, str, dict[str, Any]]], rows: list[dict[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """The incident's relationships to what it no longer has become revoked versions, which travel like any
    version (a peer's replica then drops the link: exchange/replica_apply.py); the incident's copies of the objects
    themselves are removed from its key, so that they are no longer served as its own. Shared reference objects
    (a country, a CVE) are never revoked: other incidents' copies of them stay."""
    template = {r["share_id"]: r for r in rows}
    out = []
    for oid, key, data in dropped:
        if data.get("type") == "relationship":
            revoked = {**data, "revoked": True, "modified": ts(now)}
            base = template[key]
            out.append(
                {
                    **{k: base[k] for k in ("tlp", "owner_org_id", "created_by_id", "exercise", "origin", "share_id")},
                    "id": oid,
                    "modified": now,
                    "type": "relationship",
                    "spec_version": "2.1",
                    "custom": False,
                    "revoked": True,
                    "data": revoked,
                    "latest": True,
                    "origin_node": None,
                    "signature": None,
                    "signed": False,
                    "shares": None,
                }
            )
        else:
            session.execute(
                delete(StixObject).where(
                    StixObject.id == oid, StixObject.share_id == key, StixObject.origin_node.is_(None)
                )
            )
    return out


def _store(session: Session, rows: list[dict[str, Any]]) -> int:
    """Store these mapped versions, each derived object in the copy of its object, and re-serve the stored ones
    whose share list changed; returns how many versions were new."""
    from cybercrisis.exchange.importer import added_now

    if not rows:
        return 0
    by_key = {(r["id"], r["modified"], r["share_id"]): r for r in rows}  # an id twice in one incident: once
    keys = sorted({r["share_id"] for r in rows})
    lists = copies.share_lists(session, keys)
    stored: dict[tuple[str, str], list[Any]] = {}  # (id, share key) -> its stored versions
    changed: set[str] = set()  # share keys whose stored versions travel with another list than the current one
    before: dict[str, list[dict[str, str]]] = {}  # their recipients so far
    for n in range(0, len(keys), 500):
        for oid, modified, key, shares in session.execute(
            select(StixObject.id, StixObject.modified, StixObject.share_id, StixObject.shares).where(
                StixObject.share_id.in_(keys[n : n + 500]), StixObject.origin_node.is_(None)
            )
        ):
            stored.setdefault((oid, key), []).append(modified)
            if shares != lists[key]:
                changed.add(key)
                before.setdefault(key, []).extend(shares or [])
    new = [r for (oid, modified, key), r in by_key.items() if modified not in stored.get((oid, key), [])]
    dropped = _dropped(session, rows)
    if not new and not changed and not dropped:
        return 0
    audit.lock(session)  # already held when an audit event was written in this transaction: seq in commit order
    now = added_now(session)
    new += _latest_only_versions(rows, new, changed, now)
    new += _retract(session, dropped, rows, now)
    owners = {r["share_id"]: (r["owner_org_id"], r["exercise"]) for r in rows}
    for key in sorted(changed):
        copies.reserve(session, key=key, shares=lists[key], now=now)
        # Those who lost access hear of it too: revocation travels (exchange/withdrawals.py).
        owner, exercise = owners[key]
        withdrawals.store(
            session, key=key, before=before[key], after=lists[key], owner=owner, exercise=exercise, now=now
        )
    for r in new:
        r["added_at"] = now
        r["shares"] = lists[r["share_id"]]
        r["latest"] = not [m for m in stored.get((r["id"], r["share_id"]), []) if m > r["modified"]]
    if new:
        session.execute(insert(StixObject.__table__), new)  # type: ignore[arg-type]
    federation_wake.soon(session)  # peers get new versions, and re-served lists, in seconds
    for r in new:
        if r["type"] in LATEST_ONLY:
            _only_latest(session, r)
        elif r["latest"] and stored.get((r["id"], r["share_id"])):
            session.execute(
                update(StixObject)
                .where(
                    StixObject.id == r["id"],
                    StixObject.share_id == r["share_id"],
                    StixObject.modified < r["modified"],
                    StixObject.latest.is_(True),
                )
                .values(latest=False)
            )
    return len(new)
