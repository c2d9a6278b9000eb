"""The page of one incident and the forms that act on it: status, escalation, significance, report submission,
intermediate request, and the NIS2 Art. 23(6) and 23(8) steps (inform other Member States, forward on request)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from cybercrisis.access.principal import Principal
from cybercrisis.deps import DB
from cybercrisis.errors import Conflict, InvalidInput, PermissionDenied
from cybercrisis.incidents import flows, flows_forwarding, recurrence, service, significance
from cybercrisis.incidents import forms as incident_form
from cybercrisis.incidents.assessment import Thresholds
from cybercrisis.incidents.deps import PageIncident
from cybercrisis.incidents.flow_schemas import InformIn
from cybercrisis.incidents.views_page import ESCALATE_TO, render_incident
from cybercrisis.web.forms import FORM_REFUSALS, FormState, required_utc, split_list
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
# The CSRF router dependency checks the field; each form still posts it.
Csrf = Annotated[str, Form(max_length=100)]


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(*, incident: PageIncident, request: Request, db: DB, principal: PagePrincipal) -> Response:
    return render_incident(request, db, principal, incident)


@router.post("/incidents/{incident_id}/status")
def change_status(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    version: Annotated[int, Form(ge=0)] = 0,
    status: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    try:
        service.update_incident(
            db, actor=principal, incident_id=incident_id, version=version, changes={"status": status}
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        form = incident_form.failed(exc, {"status": status, "version": version})
        if isinstance(exc, Conflict) and incident.version != version:
            form = FormState(
                values={"status": status, "version": version},
                message="This incident was changed since you opened it: reload the page to see the change, "
                "then choose the status again.",
            )
        return render_incident(request, db, principal, incident, status_form=form, code=exc.status)
    return see_other(f"/incidents/{incident_id}")


@router.post("/incidents/{incident_id}/escalate")
def escalate(
    *, incident_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    try:
        service.escalate(db, actor=principal, incident_id=incident_id, community=ESCALATE_TO)
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        return render_incident(request, db, principal, incident, escalate_error=exc.detail, code=exc.status)
    return see_other(f"/incidents/{incident_id}#assessment")


@router.post("/incidents/{incident_id}/significance")
def decide_significance(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    value: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    try:
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        suggestion = recurrence.assess(
            db, incident, principal=principal, thresholds=Thresholds.from_settings(request.app.state.settings)
        ).as_dict()
        significance.decide(
            db, actor=principal, incident_id=incident_id, value=value, reason=reason, suggestion=suggestion
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        form = incident_form.failed(exc, {"value": value, "reason": reason})
        return render_incident(request, db, principal, incident, significance_form=form, code=exc.status)
    return see_other(f"/incidents/{incident_id}#significance")


@router.post("/incidents/{incident_id}/reports")
def submit_report(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    data: Annotated[incident_form.ReportForm, Form()],
) -> Response:
    values = data.entered()
    try:
        service.submit_report(db, actor=principal, incident_id=incident_id, data=incident_form.to_report_in(data))
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        form = incident_form.failed(exc, values)
        return render_incident(request, db, principal, incident, report_form=form, code=exc.status)
    return see_other(f"/incidents/{incident_id}#reports")


@router.post("/incidents/{incident_id}/intermediate-request")
def request_intermediate(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    due_at: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        due = required_utc(due_at, field="due_at")
        service.request_intermediate(db, actor=principal, incident_id=incident_id, due_at=due)
    except InvalidInput as exc:
        db.rollback()
        incident = service.get_incident(db, principal=principal, incident_id=incident_id)
        form = incident_form.failed(exc, {"due_at": due_at})
        return render_incident(request, db, principal, incident, intermediate_form=form, code=exc.status)
    return see_other(f"/incidents/{incident_id}#reports")


def _render_failed(
    request: Request, db: DB, principal: Principal, incident_id: str, exc: Exception, values: dict[str, Any]
) -> Response:
    db.rollback()
    incident = service.get_incident(db, principal=principal, incident_id=incident_id)
    if isinstance(exc, ValidationError):
        exc = InvalidInput(
            "check the highlighted fields",
            errors=[{"field": str(e["loc"][0]), "message": str(e["msg"])} for e in exc.errors()],
        )
    assert isinstance(exc, InvalidInput | Conflict | PermissionDenied)
    form = incident_form.failed(exc, values)
    return render_incident(request, db, principal, incident, flows_form=form, code=exc.status)


@router.post("/incidents/{incident_id}/inform-member-states")
def inform(
    *,
    incident_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    member_states: Annotated[str, Form(max_length=300)] = "",
    enisa: Annotated[str, Form(max_length=5)] = "",
    share_incident: Annotated[str, Form(max_length=5)] = "",
    summary: Annotated[str, Form(max_length=20_000)] = "",
    withheld_reason: Annotated[str, Form(max_length=5_000)] = "",
) -> Response:
    values = {
        "member_states": member_states,
        "enisa": enisa,
        "share_incident": share_incident,
        "summary": summary,
        "withheld_reason": withheld_reason,
    }
    try:
        data = InformIn(
            member_states=split_list(member_states),
            enisa=bool(enisa),
            share_incident=bool(share_incident),
            summary=summary,
            withheld_reason=withheld_reason,
        )
        flows.inform_member_states(db, actor=principal, incident_id=incident_id, data=data)
    except (ValidationError, InvalidInput, Conflict, PermissionDenied) as exc:
        return _render_failed(request, db, principal, incident_id, exc, values)
    return see_other(f"/incidents/{incident_id}#member-states")


@router.post("/incidents/{incident_id}/forwardings/{forwarding_id}/forward")
def forward(
    *, incident_id: str, forwarding_id: str, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = ""
) -> Response:
    try:
        flows_forwarding.forward(db, actor=principal, forwarding_id=forwarding_id)
    except FORM_REFUSALS as exc:
        return _render_failed(request, db, principal, incident_id, exc, {})
    return see_other(f"/incidents/{incident_id}#member-states")
