"""Mutual assistance pages (Cyber Solidarity Act; CSIRTs Network; ADR 0007): the list of requests, asking for
assistance, and the ranking of requests to the EU Cybersecurity Reserve. One request's page is in `views_request`,
the capability catalogue in `views_capabilities`, both included here after `/assistance/new`.

Every read goes through the assistance services (and so through the access layer), every write through the same
service functions as the API: the same checks, audit, notifications and errors.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.assistance import ranking, requesting, service, views_capabilities, views_request
from cybercrisis.assistance.forms import (
    ALIASES,
    CRITERION_LABELS,
    ENTITY_TYPES,
    IMPACTS,
    NEEDS,
    POTENTIAL_IMPACTS,
    RECIPIENT_TYPES,
    REQUEST_COMMUNITIES,
    REQUEST_TLPS,
    SEVERITIES,
    SPILLOVERS,
    STATE_LABELS,
    URGENCIES,
    RequestForm,
    to_request_in,
    words,
)
from cybercrisis.assistance.models import AssistanceRequest
from cybercrisis.assistance.views_request import own_org, readable_titles
from cybercrisis.crises.models import Crisis, CrisisStatus
from cybercrisis.deps import DB
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import InvalidInput, PermissionDenied
from cybercrisis.web import queries
from cybercrisis.web.forms import FORM_REFUSALS, FormState
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
PAGE_SIZE = 50
CRISIS_CHOICES = 200  # open crises offered in the request form (and the one asked for by ?crisis=)
Filter = Annotated[str, Query(max_length=200)]


# --- look-ups the forms and pages need ---------------------------------------------------------------------------


def national_org(db: Session, principal: Principal) -> Organisation | None:
    """The reader's organisation when it may ask for assistance for its Member State (as the service checks)."""
    org = own_org(db, principal)
    if not principal.has(Permission.ASSISTANCE_WRITE) or org is None:
        return None
    return org if org.type in service.NATIONAL_TYPES and org.country else None


def _require_national(db: Session, principal: Principal) -> Organisation:
    principal.require(Permission.ASSISTANCE_WRITE)
    org = national_org(db, principal)
    if org is None:
        mine = own_org(db, principal)
        where = f"{mine.short_name} ({mine.type}, {mine.country or 'no country'})" if mine else "no organisation"
        raise PermissionDenied(
            "a Member State asks for assistance through its national CSIRT, SPOC, competent "
            f"authority or crisis authority; you act for {where}"
        )
    return org


def _spoc_of(db: Session, country: str) -> Organisation | None:
    return db.scalars(
        select(Organisation)
        .where(Organisation.type == OrgType.SPOC.value, Organisation.country == country)
        .order_by(Organisation.short_name)
        .limit(1)
    ).first()


def recipient_groups(db: Session, own_org_id: str) -> list[tuple[str, list[queries.OrgRef]]]:
    """National CSIRTs and crisis authorities from the directory, by country, the requester's own left out."""
    groups = []
    for org_type, label in RECIPIENT_TYPES:
        rows = db.execute(
            select(Organisation.id, Organisation.short_name, Organisation.name, Organisation.country)
            .where(Organisation.type == org_type.value, Organisation.id != own_org_id)
            .order_by(Organisation.country, Organisation.short_name)
        ).all()
        groups.append((label, [queries.OrgRef(r.id, r.short_name, r.name, r.country) for r in rows]))
    return groups


def crisis_choices(db: Session, principal: Principal, wanted: str = "") -> list[tuple[str, str]]:
    """Open crises the reader may see (and the one asked for, if the reader may see it), most recent first."""
    is_wanted = case((Crisis.id == wanted, 0), else_=1)
    rows = db.execute(
        select(Crisis.id, Crisis.title, Crisis.status)
        .where(read_filter(principal, Crisis), (Crisis.status == CrisisStatus.OPEN.value) | (Crisis.id == wanted))
        .order_by(is_wanted, Crisis.modified_at.desc(), Crisis.id)
        .limit(CRISIS_CHOICES)
    ).all()
    out = [(r.id, r.title if r.status == CrisisStatus.OPEN.value else f"{r.title} (closed)") for r in rows]
    return sorted(out, key=lambda pair: pair[0] != wanted)


def _request_choices(db: Session, principal: Principal, org: Organisation) -> dict[str, Any]:
    names = queries.community_names(db)
    spoc = None
    if org.type != OrgType.SPOC.value and org.country:
        spoc = _spoc_of(db, org.country)
    return {
        "org": org,
        "is_spoc": org.type == OrgType.SPOC.value,
        "spoc": spoc,
        "needs": NEEDS,
        "urgencies": URGENCIES,
        "entity_types": ENTITY_TYPES,
        "severities": SEVERITIES,
        "impacts": IMPACTS,
        "spillovers": SPILLOVERS,
        "potential_impacts": POTENTIAL_IMPACTS,
        "recipient_groups": recipient_groups(db, org.id),
        "incident_choices": queries.open_incidents(db, principal),
        "communities": [(slug, names[slug]) for slug in REQUEST_COMMUNITIES if slug in names],
        "request_tlps": REQUEST_TLPS,
        "reserve_handlers": sorted(
            queries.org_refs(db, service.reserve_handlers(db)).values(), key=lambda o: o.short_name
        ),
    }


def _may_see_reserve_requests(db: Session, principal: Principal) -> bool:
    return (
        db.scalars(
            select(AssistanceRequest.id)
            .where(
                read_filter(principal, AssistanceRequest),
                AssistanceRequest.recipients["reserve"].as_boolean().is_(True),
            )
            .limit(1)
        ).first()
        is not None
    )


