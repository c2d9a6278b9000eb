"""An assistance request as one STIX object, for the nodes that hold it as a replica (ADR 0013 step 5).

STIX has no request for assistance. One of ours travels as one `x-cybercrisis-assistance-request` object, a new
SDO of our extension (docs/exchange.md), with what a recipient needs to read it and offer help: its needs, urgency,
the incident's impact, the affected entity, the measures taken, the Reserve fields and where it stands. Offers do
not travel in it: an offer is between its offerer and the requester (TLP:AMBER+STRICT), made on the requester's
node (an answer, exchange/answers_in.py).

- Its id is derived from the request's own (`request_id`), its `modified` is the request's; it is marked and shared
  like the request. Users do not travel: who transmitted it is the organisation.
- An offer travels as an `x-cybercrisis-assistance-offer` object of its own (`offer_object`), shared like the offer
  (TLP:AMBER+STRICT: its offerer and the requester), so that an offer made at the requester's node from another
  node's answer goes back to the offerer's node, with what became of it.
- It names its crisis and its incidents only when every reader of the request may read them too, by the share
  lists (`stix_crisis.nameable`); like a crisis's object, a new list makes a new version and only the latest is
  kept, so no version is served to a wider list than it was made for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cybercrisis.assistance.models import AssistanceRequest, Offer
from cybercrisis.crises.models import Crisis
from cybercrisis.exchange.stix_common import (
    OFFER_EXTENSION_ID,
    OFFER_TYPE,
    REQUEST_EXTENSION_ID,
    REQUEST_TYPE,
    derived_id,
    marking_id,
    ts,
)
from cybercrisis.exchange.stix_crisis import nameable, no_nulls
from cybercrisis.incidents.models import Incident


def sdo_id(request_id: str) -> str:
    return derived_id(REQUEST_TYPE, request_id)


def _t(value: datetime | None) -> str | None:
    return ts(value) if value is not None else None


def request_object(session: Session, req: AssistanceRequest) -> dict[str, Any]:
    """The request as one STIX object (see the module's text)."""
    crisis = nameable(session, req, [req.crisis_id], Crisis) if req.crisis_id else []
    out: dict[str, Any] = {
        "type": REQUEST_TYPE,
        "spec_version": "2.1",
        "id": sdo_id(req.id),
        "created": ts(req.created_at),
        "modified": ts(max(req.modified_at, req.created_at)),
        "created_by_ref": req.owner_org_id,
        "object_marking_refs": [marking_id(req.tlp)],
        "extensions": {REQUEST_EXTENSION_ID: {"extension_type": "new-sdo"}},
        "request_id": req.id,
        "country": req.country,
        "needs": list(req.needs),
        "description": req.description,
        "affected_entity": req.affected_entity,
        "entity_type": req.entity_type,
        "impact": req.impact,
        "threat_severity": req.severity or None,  # `severity` is a name STIX reserves; none: not assessed
        "spillover": req.spillover or None,
        "potential_impact": req.potential_impact,
        "measures_taken": req.measures_taken,
        "other_support": req.other_support,
        "urgency": req.urgency,
        # Whom the requester addressed, among the recipients (the SPOCs and the Reserve's handlers read it too).
        "addressed_to": {
            "organisations": sorted((req.recipients or {}).get("organisations") or []),
            "communities": sorted((req.recipients or {}).get("communities") or []),
        },
        "reserve": bool((req.recipients or {}).get("reserve")),
        "state": req.state,
        "transmitted_by": req.transmitted_by_org_id,
        "transmitted_at": _t(req.transmitted_at),
        "response_due_at": _t(req.response_due_at),
        "support_started_at": _t(req.support_started_at),
        "support_ended_at": _t(req.support_ended_at),
        "summary_due_at": _t(req.summary_due_at),
        "summary_at": _t(req.summary_at),
        "summary_report": req.summary_report,
        "crisis_ref": crisis[0] if crisis else None,
        "incident_refs": nameable(session, req, list(req.incident_ids), Incident),
    }
    if req.exercise:
        out["labels"] = ["exercise"]
    cleaned: dict[str, Any] = no_nulls(out)
    return cleaned


def offer_sdo_id(offer_id: str) -> str:
    return derived_id(OFFER_TYPE, offer_id)


def offer_object(session: Session, offer: Offer) -> dict[str, Any]:
    """The offer, and what became of it, as one STIX object; it names its request only when every reader of the
    offer may read the request (else it has none, and no node can hold it)."""
    request = nameable(session, offer, [offer.request_id], AssistanceRequest)
    out: dict[str, Any] = {
        "type": OFFER_TYPE,
        "spec_version": "2.1",
        "id": offer_sdo_id(offer.id),
        "created": ts(offer.created_at),
        "modified": ts(max(offer.modified_at, offer.created_at)),
        "created_by_ref": offer.owner_org_id,
        "object_marking_refs": [marking_id(offer.tlp)],
        "extensions": {OFFER_EXTENSION_ID: {"extension_type": "new-sdo"}},
        "offer_id": offer.id,
        "request_ref": request[0] if request else None,
        "capability": offer.capability,
        "people": offer.people,
        "available_from": ts(offer.available_from),
        "conditions": offer.conditions,
        "state": offer.state,
        "decided_at": _t(offer.decided_at),
        "decision_comment": offer.decision_comment,
    }
    if offer.exercise:
        out["labels"] = ["exercise"]
    cleaned: dict[str, Any] = no_nulls(out)
    return cleaned
