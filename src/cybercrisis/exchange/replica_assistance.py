"""A request for assistance held at another node, rebuilt from its origin's signed `x-cybercrisis-assistance-request`
object (ADR 0013 step 5; exchange/stix_assistance.py).

Each version replaces the replica's fields. A request that is this node's own, or another node's, is never
overwritten. Its crisis and incidents are kept when held here (local or replicas); whom it is addressed to is its
share list, as its origin signed it. An offer made here is an answer, made at the origin (exchange/answers_in.py);
the offer itself comes back as a replica of its own (`apply_offer`), under the request it was made on, for those
who read it (its offerer and the requester): so the offerer's node shows it accepted or declined.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.tlp import TLP
from cybercrisis.assistance import requesting
from cybercrisis.assistance.models import AssistanceRequest, Offer, OfferState
from cybercrisis.crises.audience import community_orgs
from cybercrisis.crises.models import Crisis
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Community, Organisation
from cybercrisis.exchange.import_plan import Received, fit
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.replica_crisis import (
    MAX_CHILDREN,
    held,
    list_of,
    parse_time,
    prune,
    set_shares,
    signed_entries,
    stamp,
    text,
)
from cybercrisis.exchange.stix_assistance import offer_sdo_id, sdo_id
from cybercrisis.exchange.stix_common import OFFER_TYPE
from cybercrisis.incidents.models import Incident

log = logging.getLogger(__name__)

_SHORT = {"entity_type": 16, "impact": 16, "urgency": 16, "state": 16}


def apply(session: Session, obj: Mapping[str, Any], rec: Received) -> bool:
    """Bring the replica of the request this object carries up to date; False when it is not applied."""
    node = rec.block["node"]
    rid = obj.get("request_id")
    if (
        not isinstance(rid, str)
        or not rid.startswith("assistance-request--")
        or len(rid) > 120
        or obj.get("id") != sdo_id(rid)
    ):
        log.warning(
            "request object %s from node %s does not carry its own request: not replicated", obj.get("id"), node
        )
        return False
    modified = parse_time(obj.get("modified")) or utcnow()
    existing, done = held(session, AssistanceRequest, rid, obj, rec, modified)
    if done is not None:
        return bool(done)
    entries = signed_entries(rec)
    req = existing or AssistanceRequest(id=rid)
    _fill(session, req, obj, entries)
    stamp(session, req, existing, obj, rec, modified)
    set_shares(session, [rid], entries)
    prune(session, obj, node, modified)
    if existing is None and req.state == "open":  # its addressees here hear of it while it takes offers
        requesting.announce(session, req, _addressees(session, req.owner_org_id, entries))
    return True


def _addressees(session: Session, owner: str, entries: list[tuple[str, str]]) -> list[str]:
    """The organisations a request's signed list addresses: those named, and the members of the communities named;
    never the requester."""
    named = {t for k, t in entries if k == "organisation"}
    named |= community_orgs(session, [t for k, t in entries if k == "community"])
    return sorted(named - {owner})


def _fill(session: Session, req: AssistanceRequest, obj: Mapping[str, Any], entries: list[tuple[str, str]]) -> None:
    """The request's own fields from its object; its crisis and incidents when held here."""
    country = obj.get("country")
    req.country = country.upper() if isinstance(country, str) and len(country) == 2 else None
    req.needs = [n for n in list_of(obj.get("needs")) if isinstance(n, str) and len(n) <= 32][:20]
    req.description = text(obj.get("description"), 100_000)
    req.affected_entity = text(obj.get("affected_entity"), 300)
    for field, limit in _SHORT.items():
        setattr(req, field, text(obj.get(field), limit, getattr(req, field, None) or _DEFAULTS[field]))
    # Judgements the origin left out are not assessed there: "" here too, never a default that says otherwise.
    req.severity = text(obj.get("threat_severity"), 16)
    req.spillover = text(obj.get("spillover"), 16)
    potential = obj.get("potential_impact")
    req.potential_impact = potential[:16] if isinstance(potential, str) else None
    req.measures_taken = text(obj.get("measures_taken"), 100_000)
    req.other_support = text(obj.get("other_support"), 100_000)
    req.summary_report = text(obj.get("summary_report"), 100_000)
    known = set(session.scalars(select(Organisation.id)))
    by = obj.get("transmitted_by")
    req.transmitted_by_org_id = by if isinstance(by, str) and by in known else None
    req.transmitted_by_id = None
    for field in (
        "transmitted_at",
        "response_due_at",
        "support_started_at",
        "support_ended_at",
        "summary_due_at",
        "summary_at",
    ):
        setattr(req, field, parse_time(obj.get(field)))
    crisis = obj.get("crisis_ref")
    req.crisis_id = crisis if isinstance(crisis, str) and session.get(Crisis, crisis) is not None else None
    wanted = [i for i in list_of(obj.get("incident_refs")) if isinstance(i, str)][:MAX_CHILDREN]
    held = set(session.scalars(select(Incident.id).where(Incident.id.in_(wanted)))) if wanted else set()
    req.incident_ids = [i for i in wanted if i in held]
    given = obj.get("addressed_to")
    addressed: Mapping[str, Any] = given if isinstance(given, dict) else {}
    listed = set(entries)  # whom its origin addressed, as far as they are recipients here
    req.recipients = {
        "organisations": [o for o in list_of(addressed.get("organisations")) if ("organisation", o) in listed],
        "communities": [c for c in list_of(addressed.get("communities")) if ("community", c) in listed],
        "reserve": obj.get("reserve") is True,
    }


