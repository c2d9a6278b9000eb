"""One request for assistance: its page, and the forms that act on it (offers, decisions, the request's life).

Every read goes through the assistance services (and so through the access layer), every write through the same
service functions as the API. A refused form comes back with what was typed and the message next to its field, and
nothing is written; a successful one redirects (303) to the page with a short fixed note of what happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.answers import service as answers
from cybercrisis.answers.models import Answer
from cybercrisis.assistance import catalogue, lifecycle, service
from cybercrisis.assistance import offers as offering
from cybercrisis.assistance.deps import CurrentRequest
from cybercrisis.assistance.forms import (
    ALIASES,
    DONE_NOTES,
    ENTITY_TYPES,
    FORM_TITLES,
    IMPACTS,
    NEED_LABELS,
    POTENTIAL_IMPACTS,
    DecideForm,
    OfferForm,
    SummaryForm,
    SupportEndedForm,
    to_offer_in,
    words,
)
from cybercrisis.assistance.labels import timeline
from cybercrisis.assistance.models import AssistanceRequest, Capability, RequestState
from cybercrisis.audit import service as audit
from cybercrisis.crises.models import Crisis
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import DomainError
from cybercrisis.incidents.models import Incident
from cybercrisis.schemas import held_at
from cybercrisis.web import queries
from cybercrisis.web.forms import FORM_REFUSALS, FormState, bad, local_minutes, parse_utc, require_filled
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])


def own_org(db: Session, principal: Principal) -> Organisation | None:
    return db.get(Organisation, principal.org_id) if principal.org_id else None


def readable_titles(
    db: Session, principal: Principal, model: type[Crisis] | type[Incident] | type[Capability], ids: Iterable[str]
) -> dict[str, str]:
    """Titles of the objects the reader may see, by id; the others are left out."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = db.execute(select(model.id, model.title).where(model.id.in_(wanted), read_filter(principal, model)))
    return {r.id: r.title for r in rows}


def _addressed_to(db: Session, r: AssistanceRequest) -> dict[str, Any]:
    chosen = r.recipients or {}
    orgs = queries.org_refs(db, chosen.get("organisations") or [])
    names = queries.community_names(db)
    return {
        "organisations": sorted(orgs.values(), key=lambda o: (o.country or "", o.short_name.lower())),
        "communities": [(c, names.get(c, c)) for c in chosen.get("communities") or []],
        "reserve": bool(chosen.get("reserve")),
    }


def _offer_defaults(r: AssistanceRequest) -> dict[str, Any]:
    soon = utcnow().astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return {
        "capability": r.needs[0] if len(r.needs) == 1 else "",
        "people": "1",
        "available_from": local_minutes(soon),
        "conditions": "",
        "capability_id": "",
    }


def _months(n: int) -> str:
    """The summary report's period in words (the deployment's rule, CYBERCRISIS_RESERVE_SUMMARY_MONTHS)."""
    return "one calendar month" if n == 1 else f"{n} calendar months"


