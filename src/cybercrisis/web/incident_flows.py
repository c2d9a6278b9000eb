"""The NIS2 Art. 23(6) and 23(8) steps on the incident page: who was informed and what was forwarded, the form to
inform other affected Member States and ENISA, and the SPOC's button to forward on request (incidents/flows.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cybercrisis.access import authority
from cybercrisis.access.principal import Principal
from cybercrisis.deps import DB
from cybercrisis.errors import Conflict, InvalidInput, PermissionDenied
from cybercrisis.incidents import flows, service
from cybercrisis.incidents.flow_models import ForwardingStatus
from cybercrisis.incidents.flow_schemas import InformIn
from cybercrisis.incidents.models import Incident
from cybercrisis.web import incident_form, queries
from cybercrisis.web.forms import FormState, split_list
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other

router = APIRouter()
Csrf = Annotated[str, Form(max_length=100)]


def context(db: Session, principal: Principal, incident: Incident, form: FormState | None) -> dict[str, Any]:
    """What the incident page shows of the cross-border steps, and which of their forms this reader is offered."""
    informs, forwardings = flows.flows_of(db, principal=principal, incident_id=incident.id)
    relations = flows.incident_relations(db, principal, incident)
    can_inform = authority.allows(principal, "incident.inform-member-states", relations)
    refs = queries.org_refs(
        db, {o for i in informs for o in (i.owner_org_id, *i.recipient_org_ids)} | {f.spoc_org_id for f in forwardings}
    )
    rows = [
        {"step": i, "by": refs.get(i.owner_org_id), "to": [refs[o] for o in i.recipient_org_ids if o in refs]}
        for i in informs
    ]
    forward_rows = [
        {
            "step": f,
            "spoc": refs.get(f.spoc_org_id),
            "can_forward": f.status == ForwardingStatus.REQUESTED and principal.org_id == f.spoc_org_id,
        }
        for f in forwardings
    ]
    significant = incident.significance == "significant"
    return {
        "informs": rows,
        "forwardings": forward_rows,
        "can_inform": can_inform and significant,
        "form": form or FormState(values={"enisa": "yes"}),
        "shown": bool(rows or forward_rows or (can_inform and significant)),
    }


def _render_failed(
    request: Request, db: DB, principal: Principal, incident_id: str, exc: Exception, values: dict[str, Any]
) -> Response:
    from cybercrisis.web.incident_page import render_incident

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
    check_csrf(request, db, csrf_token)
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
    check_csrf(request, db, csrf_token)
    try:
        flows.forward(db, actor=principal, forwarding_id=forwarding_id)
    except (InvalidInput, Conflict, PermissionDenied) as exc:
        return _render_failed(request, db, principal, incident_id, exc, {})
    return see_other(f"/incidents/{incident_id}#member-states")