_OFFER_STATES = frozenset(s.value for s in OfferState)


def waiting_offers(session: Session, request_ids: list[str]) -> list[tuple[dict[str, Any], Received]]:
    """The offers held in the store, received before the request they were made on (another path, or the request
    shared later), for these requests now held here: each with what came with it, to be applied now."""
    wanted = set(request_ids)
    if not wanted:
        return []
    known = {"organisation": set(session.scalars(select(Organisation.id)))}
    known["community"] = set(session.scalars(select(Community.slug)))
    out: list[tuple[dict[str, Any], Received]] = []
    for row in session.scalars(
        select(StixObject).where(
            StixObject.type == OFFER_TYPE,
            StixObject.latest.is_(True),
            StixObject.origin_node.is_not(None),
            StixObject.data["request_ref"].as_string().in_(sorted(wanted)),
        )
    ):
        # A signed value of the wrong shape is dropped here too: it must never stop the receipt of a request.
        oid, rid = row.data.get("offer_id"), row.data.get("request_ref")
        if not isinstance(oid, str) or not isinstance(rid, str) or rid not in wanted:
            continue
        if session.get(Offer, oid) is not None:
            continue  # already held here
        listed = [(e.get("kind"), e.get("target")) for e in row.shares or [] if isinstance(e, dict)]
        entries = [(k, t) for k, t in listed if isinstance(k, str) and isinstance(t, str) and t in known.get(k, set())]
        block = {"node": str(row.origin_node), "owner": row.owner_org_id, "tlp": row.tlp}
        out.append((dict(row.data), Received(block, fit(entries, TLP(row.tlp)), [])))
    return out


def apply_offer(session: Session, obj: Mapping[str, Any], rec: Received) -> bool:
    """Bring the replica of the offer this object carries up to date, under its request held here from the same
    node; False when it is not applied (the request is not held here: it waits in the store)."""
    node = rec.block["node"]
    oid, rid = obj.get("offer_id"), obj.get("request_ref")
    if not isinstance(oid, str) or not oid.startswith("assistance-offer--") or obj.get("id") != offer_sdo_id(oid):
        log.warning("offer object %s from node %s does not carry its own offer: not replicated", obj.get("id"), node)
        return False
    req = session.get(AssistanceRequest, rid) if isinstance(rid, str) else None
    if req is None or req.origin_node != node:
        log.info("offer %s from node %s names no request of that node held here: not replicated", oid, node)
        return False
    available = parse_time(obj.get("available_from"))
    people = obj.get("people")
    if available is None or not isinstance(people, int) or isinstance(people, bool) or not 0 < people < 100_000:
        log.warning("offer %s from node %s has no availability or people: not replicated", oid, node)
        return False
    modified = parse_time(obj.get("modified")) or utcnow()
    other = session.get(Offer, oid)
    if other is not None and other.request_id != req.id:
        log.warning("offer %s from node %s is held here under another request: not replicated", oid, node)
        return False
    existing, done = held(session, Offer, oid, obj, rec, modified)
    if done is not None:
        return bool(done)
    entries = signed_entries(rec)
    offer = existing or Offer(id=oid, request_id=req.id)
    offer.capability = text(obj.get("capability"), 32, "other")
    offer.capability_id = None  # a catalogue entry of another node's: not held here
    offer.people = people
    offer.available_from = available
    offer.conditions = text(obj.get("conditions"), 20_000)
    state = obj.get("state")
    offer.state = state if isinstance(state, str) and state in _OFFER_STATES else OfferState.OFFERED.value
    offer.decided_at = parse_time(obj.get("decided_at"))
    offer.decided_by_id = None
    offer.decision_comment = text(obj.get("decision_comment"), 20_000)
    stamp(session, offer, existing, obj, rec, modified)
    set_shares(session, [oid], entries)
    prune(session, obj, node, modified)
    return True


_DEFAULTS = {
    "entity_type": "essential",
    "impact": "yellow",
    "urgency": "urgent",
    "state": "open",
}
