"""Editing an incident from its pages: its details, its marking and recipients, and its observables.

Each form posts what the API takes (`PATCH /incidents/{id}`, `PUT /incidents/{id}/sharing`, `POST
/incidents/{id}/observables[/remove]`) through the same service calls, so the authority policy decides the same way
and the change lands in the timeline like any other. A refused form comes back with every error next to its field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.deps import DB
from cybercrisis.errors import Conflict, InvalidInput, PermissionDenied
from cybercrisis.incidents import forms as incident_form
from cybercrisis.incidents import service
from cybercrisis.incidents.actions import allowed_actions
from cybercrisis.incidents.common import FOR_PAGE
from cybercrisis.incidents.deps import PageIncident
from cybercrisis.incidents.models import Incident
from cybercrisis.incidents.observable_input import parse_text
from cybercrisis.incidents.schemas import ObservableIn
from cybercrisis.incidents.views_page import render_incident
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState, bad, share_with
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
Csrf = Annotated[str, Form(max_length=100)]
Names = Annotated[list[str] | None, Form(max_length=500)]

_CHANGED_SINCE = (
    "Someone changed this incident since you opened this form. Your changes are kept below: compare them with the "
    "incident (open it in another tab), then save again."
)


def _sharing_values(db: Session, incident: Incident) -> dict[str, Any]:
    found = queries.recipients(db, incident.share_rows)
    return {
        "tlp": incident.tlp,
        "organisations": [o.id for o in found.organisations],
        "communities": [slug for slug, _ in found.communities],
        "users": ", ".join(found.users),
    }


def _edit_page(
    request: Request,
    db: Session,
    principal: Principal,
    incident: Incident,
    *,
    details: FormState | None = None,
    sharing: FormState | None = None,
    status: int = 200,
) -> Response:
    actions = allowed_actions(principal, incident)
    if not {"incident.edit", "incident.share"} & actions:
        raise PermissionDenied("only the recording organisation and the affected entity change an incident")
    return render(
        request,
        "incident_edit.html",
        {
            "incident": incident,
            "actions": actions,
            "form": details or FormState(values=incident_form.edit_values(incident)),
            "share": sharing or FormState(values=_sharing_values(db, incident)),
            **incident_form.incident_choices(db, principal),
        },
        status=status,
    )


@router.get("/incidents/{incident_id}/edit", response_class=HTMLResponse)
def edit_form(*, incident: PageIncident, request: Request, db: DB, principal: PagePrincipal) -> Response:
    return _edit_page(request, db, principal, incident)


@router.post("/incidents/{incident_id}/edit")
def edit_incident(
    *,
    incident: PageIncident,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[incident_form.IncidentEditForm, Form()],
) -> Response:
    values, iid = data.entered(), incident.id
    try:
        changes = incident_form.to_changes(data, incident)
        service.update_incident(db, actor=principal, incident_id=iid, version=data.version, changes=changes)
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=iid, load=FOR_PAGE)
        form = incident_form.failed(exc, values)
        if isinstance(exc, Conflict) and incident.version != data.version:
            form = FormState(values=values, message=_CHANGED_SINCE)
        return _edit_page(request, db, principal, incident, details=form, status=exc.status)
    return see_other(f"/incidents/{iid}?saved=details")


@router.post("/incidents/{incident_id}/sharing")
def share_incident(
    *,
    incident: PageIncident,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    tlp: Annotated[str, Form(max_length=20)] = "",
    communities: Names = None,
    organisations: Names = None,
    users: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    values = {"tlp": tlp, "communities": communities or [], "organisations": organisations or [], "users": users}
    iid = incident.id
    try:
        if not tlp:
            raise bad("tlp", "choose a TLP label")
        service.set_incident_sharing(
            db,
            actor=principal,
            incident_id=iid,
            tlp=tlp,
            share_with=share_with(organisations, communities, users),
        )
    except InvalidInput as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=iid, load=FOR_PAGE)
        form = FormState.failed(exc, values, fallback="organisations")
        return _edit_page(request, db, principal, incident, sharing=form, status=exc.status)
    return see_other(f"/incidents/{iid}?saved=sharing")


@router.post("/incidents/{incident_id}/observables")
def add_observables(
    *,
    incident: PageIncident,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    observables: Annotated[str, Form(max_length=500_000)] = "",
) -> Response:
    iid = incident.id
    try:
        items = parse_text(observables)
        if not items:
            raise bad("observables", "enter at least one value, one per line")
        added = service.add_observables(db, actor=principal, incident_id=iid, items=items)
    except InvalidInput as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=iid, load=FOR_PAGE)
        form = FormState.failed(exc, {"observables": observables}, fallback="observables")
        return render_incident(request, db, principal, incident, observables_form=form, code=exc.status)
    return see_other(f"/incidents/{iid}?added={added}#observables")


@router.post("/incidents/{incident_id}/observables/remove")
def remove_observable(
    *,
    incident: PageIncident,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    observable_type: Annotated[str, Form(min_length=1, max_length=32)],
    value: Annotated[str, Form(min_length=1, max_length=2048)],
) -> Response:
    service.remove_observables(
        db, actor=principal, incident_id=incident.id, items=[ObservableIn(type=observable_type, value=value)]
    )
    return see_other(f"/incidents/{incident.id}?removed=1#observables")
