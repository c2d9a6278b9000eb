"""Mutual assistance API: requests for assistance, offers, deployment to closure, the capability catalogue and
the ranking of requests to the EU Cybersecurity Reserve (the catalogue itself is capabilities_api.py's).
Everything read goes through the access layer: an object the reader may not see is 404, and a request's view lists
only the offers the reader may see."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.access.principal import Principal
from cybercrisis.answers import service as answers
from cybercrisis.answers.models import Answer
from cybercrisis.assistance import lifecycle, ranking, requesting, service
from cybercrisis.assistance import offers as offering
from cybercrisis.assistance.capabilities_api import capability_out
from cybercrisis.assistance.deps import CurrentRequest
from cybercrisis.assistance.models import AssistanceRequest, Offer
from cybercrisis.assistance.schemas import (
    CapabilityOut,
    CriterionOut,
    DecisionIn,
    OfferIn,
    OfferOut,
    RankedOut,
    RankingOut,
    RequestIn,
    RequestOut,
    RequestPage,
    SummaryIn,
    SupportEndedIn,
)
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.config import Settings
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.schemas import AnswerOut, TimelineEntry, held_at

router = APIRouter(prefix="/api/v1", tags=["assistance"])


def offer_out(o: Offer, names: dict[str, str]) -> OfferOut:
    return OfferOut(
        id=o.id,
        request=o.request_id,
        offerer=o.owner_org_id,
        offerer_name=names.get(o.owner_org_id, ""),
        capability=o.capability,
        capability_id=o.capability_id,
        people=o.people,
        available_from=o.available_from,
        conditions=o.conditions,
        state=o.state,
        decided_at=o.decided_at,
        decision_comment=o.decision_comment,
        tlp=o.tlp,
        created=o.created_at,
        modified=o.modified_at,
        version=o.version,
    )


def _request_out(
    r: AssistanceRequest,
    shares: list[Share],
    offers: list[Offer],
    names: dict[str, str],
    matches: list[CapabilityOut] | None = None,
) -> RequestOut:
    return RequestOut(
        id=r.id,
        state=r.state,
        country=r.country,
        needs=r.needs,
        urgency=r.urgency,
        description=r.description,
        affected_entity=r.affected_entity,
        entity_type=r.entity_type,
        impact=r.impact,
        severity=r.severity or None,
        potential_impact=r.potential_impact,
        transmitted_by=r.transmitted_by_org_id,
        transmitted_by_name=names.get(r.transmitted_by_org_id) if r.transmitted_by_org_id else None,
        transmitted_at=r.transmitted_at,
        response_due_at=r.response_due_at,
        spillover=r.spillover or None,
        measures_taken=r.measures_taken,
        other_support=r.other_support,
        crisis=r.crisis_id,
        incidents=r.incident_ids,
        recipients=r.recipients,
        tlp=r.tlp,
        share_with=sharing.share_list(shares),
        owner=r.owner_org_id,
        owner_name=names.get(r.owner_org_id, ""),
        created_by=r.created_by_id,
        created=r.created_at,
        modified=r.modified_at,
        version=r.version,
        exercise=r.exercise,
        support_started_at=r.support_started_at,
        support_ended_at=r.support_ended_at,
        summary_due_at=r.summary_due_at,
        summary_report=r.summary_report,
        summary_at=r.summary_at,
        offers=[offer_out(o, names) for o in offers],
        matches=matches,
    )


def requests_out(db: DB, reader: Principal, rows: list[AssistanceRequest]) -> list[RequestOut]:
    """A page of requests with their share lists, visible offers and names: a fixed number of queries."""
    ids = [r.id for r in rows]
    shares = sharing.shares_of_many(db, ids)
    offers = service.visible_offers(db, reader, ids)
    names = service.org_names(
        db,
        [r.owner_org_id for r in rows]
        + [o.owner_org_id for v in offers.values() for o in v]
        + [r.transmitted_by_org_id for r in rows if r.transmitted_by_org_id],
    )
    return [_request_out(r, shares[r.id], offers[r.id], names) for r in rows]


def request_out(db: DB, reader: Principal, r: AssistanceRequest, *, with_matches: bool = False) -> RequestOut:
    offers = service.visible_offers(db, reader, [r.id])[r.id]
    found = service.matches(db, reader, r) if with_matches else []
    names = service.org_names(
        db,
        [
            r.owner_org_id,
            *(o.owner_org_id for o in offers),
            *(c.owner_org_id for c in found),
            *([r.transmitted_by_org_id] if r.transmitted_by_org_id else []),
        ],
    )
    matches = None
    if with_matches:
        cap_shares = sharing.shares_of_many(db, [c.id for c in found])
        matches = [capability_out(c, cap_shares[c.id], names) for c in found]
    out = _request_out(r, sharing.shares_of(db, r.id), offers, names, matches)
    if r.origin_node is not None:
        # Offers sent there (about the request) and withdrawals of its offers (about each offer).
        sent = answers.of_organisation(db, principal=reader, object_ids=[r.id, *(o.id for o in offers)])
        out = out.model_copy(update={"held_at": held_at(db, r), "answers": [AnswerOut.of(a) for a in sent]})
    return out


def _offer(db: DB, o: Offer) -> OfferOut:
    return offer_out(o, service.org_names(db, [o.owner_org_id]))


# --- requests -----------------------------------------------------------------------------------------------


@router.post(
    "/assistance-requests", status_code=201, operation_id="create_assistance_request", response_model=RequestOut
)
def create_request(request: Request, body: RequestIn, db: DB, principal: CurrentPrincipal) -> RequestOut:
    """Ask for assistance on behalf of your Member State (national CSIRT, SPOC, competent or crisis authority).

    `recipients` names organisations, communities (not with TLP:AMBER+STRICT) and/or the EU Cybersecurity Reserve
    (`"reserve": true`). The Reserve's users ask it: a Member State's CSIRT or cyber crisis management authority, or
    CERT-EU (Reg. (EU) 2025/38 Art. 14(3)); an SPOC is refused (403) as requester. A Member State user's Reserve
    request goes to its SPOC, which transmits it to the Commission and ENISA (Art. 15(3)(a), see `/transmit`);
    CERT-EU's is transmitted at once (Art. 15(3)(b)). A Reserve request without `measures_taken` is refused with
    422 (Art. 15(2)). The recipients become the request's share list and are notified
    (`assistance:request:create`). TLP:RED is refused: a request must reach its recipients. `country` is your
    organisation's. Any bad value is a 422 naming the field, and nothing is written."""
    s: Settings = request.app.state.settings
    r = requesting.create_request(db, actor=principal, data=body, response_hours=s.reserve_response_hours)
    return request_out(db, principal, r)