def render_request(
    request: Request,
    db: Session,
    principal: Principal,
    r: AssistanceRequest,
    *,
    form: tuple[str, FormState] | None = None,
    done: str = "",
    code: int = 200,
) -> Response:
    """The request page; `form` is a refused form (its name and state) to show again with its errors."""
    offers = service.visible_offers(db, principal, [r.id])[r.id]
    found = service.matches(db, principal, r)
    held = held_at(db, r)
    # What the page offers is what the services would let this reader do (they check again on post).
    acts = service.allowed_actions(principal, r, acting=own_org(db, principal))
    is_requester = "assistance.request.manage" in acts
    can_offer = "assistance.offer" in acts
    own_entries: list[Capability] = []
    if can_offer and r.origin_node is None:  # a catalogue entry is this node's: not named on a request held elsewhere
        own = catalogue.list_capabilities(db, reader=principal, owner=principal.org_id, active=True, limit=200).items
        own_entries = [c for c in own if c.kind in r.needs]
    orgs = queries.org_refs(
        db,
        [
            r.owner_org_id,
            *(o.owner_org_id for o in offers),
            *(c.owner_org_id for c in found),
            *([r.transmitted_by_org_id] if r.transmitted_by_org_id else []),
        ],
    )
    crises = readable_titles(db, principal, Crisis, [r.crisis_id or ""])
    incidents = readable_titles(db, principal, Incident, r.incident_ids)
    forms = {
        "offer": FormState(values=_offer_defaults(r)),
        "decide": FormState(values={}),
        "withdraw-offer": FormState(values={}),
        "support-ended": FormState(values={"ended_at": ""}),
        "summary": FormState(values={"report": ""}),
        "withdraw": FormState(values={}),
        "transmit": FormState(values={}),
    }
    failed_form, failure = None, None
    if form is not None:
        failed_form, forms[form[0]] = form[0], form[1]
        title, anchor = FORM_TITLES[form[0]]
        failure = {
            "name": form[0],
            "title": title,
            "anchor": anchor,
            "message": form[1].message or "",
            "offer": form[1].values.get("offer"),
        }
    offer_rows = []
    for o in offers:
        offer_acts = service.offer_actions(principal, o, acts)
        offer_rows.append(
            {
                "o": o,
                "can_decide": "assistance.offer.decide" in offer_acts,
                "can_withdraw": "assistance.offer.withdraw" in offer_acts,
            }
        )
    now = utcnow()
    entries = readable_titles(db, principal, Capability, (o.capability_id or "" for o in offers))
    names = {
        **crises,
        **incidents,
        **entries,
        **{o.id: f"offer of {orgs[o.owner_org_id].short_name}" for o in offers if o.owner_org_id in orgs},
    }
    events = audit.timeline_of(db, reader=principal, object_ids=[r.id, *(o.id for o in offers)])
    return render(
        request,
        "assistance_request.html",
        {
            "r": r,
            "tlp": TLP(r.tlp),
            "owner": orgs.get(r.owner_org_id),
            "orgs": orgs,
            "addressed": _addressed_to(db, r),
            "recipients": queries.recipients(db, sharing.shares_of(db, r.id)),
            "crisis_title": crises.get(r.crisis_id or ""),
            "incidents": [(i, incidents[i]) for i in r.incident_ids if i in incidents],
            "offers": offer_rows,
            # Held at another node (ADR 0013): where, and the offers this organisation sent there.
            "held": held,
            "held_org": queries.held_by(db, held),
            # Offers sent there (about the request) and withdrawals of its offers (about each offer).
            "sent": answers.of_organisation(db, principal=principal, object_ids=[r.id, *(o.id for o in offers)])
            if held
            else [],
            "matches": found,
            "entries": entries,
            "own_entries": own_entries,
            "is_requester": is_requester,
            "can_offer": can_offer,
            "can_end_support": "assistance.request.end-support" in acts,
            "can_summarise": "assistance.request.summary" in acts,
            "can_withdraw": "assistance.request.withdraw" in acts,
            "can_transmit": "assistance.request.transmit" in acts,
            "potential_impact_labels": dict(POTENTIAL_IMPACTS),
            "summary_months_text": _months(request.app.state.settings.reserve_summary_months),
            "summary_overdue": r.state == RequestState.SUPPORT_ENDED.value
            and r.summary_due_at is not None
            and r.summary_due_at < now,
            "offer_needs": [(n, NEED_LABELS.get(n, n)) for n in r.needs],
            "forms": forms,
            "failed_form": failed_form,
            "failure": failure,
            "done_note": DONE_NOTES.get(done),
            "impact_labels": dict(IMPACTS),
            "entity_type_labels": dict(ENTITY_TYPES),
            **words(),
            **timeline(db, principal, events, page_id=r.id, names=names),
        },
        status=code,
    )


