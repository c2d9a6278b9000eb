"""A request after it was sent: transmitted to the Reserve by its SPOC, withdrawn, support ended, summary reported."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import ORG
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.assistance.models import AssistanceRequest, Offer, OfferState, RequestState
from cybercrisis.assistance.service import (
    CLOCK_SKEW,
    OFFER_WITHDRAW,
    REQUEST_SUMMARY,
    REQUEST_SUPPORT_ENDED,
    REQUEST_TRANSMIT,
    REQUEST_WITHDRAW,
    RESPONSE_HOURS,
    SUMMARY_MONTHS,
    as_requester,
    aware,
    bad,
    lock_request,
    months_after,
    org_name,
    reserve_handlers,
)
from cybercrisis.audit import service as audit
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, PermissionDenied
from cybercrisis.notify.service import notify_readers


def transmit_request(
    session: Session, *, actor: Principal, request_id: str, response_hours: int = RESPONSE_HOURS
) -> AssistanceRequest:
    """The requester's single point of contact transmits a Reserve request to the contracting authority (Reg. (EU)
    2025/38 Art. 15(3)(a)): the Reserve's administrators then read it and are told; the response is due within
    `response_hours` of the transmission (the deployment's target, Settings.reserve_response_hours)."""
    req = lock_request(session, actor, request_id)
    authority.authorize(actor, "assistance.request.transmit", authority.owned(actor, req.owner_org_id))
    org = session.get(Organisation, actor.org_id) if actor.org_id else None
    if org is None or org.type != OrgType.SPOC or not req.country or org.country != req.country:
        where = f"{org.short_name} ({org.type}, {org.country or 'no country'})" if org else "no organisation"
        raise PermissionDenied(
            f"only a single point of contact of {req.country or 'the requester'}'s Member State transmits this "
            f"request (Reg. (EU) 2025/38 Art. 15(3)(a)); you act for {where}"
        )
    if not req.recipients.get("reserve"):
        raise Conflict("the request is not addressed to the EU Cybersecurity Reserve; there is nothing to transmit")
    if req.transmitted_at is not None:
        raise Conflict(f"the request was transmitted on {req.transmitted_at.isoformat()}")
    if req.state != RequestState.OPEN:
        raise Conflict(f"the request is {req.state}; only an open request is transmitted")
    handlers = reserve_handlers(session)
    if not handlers:
        raise bad("recipients.reserve", "no administrator of the EU Cybersecurity Reserve is in this node's directory")
    now = utcnow()
    req.transmitted_by_org_id, req.transmitted_by_id, req.transmitted_at = org.id, actor.user_id, now
    req.response_due_at = now + timedelta(hours=response_hours)
    req.modified_at = now
    session.flush()
    # Widening to the contracting authority is the Act's own route (Art. 15(3)), not a choice of the SPOC.
    sharing.write(session, object_id=req.id, entries=[(ORG, h) for h in handlers], added_by=org.id)
    audit.record(
        session,
        actor=actor,
        tag=REQUEST_TRANSMIT,
        object_id=req.id,
        summary={
            "transmitted_by": org.id,
            "country": org.country,
            "to": handlers,
            "response_due_at": req.response_due_at.isoformat(),
        },
    )
    who, requester = org.short_name, org_name(session, req.owner_org_id)
    notify_readers(
        session,
        obj=req,
        event=REQUEST_TRANSMIT,
        org_ids=handlers,
        subject=f"[{TLP(req.tlp).label}] Request for Reserve support from {requester} ({req.country}), "
        f"transmitted by {who}",
        body=(
            f"{who} transmitted {requester}'s request for EU Cybersecurity Reserve support "
            "(Reg. (EU) 2025/38 Art. 15(3)(a)).\nA response is expected by "
            f"{req.response_due_at.isoformat()} (this deployment's target).\nRequest: {req.id}\n"
        ),
        payload={"request": req.id, "transmitted_by": org.id, "response_due_at": req.response_due_at.isoformat()},
        dedupe=f"{REQUEST_TRANSMIT}:{req.id}",
        actor=actor,
    )
    return req


def withdraw_request(session: Session, *, actor: Principal, request_id: str) -> AssistanceRequest:
    """The requester withdraws an open request; pending offers are withdrawn with it and their offerers told."""
    req = as_requester(session, actor, request_id)
    if req.state != RequestState.OPEN:
        raise Conflict(f"the request is {req.state}; only an open request is withdrawn")
    now = utcnow()
    pending = list(
        session.scalars(select(Offer).where(Offer.request_id == req.id, Offer.state == OfferState.OFFERED.value))
    )
    req.state = RequestState.WITHDRAWN.value
    req.modified_at = now
    for o in pending:
        o.state = OfferState.WITHDRAWN.value
        o.modified_at = now
    session.flush()
    # The request's event says nothing about offers: other recipients do not learn that there were any.
    audit.record(session, actor=actor, tag=REQUEST_WITHDRAW, object_id=req.id, summary={"state": req.state})
    for o in pending:
        audit.record(
            session,
            actor=actor,
            tag=OFFER_WITHDRAW,
            object_id=o.id,
            summary={"request": req.id, "state": o.state, "reason": "request-withdrawn"},
        )
    who = org_name(session, req.owner_org_id)
    for o in pending:
        # About the offer too, which the offerer reads whatever became of its access to the request.
        notify_readers(
            session,
            obj=o,
            event=REQUEST_WITHDRAW,
            org_ids=[o.owner_org_id],
            subject=f"[{TLP(req.tlp).label}] {who} withdrew its request for assistance",
            body=f"{who} withdrew request {req.id}; your offer {o.id} ({o.capability}) is withdrawn with it.\n",
            object_id=req.id,
            payload={"request": req.id, "offer": o.id, "state": req.state},
            dedupe=f"{REQUEST_WITHDRAW}:{req.id}:{o.id}",
            actor=actor,
        )
    return req


def end_support(
    session: Session,
    *,
    actor: Principal,
    request_id: str,
    ended_at: datetime | None = None,
    summary_months: int = SUMMARY_MONTHS,
) -> AssistanceRequest:
    """Support has ended: the summary report is due `summary_months` calendar months later (the deployment's rule,
    Settings.reserve_summary_months)."""
    req = as_requester(session, actor, request_id)
    if req.state != RequestState.IN_SUPPORT:
        raise Conflict(f"the request is {req.state}; support ends only while the request is in support")
    now = utcnow()
    ended = aware("ended_at", ended_at) if ended_at is not None else now
    if ended > now + CLOCK_SKEW:
        raise bad("ended_at", "support cannot end in the future")
    if req.support_started_at is not None and ended < req.support_started_at:
        raise bad("ended_at", f"support started at {req.support_started_at.isoformat()}; it cannot end before")
    req.state = RequestState.SUPPORT_ENDED.value
    req.support_ended_at = ended
    req.summary_due_at = months_after(ended, summary_months)
    req.modified_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=REQUEST_SUPPORT_ENDED,
        object_id=req.id,
        summary={
            "state": req.state,
            "ended_at": ended.isoformat(),
            "summary_months": summary_months,
            "summary_due_at": req.summary_due_at.isoformat(),
        },
    )
    return req


def record_summary(session: Session, *, actor: Principal, request_id: str, report: str) -> AssistanceRequest:
    """The requester records the summary report; the request is closed."""
    req = as_requester(session, actor, request_id)
    if req.state != RequestState.SUPPORT_ENDED:
        raise Conflict(f"the request is {req.state}; the summary report is recorded after support ended")
    text = report.strip()
    if not text:
        raise bad("report", "the summary report is empty")
    now = utcnow()
    req.state = RequestState.CLOSED.value
    req.summary_report = text
    req.summary_at = now
    req.modified_at = now
    session.flush()
    audit.record(
        session, actor=actor, tag=REQUEST_SUMMARY, object_id=req.id, summary={"state": req.state, "chars": len(text)}
    )
    return req