@router.get("/assistance-requests", operation_id="list_assistance_requests", response_model=RequestPage)
def list_requests(
    db: DB,
    principal: CurrentPrincipal,
    state: Annotated[str | None, Query(description="open, in-support, support-ended, closed or withdrawn")] = None,
    crisis: Annotated[str | None, Query(max_length=120, description="requests linked to this crisis")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RequestPage:
    """Requests you may see, newest first; pass `next` back as `cursor` for the following page."""
    page = service.list_requests(db, reader=principal, state=state, crisis=crisis, cursor=cursor, limit=limit)
    return RequestPage(items=requests_out(db, principal, page.items), next=page.next)


@router.get(
    "/assistance-requests/reserve-ranking", operation_id="assistance_reserve_ranking", response_model=RankingOut
)
def reserve_ranking(
    request: Request, db: DB, principal: CurrentPrincipal, limit: Annotated[int, Query(ge=1, le=500)] = 500
) -> RankingOut:
    """Open and in-support requests to the EU Cybersecurity Reserve that you may see and that were transmitted
    (Reg. (EU) 2025/38 Art. 15(3)), ordered by the criteria of Art. 16: the severity of the incident (its impact
    severity, red > yellow > green > white), the type of entity (essential > important), the potential impact on
    the Member State(s) or users (high > medium > low), the cross-border spill-over risk (high > ... > none). The
    Act lists these criteria without an order: the order applied is the deployment's (CYBERCRISIS_RESERVE_PRIORITY)
    and `order` says so. The measures taken (point (e)) are shown, not sorted on: every request states them
    (Art. 15(2)). Ties go to the earlier request. Computed on each call, never stored."""
    s: Settings = request.app.state.settings
    priority = ranking.parse_priority(s.reserve_priority)
    rows = service.reserve_queue(db, reader=principal, limit=limit)
    ranked = ranking.rank(
        [
            ranking.RankInput(
                id=r.id,
                severity=r.impact,
                entity_type=r.entity_type,
                potential_impact=r.potential_impact or "",
                spillover=r.spillover,
                measures_taken=r.measures_taken,
                created_at=r.created_at,
            )
            for r in rows
        ],
        priority,
    )
    by_id = {o.id: o for o in requests_out(db, principal, rows)}
    return RankingOut(
        criteria=list(priority),
        order=ranking.ORDER_LABEL,
        legal_basis={**{n: ranking.RULES[n].legal_basis for n in priority}, "measures_taken": ranking.MEASURES_BASIS},
        note="Ranked among the transmitted requests you may see; the Reserve's administrators may see more. The "
        "contracting authority assesses the requests; this order is an aid, not its decision.",
        items=[
            RankedOut(
                rank=x.rank,
                request=by_id[x.item.id],
                reason=x.reason,
                explanation=[
                    CriterionOut(criterion=c.criterion, legal_basis=c.legal_basis, value=c.value, note=c.note)
                    for c in x.explanation
                ],
            )
            for x in ranked
        ],
    )


@router.get("/assistance-requests/{request_id}", operation_id="get_assistance_request", response_model=RequestOut)
def get_request(r: CurrentRequest, db: DB, principal: CurrentPrincipal) -> RequestOut:
    """A request with the offers you may see (the requester sees all, an offerer its own) and `matches`: active
    catalogue entries you may see whose kind the request needs, shortest notice first, then most people."""
    return request_out(db, principal, r, with_matches=True)


@router.get(
    "/assistance-requests/{request_id}/timeline",
    operation_id="assistance_request_timeline",
    response_model=list[TimelineEntry],
)
def request_timeline(r: CurrentRequest, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
    """What happened to the request, and to the offers on it that you may see, oldest first."""
    offers = service.visible_offers(db, principal, [r.id])[r.id]
    events = audit.timeline_of(db, reader=principal, object_ids=[r.id, *(o.id for o in offers)])
    return [timeline_out(e) for e in events]


@router.post(
    "/assistance-requests/{request_id}/transmit", operation_id="transmit_assistance_request", response_model=RequestOut
)
def transmit_request(request: Request, request_id: str, db: DB, principal: CurrentPrincipal) -> RequestOut:
    """The requester's single point of contact transmits its request to the EU Cybersecurity Reserve's contracting
    authority (Reg. (EU) 2025/38 Art. 15(3)(a)). Only an SPOC of the requester's Member State may (403 otherwise);
    the Commission and ENISA then read the request and are notified (`assistance:request:transmit`); the response
    is due within CYBERCRISIS_RESERVE_RESPONSE_HOURS (the deployment's target, counted from the transmission).
    Audited with who and when."""
    s: Settings = request.app.state.settings
    r = lifecycle.transmit_request(db, actor=principal, request_id=request_id, response_hours=s.reserve_response_hours)
    return request_out(db, principal, r)


@router.post(
    "/assistance-requests/{request_id}/withdraw", operation_id="withdraw_assistance_request", response_model=RequestOut
)
def withdraw_request(request_id: str, db: DB, principal: CurrentPrincipal) -> RequestOut:
    """The requester withdraws an open request; offers still pending are withdrawn and their offerers told."""
    r = lifecycle.withdraw_request(db, actor=principal, request_id=request_id)
    return request_out(db, principal, r)


@router.post(
    "/assistance-requests/{request_id}/support-ended", operation_id="end_assistance_support", response_model=RequestOut
)
def support_ended(
    request: Request, request_id: str, body: SupportEndedIn, db: DB, principal: CurrentPrincipal
) -> RequestOut:
    """The requester says support ended (default: now). The summary report is then due
    CYBERCRISIS_RESERVE_SUMMARY_MONTHS calendar months later (the deployment's rule; same day, clamped to the
    month's end); a reminder goes out CYBERCRISIS_ASSISTANCE_REMIND_DAYS before (the deployment's rule)."""
    s: Settings = request.app.state.settings
    r = lifecycle.end_support(
        db, actor=principal, request_id=request_id, ended_at=body.ended_at, summary_months=s.reserve_summary_months
    )
    return request_out(db, principal, r)


@router.post(
    "/assistance-requests/{request_id}/summary", operation_id="record_assistance_summary", response_model=RequestOut
)
def record_summary(request_id: str, body: SummaryIn, db: DB, principal: CurrentPrincipal) -> RequestOut:
    """The requester records the summary report of the support received; the request is closed."""
    r = lifecycle.record_summary(db, actor=principal, request_id=request_id, report=body.report)
    return request_out(db, principal, r)


# --- offers -------------------------------------------------------------------------------------------------


@router.post(
    "/assistance-requests/{request_id}/offers",
    status_code=201,
    operation_id="create_assistance_offer",
    response_model=OfferOut,
    responses={
        202: {
            "model": AnswerOut,
            "description": "the request is held at another node (`held_at`): the offer is sent there, which makes "
            "it; `state` says whether it is queued, applied or refused (ADR 0013)",
        }
    },
)
def create_offer(request_id: str, body: OfferIn, db: DB, principal: CurrentPrincipal) -> OfferOut | JSONResponse:
    """Offer help on an open request you may see (not your own). The capability must be one of the request's
    needs. The offer is TLP:AMBER+STRICT, shared with the requester only: other recipients do not see it. The
    requester is notified (`assistance:offer:create`). On a request held at another node, 202 with the answer sent
    there; the request's `answers` lists it until that node has made the offer or refused it."""
    made = offering.make_offer(db, actor=principal, request_id=request_id, data=body)
    if isinstance(made, Answer):
        return JSONResponse(status_code=202, content=AnswerOut.of(made).model_dump(mode="json"))
    return _offer(db, made)


@router.get(
    "/assistance-requests/{request_id}/offers/{offer_id}", operation_id="get_assistance_offer", response_model=OfferOut
)
def get_offer(request_id: str, offer_id: str, db: DB, principal: CurrentPrincipal) -> OfferOut:
    return _offer(db, offering.get_offer(db, principal, request_id, offer_id))


@router.post(
    "/assistance-requests/{request_id}/offers/{offer_id}/accept",
    operation_id="accept_assistance_offer",
    response_model=OfferOut,
)
def accept_offer(
    request_id: str, offer_id: str, db: DB, principal: CurrentPrincipal, body: DecisionIn | None = None
) -> OfferOut:
    """The requester accepts an offer (several may be accepted); the first acceptance puts the request in
    support. The offerer is notified (`assistance:offer:accept`)."""
    o = offering.decide_offer(
        db, actor=principal, request_id=request_id, offer_id=offer_id, accept=True, comment=body.comment if body else ""
    )
    return _offer(db, o)


@router.post(
    "/assistance-requests/{request_id}/offers/{offer_id}/decline",
    operation_id="decline_assistance_offer",
    response_model=OfferOut,
)
def decline_offer(
    request_id: str, offer_id: str, db: DB, principal: CurrentPrincipal, body: DecisionIn | None = None
) -> OfferOut:
    """The requester declines an offer; the offerer is notified (`assistance:offer:decline`)."""
    o = offering.decide_offer(
        db,
        actor=principal,
        request_id=request_id,
        offer_id=offer_id,
        accept=False,
        comment=body.comment if body else "",
    )
    return _offer(db, o)


@router.post(
    "/assistance-requests/{request_id}/offers/{offer_id}/withdraw",
    operation_id="withdraw_assistance_offer",
    response_model=OfferOut,
    responses={
        202: {
            "model": AnswerOut,
            "description": "the offer is held at the requester's node (it was made there from this node's offer): "
            "the withdrawal is sent there, directly; `state` says whether it is queued, applied or refused (ADR 0013)",
        }
    },
)
def withdraw_offer(request_id: str, offer_id: str, db: DB, principal: CurrentPrincipal) -> OfferOut | JSONResponse:
    """The offering organisation withdraws its offer while it is still offered; the requester is notified. On an
    offer held at the requester's node, 202 with the answer sent there; the request's `answers` lists it."""
    done = offering.withdraw_offer(db, actor=principal, request_id=request_id, offer_id=offer_id)
    if isinstance(done, Answer):
        return JSONResponse(status_code=202, content=AnswerOut.of(done).model_dump(mode="json"))
    return _offer(db, done)