# --- the list ---------------------------------------------------------------------------------------------------


@router.get("/assistance", response_class=HTMLResponse)
def request_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    state: Filter = "",
    crisis: Filter = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    chosen = {"state": state.strip(), "crisis": crisis.strip()}
    error, code, rows, nxt = None, 200, [], None
    try:
        page = service.list_requests(
            db,
            reader=principal,
            state=chosen["state"] or None,
            crisis=chosen["crisis"] or None,
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
        rows, nxt = page.items, page.next
    except InvalidInput as exc:  # a hand-edited address: the page with the message rather than an error page
        error, code = exc.detail, 422
    offers = service.visible_offers(db, principal, [r.id for r in rows])
    filters = {k: v for k, v in chosen.items() if v}
    crisis_title = readable_titles(db, principal, Crisis, [chosen["crisis"]]).get(chosen["crisis"])
    return render(
        request,
        "assistance.html",
        {
            "rows": rows,
            "offer_counts": {rid: len(v) for rid, v in offers.items()},
            "owners": queries.org_refs(db, (r.owner_org_id for r in rows)),
            "chosen": chosen,
            "crisis_title": crisis_title,
            "filtered": bool(filters),
            "error": error,
            "states": list(STATE_LABELS.items()),
            "can_ask": national_org(db, principal) is not None,
            "can_rank": _may_see_reserve_requests(db, principal),
            "next_url": f"/assistance?{urlencode({**filters, 'cursor': nxt})}" if nxt else None,
            "first_url": f"/assistance?{urlencode(filters)}" if cursor else None,
            **words(),
        },
        status=code,
    )


# --- asking for assistance --------------------------------------------------------------------------------------


def _new_form(
    request: Request, db: Session, principal: Principal, org: Organisation, form: FormState, status: int = 200
) -> Response:
    ctx = {
        "form": form,
        **_request_choices(db, principal, org),
        **words(),
        "crisis_choices": crisis_choices(db, principal, str(form.values.get("crisis", ""))),
    }
    return render(request, "assistance_new.html", ctx, status=status)


@router.get("/assistance/new", response_class=HTMLResponse)
def new_request_form(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    crisis: Annotated[str, Query(max_length=200)] = "",
    incident: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    org = _require_national(db, principal)
    values = {
        "needs": [],
        "urgency": "urgent",
        "entity_type": "essential",
        "impact": "",
        "severity": "",
        "spillover": "",
        "potential_impact": "",
        "organisations": [],
        "communities": [],
        "reserve": "",
        "crisis": crisis.strip(),
        "incidents": [incident.strip()] if incident.strip() else [],
        "tlp": TLP.AMBER.value,
    }
    return _new_form(request, db, principal, org, FormState(values=values))


@router.post("/assistance/new")
def create_request(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[RequestForm, Form()]
) -> Response:
    org = _require_national(db, principal)
    values = data.entered()
    try:
        req = requesting.create_request(
            db,
            actor=principal,
            data=to_request_in(data),
            response_hours=request.app.state.settings.reserve_response_hours,
        )
    except FORM_REFUSALS as exc:
        db.rollback()
        # Refused without a field: the Reserve, which a CSIRT or crisis authority asks (Reg. (EU) 2025/38 Art. 14(3)).
        fallback = "reserve" if isinstance(exc, PermissionDenied) and data.reserve == "yes" else ""
        org = _require_national(db, principal)
        return _new_form(
            request,
            db,
            principal,
            org,
            FormState.failed(exc, values, aliases=ALIASES, fallback=fallback),
            status=exc.status,
        )
    return see_other(f"/assistance/{req.id}?done=sent")


# --- the Reserve ranking ----------------------------------------------------------------------------------------


@router.get("/assistance/reserve-ranking", response_class=HTMLResponse)
def reserve_ranking(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    rows = service.reserve_queue(db, reader=principal)
    priority = ranking.parse_priority(request.app.state.settings.reserve_priority)
    ranked = ranking.rank(
        [
            ranking.RankInput(
                id=r.id,
                severity=r.impact,  # the incident's impact severity (Reg. (EU) 2025/38 Art. 16 point (a))
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
    by_id = {r.id: r for r in rows}
    position = {x.item.id: x.rank for x in ranked}
    owners = queries.org_refs(db, (r.owner_org_id for r in rows))

    def name_of(rid: str) -> str:
        r = by_id[rid]
        owner = owners.get(r.owner_org_id)
        return f"#{position[rid]} ({owner.short_name if owner else r.country or 'unknown'})"

    items = []
    for x in ranked:
        reason = x.reason
        for other in by_id:  # the next request by its rank and requester, not by its id
            reason = reason.replace(other, name_of(other))
        items.append(
            {
                "rank": x.rank,
                "r": by_id[x.item.id],
                "reason": reason[:1].upper() + reason[1:],
                "criteria": [
                    {"label": CRITERION_LABELS.get(c.criterion, c.criterion), "value": c.value, "note": c.note}
                    for c in x.explanation
                ],
            }
        )
    # The deployment's order (CYBERCRISIS_RESERVE_PRIORITY), each criterion with the Act's article and point.
    rules = [
        (f"{CRITERION_LABELS.get(n, n)} ({ranking.RULES[n].legal_basis})", " > ".join(ranking.RULES[n].order))
        for n in priority
    ]
    return render(request, "assistance_ranking.html", {"items": items, "owners": owners, "rules": rules, **words()})


# After the routes above: `/assistance/new` and `/assistance/reserve-ranking` are not request ids.
router.include_router(views_request.router)
router.include_router(views_capabilities.router)
