"""Incident pages: the list with its filters, the new-incident form, and the reporting deadlines."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.errors import InvalidInput
from cybercrisis.incidents import forms as incident_form
from cybercrisis.incidents import service
from cybercrisis.incidents.labels import SOON, STATUS_LABELS, clock, pickers, rsit_groups
from cybercrisis.incidents.models import IncidentStatus
from cybercrisis.incidents.observable_input import search_term
from cybercrisis.pagination import Page
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
PAGE_SIZE = 25
Filter = Annotated[str, Query(max_length=200)]


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    status: Filter = "",
    country: Filter = "",
    sector: Filter = "",
    rsit_class: Filter = "",
    tlp: Filter = "",
    overdue: Filter = "",
    q: Annotated[str, Query(max_length=300)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    chosen = {
        "status": status,
        "country": country.upper(),
        "sector": sector,
        "rsit_class": rsit_class,
        "tlp": tlp,
        "overdue": "yes" if overdue else "",
        "q": q.strip(),
    }
    filters = service.IncidentFilter(
        status=status or None,
        country=chosen["country"] or None,
        sector=sector or None,
        rsit_class=rsit_class or None,
        tlp=tlp or None,
        overdue=bool(overdue),
        q=search_term(chosen["q"]) or None,
    )
    error, code = None, 200
    try:
        page, overdue_counts = service.list_incidents(
            db, principal=principal, filters=filters, cursor=cursor or None, limit=PAGE_SIZE
        )
    except InvalidInput as exc:
        # A hand-edited URL: the page with the message rather than an error page.
        page, overdue_counts, error, code = Page([], None), {}, exc.detail, 422
    query = {k: v for k, v in chosen.items() if v}
    return render(
        request,
        "incidents.html",
        {
            "incidents": page.items,
            "overdue": overdue_counts,
            "owners": queries.org_refs(db, (i.owner_org_id for i in page.items)),
            "chosen": chosen,
            "filtered": bool(query),
            "error": error,
            "statuses": [(s.value, STATUS_LABELS[s.value]) for s in IncidentStatus],
            "countries": queries.countries_in_directory(db),
            "sectors": [(c.value, c.label) for c in pickers()["sectors"]],
            "rsit_classes": [(g.value, g.label) for g in rsit_groups()],
            "can_write": principal.has(Permission.INCIDENT_WRITE),
            "next_url": f"/incidents?{urlencode({**query, 'cursor': page.next})}" if page.next else None,
            "first_url": f"/incidents?{urlencode(query)}" if cursor else None,
        },
        status=code,
    )


def _new_form(request: Request, db: Session, principal: Principal, form: FormState, status: int = 200) -> Response:
    return render(
        request, "incident_new.html", {"form": form, **incident_form.incident_choices(db, principal)}, status=status
    )


@router.get("/incidents/new", response_class=HTMLResponse)
def new_incident_form(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    principal.require(Permission.INCIDENT_WRITE)
    return _new_form(request, db, principal, FormState(values=incident_form.new_incident_defaults(db, principal)))


@router.post("/incidents")
def create_incident(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[incident_form.IncidentForm, Form()],
) -> Response:
    principal.require(Permission.INCIDENT_WRITE)
    values = data.entered()
    try:
        incident = service.create_incident(db, actor=principal, data=incident_form.to_incident_in(data))
    except InvalidInput as exc:
        db.rollback()
        return _new_form(request, db, principal, incident_form.failed(exc, values), status=422)
    return see_other(f"/incidents/{incident.id}")


@router.get("/deadlines", response_class=HTMLResponse)
def deadlines(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    now = utcnow()
    rows = service.deadlines_for(db, principal=principal, status="open")
    groups: dict[str, list[dict[str, Any]]] = {"overdue": [], "soon": [], "later": []}
    for report, incident in rows:
        due = report.due_at or now  # deadlines_for lists reports with a due time only
        key = "overdue" if due < now else "soon" if due < now + SOON else "later"
        groups[key].append({"report": report, "incident": incident, "clock": clock(report, now)})
    return render(
        request,
        "deadlines.html",
        {
            "groups": groups,
            "total": len(rows),
            "owners": queries.org_refs(db, (i.owner_org_id for _, i in rows)),
        },
    )
