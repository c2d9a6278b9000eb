"""Crisis pages: the list, opening a crisis, linking incidents; the room and its forms are in `views_room` and
`views_governance`, included here so that `/crises/new` is matched before `/crises/{crisis_id}`.

Every write goes through the crises services, exactly as the API does: the same checks, audit, notifications
and errors.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.crises import service, views_governance, views_room
from cybercrisis.crises.escalation import model_for
from cybercrisis.crises.forms import CRITERIA, PHASE_LABELS, PHASES, SCALE_NOTE, LinkForm, NewCrisisForm, to_crisis_in
from cybercrisis.crises.models import CrisisStatus
from cybercrisis.crises.views_room import (
    back,
    refused_on_room,
    settings_of,
    stage_label,
    stages,
)
from cybercrisis.deps import DB
from cybercrisis.web import queries
from cybercrisis.web.forms import FORM_REFUSALS, FormState, bad
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
LIST_LIMIT = 200  # crises are few; the list shows the most recent ones, open first


# --- the list ---------------------------------------------------------------------------------------------------


@router.get("/crises", response_class=HTMLResponse)
def crisis_list(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    # Open crises first, then closed ones, each most recently changed first: the API's list, one status at a time.
    found = service.list_crises(
        db, principal=principal, filters=service.CrisisFilters(status=CrisisStatus.OPEN), cursor=None, limit=LIST_LIMIT
    )
    room_left = LIST_LIMIT - len(found.items)
    # Asked for one closed crisis even when the list is full: it says whether there are more.
    closed = service.list_crises(
        db,
        principal=principal,
        filters=service.CrisisFilters(status=CrisisStatus.CLOSED),
        cursor=None,
        limit=max(room_left, 1),
    )
    rows = found.items + closed.items[:room_left]
    more = found.next is not None or closed.next is not None or len(closed.items) > room_left
    counts = found.incidents | closed.incidents
    model = model_for(settings_of(request))
    levels = {s.key: s.level for s in model.stages}
    items = [
        {
            "c": c,
            "level": levels.get(c.stage),
            "stage_label": stage_label(model, c.stage),
            "incidents": counts.get(c.id, 0),
        }
        for c in rows
    ]
    return render(
        request,
        "crises.html",
        {
            "items": items,
            "open_count": len(found.items),
            "more": more,
            "limit": LIST_LIMIT,
            "owners": queries.org_refs(db, (c.owner_org_id for c in rows)),
            "phase_labels": PHASE_LABELS,
            "scale_note": SCALE_NOTE,
            "can_write": principal.has(Permission.CRISIS_WRITE),
        },
    )


# --- opening a crisis -------------------------------------------------------------------------------------------


def _new_choices(request: Request, db: Session, principal: Principal) -> dict[str, Any]:
    model = model_for(settings_of(request))
    return {
        "stages": stages(db, model),
        "scale_note": SCALE_NOTE,
        "criteria": CRITERIA,
        "phases": PHASES,
        "incident_choices": queries.open_incidents(db, principal),
        "incident_limit": queries.OPEN_INCIDENT_CHOICES,
        "communities": list(queries.community_names(db).items()),
        "org_choices": queries.org_choices(db),
    }


def _new_form(request: Request, db: Session, principal: Principal, form: FormState, status: int = 200) -> Response:
    return render(request, "crisis_new.html", {"form": form, **_new_choices(request, db, principal)}, status=status)


@router.get("/crises/new", response_class=HTMLResponse)
def new_crisis_form(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    principal.require(Permission.CRISIS_WRITE)
    model = model_for(settings_of(request))
    values = {
        "tlp": TLP.AMBER.value,
        "stage": model.stages[0].key,
        "phase": "",
        "criteria": [],
        "incidents": [],
        "communities": [],
        "organisations": [],
    }
    return _new_form(request, db, principal, FormState(values=values))


@router.post("/crises/new")
def create_crisis(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[NewCrisisForm, Form()]
) -> Response:
    principal.require(Permission.CRISIS_WRITE)
    values = data.entered()
    try:
        crisis = service.open_crisis(db, actor=principal, data=to_crisis_in(data), settings=settings_of(request))
    except FORM_REFUSALS as exc:
        db.rollback()
        # The model names the starting stage `to`, as escalation requests do.
        form = FormState.failed(exc, values, aliases={"to": "stage", "share_with": "communities"})
        return _new_form(request, db, principal, form, status=exc.status)
    return see_other(f"/crises/{crisis.id}?done=opened")


# --- linking incidents ------------------------------------------------------------------------------------------


@router.post("/crises/{crisis_id}/incidents")
def link_incidents(
    *, crisis_id: str, request: Request, db: DB, principal: PagePrincipal, data: Annotated[LinkForm, Form()]
) -> Response:
    values = data.entered()
    try:
        if not data.incidents:
            raise bad("incidents", "tick at least one incident")
        service.link_incidents(
            db, actor=principal, crisis_id=crisis_id, incident_ids=data.incidents, settings=settings_of(request)
        )
    except FORM_REFUSALS as exc:
        return refused_on_room(request, db, principal, crisis_id, "link", exc, values)
    return back(crisis_id, "linked", "incidents")


# After the routes above: `/crises/new` is not a crisis id.
router.include_router(views_room.router)
router.include_router(views_governance.router)