@router.get("/assistance/{request_id}", response_class=HTMLResponse)
def request_page(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    r: CurrentRequest,
    done: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    return render_request(request, db, principal, r, done=done)


def _refused(
    request: Request,
    db: Session,
    principal: Principal,
    request_id: str,
    name: str,
    exc: DomainError,
    values: dict[str, Any],
    fallback: str = "",
) -> Response:
    """Nothing written: the page again, the form with what was typed and the message next to its field."""
    db.rollback()
    state = FormState.failed(exc, values, aliases=ALIASES, fallback=fallback)
    r = service.get_request(db, principal, request_id)
    return render_request(request, db, principal, r, form=(name, state), code=exc.status)


def _back(request_id: str, done: str, anchor: str) -> Response:
    return see_other(f"/assistance/{request_id}?done={done}#{anchor}")


@router.post("/assistance/{request_id}/offers")
def make_offer(
    *, request_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[OfferForm, Form()]
) -> Response:
    values = data.entered()
    try:
        made = offering.make_offer(db, actor=principal, request_id=request_id, data=to_offer_in(data))
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, request_id, "offer", exc, values)
    return _back(request_id, "offer-sent" if isinstance(made, Answer) else "offered", "offers")


@router.post("/assistance/{request_id}/offers/{offer_id}/decide")
def decide_offer(
    *,
    request_id: str,
    offer_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[DecideForm, Form()],
) -> Response:
    values = {"offer": offer_id, **data.entered()}
    try:
        if data.verdict not in ("accept", "decline"):
            raise bad("comment", "choose Accept or Decline")
        offering.decide_offer(
            db,
            actor=principal,
            request_id=request_id,
            offer_id=offer_id,
            accept=data.verdict == "accept",
            comment=data.comment,
        )
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, request_id, "decide", exc, values, fallback="comment")
    return _back(request_id, "accepted" if data.verdict == "accept" else "declined", "offers")


@router.post("/assistance/{request_id}/offers/{offer_id}/withdraw")
def withdraw_offer(*, request_id: str, offer_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    try:
        done = offering.withdraw_offer(db, actor=principal, request_id=request_id, offer_id=offer_id)
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, request_id, "withdraw-offer", exc, {"offer": offer_id})
    return _back(request_id, "offer-withdraw-sent" if isinstance(done, Answer) else "offer-withdrawn", "offers")


@router.post("/assistance/{request_id}/support-ended")
def support_ended(
    *,
    request_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[SupportEndedForm, Form()],
) -> Response:
    values = data.entered()
    try:
        ended = parse_utc(data.ended_at, field="ended_at")
        lifecycle.end_support(
            db,
            actor=principal,
            request_id=request_id,
            ended_at=ended,
            summary_months=request.app.state.settings.reserve_summary_months,
        )
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, request_id, "support-ended", exc, values, fallback="ended_at")
    return _back(request_id, "support-ended", "lifecycle")


@router.post("/assistance/{request_id}/summary")
def record_summary(
    *, request_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[SummaryForm, Form()]
) -> Response:
    values = data.entered()
    try:
        require_filled(report=(data.report, "write the summary report of the support received"))
        lifecycle.record_summary(db, actor=principal, request_id=request_id, report=data.report)
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, request_id, "summary", exc, values, fallback="report")
    return _back(request_id, "summary", "lifecycle")


@router.post("/assistance/{request_id}/transmit")
def transmit_request(*, request_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    """The requester's SPOC transmits a Reserve request to the contracting authority (Reg. (EU) 2025/38
    Art. 15(3)(a)); the service decides who may, as for the API."""
    try:
        lifecycle.transmit_request(
            db, actor=principal, request_id=request_id, response_hours=request.app.state.settings.reserve_response_hours
        )
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, request_id, "transmit", exc, {})
    return _back(request_id, "transmitted", "reserve-transmission")


@router.post("/assistance/{request_id}/withdraw")
def withdraw_request(*, request_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    try:
        lifecycle.withdraw_request(db, actor=principal, request_id=request_id)
    except FORM_REFUSALS as exc:
        return _refused(request, db, principal, request_id, "withdraw", exc, {})
    return _back(request_id, "withdrawn", "lifecycle")
