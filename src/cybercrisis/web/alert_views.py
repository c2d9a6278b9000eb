"""Early-warning pages: the list with what waits for my organisation, the send form, and acknowledging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.alerts import service
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.deps import DB
from cybercrisis.errors import InvalidInput
from cybercrisis.pagination import Page
from cybercrisis.web import alert_form, queries
from cybercrisis.web.forms import FormState
from cybercrisis.web.pagedeps import PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()
PAGE_SIZE = 25
Csrf = Annotated[str, Form(max_length=100)]


@dataclass(frozen=True, slots=True)
class AlertRow:
    alert: Alert
    sender: queries.OrgRef | None
    acknowledged: int
    recipients: int
    mine: AlertRecipient | None  # my organisation's acknowledgement, if it is a recipient
    sent_by_us: bool


def _row(alert: Alert, principal: Principal, orgs: dict[str, queries.OrgRef]) -> AlertRow:
    return AlertRow(
        alert=alert,
        sender=orgs.get(alert.owner_org_id),
        acknowledged=sum(1 for r in alert.recipients if r.acknowledged_at is not None),
        recipients=len(alert.recipients),
        mine=next((r for r in alert.recipients if r.org_id == principal.org_id), None),
        sent_by_us=alert.owner_org_id == principal.org_id,
    )


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    pending: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    error, code = None, 200
    try:
        page = service.list_alerts(
            db, principal=principal, pending_for_me=bool(pending), cursor=cursor or None, limit=PAGE_SIZE
        )
    except InvalidInput as exc:
        # A hand-edited cursor: the page with the message rather than an error page.
        page, error, code = Page([], None), exc.detail, 422
    orgs = queries.org_refs(db, (a.owner_org_id for a in page.items))
    query = {"pending": "yes"} if pending else {}
    return render(
        request,
        "alerts.html",
        {
            "rows": [_row(a, principal, orgs) for a in page.items],
            "pending": bool(pending),
            "error": error,
            # Acknowledging from the list comes back to the same page of it.
            "here": f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path,
            "can_send": principal.has(Permission.ALERT_SEND),
            # Acknowledging is an act for the organisation: a viewer sees the state, not the button.
            "can_acknowledge": principal.has(Permission.ALERT_ACKNOWLEDGE),
            "next_url": f"/alerts?{urlencode({**query, 'cursor': page.next})}" if page.next else None,
            "first_url": (f"/alerts?{urlencode(query)}" if query else "/alerts") if cursor else None,
        },
        status=code,
    )


def _new_form(request: Request, db: Session, principal: Principal, form: FormState, *, status: int = 200) -> Response:
    choices = alert_form.alert_choices(db, principal, incident_id=str(form.values.get("incident") or ""))
    return render(request, "alert_new.html", {"form": form, **choices}, status=status)


@router.get("/alerts/new", response_class=HTMLResponse)
def new_alert_form(
    *, request: Request, db: DB, principal: PagePrincipal, incident: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    principal.require(Permission.ALERT_SEND)
    about = alert_form.readable_incident(db, principal, incident)
    return _new_form(request, db, principal, FormState(values=alert_form.new_alert_defaults(db, about)))


@router.post("/alerts")
def send_alert(
    *, request: Request, db: DB, principal: PagePrincipal, data: Annotated[alert_form.AlertForm, Form()]
) -> Response:
    check_csrf(request, db, data.csrf_token)
    principal.require(Permission.ALERT_SEND)
    values = data.model_dump(exclude={"csrf_token"})
    try:
        body = alert_form.to_alert_in(data)
        alert = service.send_alert(
            db,
            actor=principal,
            title=body.title,
            body=body.body,
            tlp=body.tlp,
            organisations=body.recipients.organisations,
            communities=body.recipients.communities,
            incident_id=body.incident,
            remind_after_minutes=body.remind_after_minutes,
            escalate_after_minutes=body.escalate_after_minutes,
            exercise=body.exercise,
        )
    except InvalidInput as exc:
        db.rollback()
        return _new_form(request, db, principal, alert_form.failed(exc, values), status=422)
    return see_other(f"/alerts/{alert.id}")


def _back(value: str, alert_id: str) -> str:
    """Where the acknowledge button was pressed: an alert page or the list (with its filter); nowhere else."""
    return value if value.startswith("/alerts") else f"/alerts/{alert_id}"


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    *,
    alert_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    back: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    check_csrf(request, db, csrf_token)
    service.acknowledge(db, actor=principal, alert_id=alert_id)
    return see_other(_back(back, alert_id))
