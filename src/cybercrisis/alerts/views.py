"""Early-warning pages: the list with what waits for my organisation, the send form, acknowledging, and one alert:
marking, text, who acknowledged and when, who has not, reminders, escalation, timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.alerts import service
from cybercrisis.alerts.actions import allowed_actions, my_recipient
from cybercrisis.alerts.deps import PageAlert
from cybercrisis.alerts.forms import AlertForm, alert_choices, new_alert_defaults, readable_incident, to_alert_in
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.answers import service as answers
from cybercrisis.deps import DB
from cybercrisis.errors import InvalidInput
from cybercrisis.pagination import Page
from cybercrisis.schemas import held_at
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render
from cybercrisis.web.timeline import object_timeline

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
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
    actions: frozenset[str]  # what the reader may do with it (`actions.allowed_actions`)


def _row(alert: Alert, principal: Principal, orgs: dict[str, queries.OrgRef]) -> AlertRow:
    return AlertRow(
        alert=alert,
        sender=orgs.get(alert.owner_org_id),
        acknowledged=sum(1 for r in alert.recipients if r.acknowledged_at is not None),
        recipients=len(alert.recipients),
        mine=my_recipient(principal, alert),
        sent_by_us=alert.owner_org_id == principal.org_id,
        actions=allowed_actions(principal, alert),
    )


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    pending: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
    acknowledged: Annotated[str, Query(max_length=4)] = "",
) -> Response:
    error, code = None, 200
    try:
        filters = service.AlertFilter(pending_for_me=bool(pending))
        page = service.list_alerts(db, principal=principal, filters=filters, cursor=cursor or None, limit=PAGE_SIZE)
    except InvalidInput as exc:
        # A hand-edited cursor: the page with the message rather than an error page.
        page, error, code = Page([], None), exc.detail, 422
    orgs = queries.org_refs(db, (a.owner_org_id for a in page.items))
    query = {"pending": "yes"} if pending else {}
    rows = [_row(a, principal, orgs) for a in page.items]
    return render(
        request,
        "alerts.html",
        {
            "rows": rows,
            # Those this reader may acknowledge now: ticked and acknowledged together when there are several.
            "ackable": [
                r for r in rows if r.mine and r.mine.acknowledged_at is None and "alert.acknowledge" in r.actions
            ],
            "pending": bool(pending),
            "error": error,
            # Acknowledging from the list comes back to the same page of it (without the last confirmation).
            "here": _here(request),
            "acknowledged": int(acknowledged) if acknowledged.isdigit() else 0,
            "can_send": principal.has(Permission.ALERT_SEND),
            "next_url": f"/alerts?{urlencode({**query, 'cursor': page.next})}" if page.next else None,
            "first_url": (f"/alerts?{urlencode(query)}" if query else "/alerts") if cursor else None,
        },
        status=code,
    )


def _here(request: Request) -> str:
    kept = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "acknowledged"])
    return f"{request.url.path}?{kept}" if kept else request.url.path


def _new_form(request: Request, db: Session, principal: Principal, form: FormState, *, status: int = 200) -> Response:
    choices = alert_choices(db, principal, incident_id=str(form.values.get("incident") or ""))
    return render(request, "alert_new.html", {"form": form, **choices}, status=status)


@router.get("/alerts/new", response_class=HTMLResponse)
def new_alert_form(
    *, request: Request, db: DB, principal: PagePrincipal, incident: Annotated[str, Query(max_length=200)] = ""
) -> Response:
    principal.require(Permission.ALERT_SEND)
    about = readable_incident(db, principal, incident)
    return _new_form(request, db, principal, FormState(values=new_alert_defaults(db, about)))


@router.post("/alerts")
def send_alert(*, request: Request, db: DB, principal: PagePrincipal, data: Annotated[AlertForm, Form()]) -> Response:
    principal.require(Permission.ALERT_SEND)
    values = data.entered()
    try:
        alert = service.send_alert(db, actor=principal, data=to_alert_in(data))
    except InvalidInput as exc:
        db.rollback()
        return _new_form(request, db, principal, FormState.failed(exc, values), status=422)
    return see_other(f"/alerts/{alert.id}")


# Audit tags of an alert's timeline, in words.
EVENT_LABELS = {
    service.SEND: "Sent",
    service.ACK: "Acknowledged",
    service.REMIND: "Reminder sent",
    service.ESCALATE: "Escalated to the 24/7 contacts",
}


def duration(seconds: float | None) -> str:
    """A wait in the largest units that keep it readable: 45 s, 12 min, 1 h 05 min, 2 d 3 h."""
    if seconds is None:
        return "—"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@dataclass(frozen=True, slots=True)
class RecipientRow:
    org_id: str
    org: queries.OrgRef | None
    acknowledged_at: datetime | None
    by: str | None  # the person, named to readers of the same organisation only
    waited: str | None
    reminded_at: datetime | None
    escalated_at: datetime | None


def _recipient_rows(db: Session, principal: Principal, alert: Alert) -> list[RecipientRow]:
    """Pending organisations first (by name), then the acknowledged ones in the order they acknowledged."""
    done, pending = service.recipients_view(alert)
    orgs = queries.org_refs(db, (r.org_id for r in alert.recipients))
    # Other organisations' staff are named by organisation only, as on the document and incident pages.
    emails = queries.user_emails(db, (r.acknowledged_by_id or "" for r in done if r.org_id == principal.org_id))
    by_org = {r.org_id: r for r in alert.recipients}
    waiting = sorted(pending, key=lambda o: orgs[o].short_name.lower() if o in orgs else o)
    rows = []
    for org_id in [*waiting, *(r.org_id for r in done)]:
        r = by_org[org_id]
        waited = (r.acknowledged_at - alert.created_at).total_seconds() if r.acknowledged_at else None
        rows.append(
            RecipientRow(
                org_id=org_id,
                org=orgs.get(org_id),
                acknowledged_at=r.acknowledged_at,
                by=emails.get(r.acknowledged_by_id or ""),
                waited=duration(waited) if waited is not None else None,
                reminded_at=r.reminded_at,
                escalated_at=r.escalated_at,
            )
        )
    return rows


def render_alert(request: Request, db: Session, principal: Principal, alert: Alert) -> Response:
    held = held_at(db, alert)
    mine = my_recipient(principal, alert)
    incident = readable_incident(db, principal, alert.incident_id or "")
    figures = service.ack_figures(alert)
    sent_to = queries.recipients(db, sharing.shares_of(db, alert.id))
    same_org = principal.org_id == alert.owner_org_id
    return render(
        request,
        "alert.html",
        {
            "alert": alert,
            "tlp": TLP(alert.tlp),
            "sender": queries.org_refs(db, [alert.owner_org_id]).get(alert.owner_org_id),
            "author": queries.user_emails(db, [alert.created_by_id or ""]).get(alert.created_by_id or "")
            if same_org
            else None,
            "incident": incident,
            # The alert may reach organisations that may not read the incident it is about: they get its id only.
            "incident_hidden": alert.incident_id is not None and incident is None,
            "mine": mine,
            "held": held,
            "held_org": queries.held_by(db, held),
            # The newest act of the reader's organisation sent to the node that holds this alert, if it is held there.
            "answer": next(iter(answers.of_organisation(db, principal=principal, object_ids=[alert.id])), None)
            if alert.origin_node
            else None,
            # Acknowledging is an act for the organisation: a viewer sees the state, not the button.
            "can_acknowledge": "alert.acknowledge" in allowed_actions(principal, alert),
            "my_ack_by": queries.user_emails(db, [mine.acknowledged_by_id or ""]).get(mine.acknowledged_by_id or "")
            if mine is not None and mine.acknowledged_at is not None
            else None,
            "sent_to": sent_to,
            "rows": _recipient_rows(db, principal, alert),
            "figures": figures,
            "median": duration(figures.median_seconds),
            "slowest": duration(figures.max_seconds),
            "remind_at": alert.created_at + timedelta(minutes=alert.remind_after_minutes),
            "escalate_at": alert.created_at + timedelta(minutes=alert.escalate_after_minutes),
            # The incident is shown at the top of the page; in the timeline its id is noise.
            **object_timeline(db, principal, alert.id, labels=EVENT_LABELS, omit=lambda k, _: k == "incident"),
        },
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(*, alert: PageAlert, request: Request, db: DB, principal: PagePrincipal) -> Response:
    return render_alert(request, db, principal, alert)


def _back(value: str, alert_id: str) -> str:
    """Where the acknowledge button was pressed: an alert page, the list (with its filter) or My work; nowhere else."""
    if value == "/my-work":
        return "/my-work?done=acknowledged"
    return value if value.startswith("/alerts") else f"/alerts/{alert_id}"


@router.post("/alerts/acknowledge")
def acknowledge_selected(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    alerts: Annotated[list[str] | None, Form(max_length=200)] = None,
    back: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    """The list's "Acknowledge selected": all of the ticked early warnings, or none."""
    chosen = list(dict.fromkeys(a for a in alerts or [] if a))
    if not chosen:
        return see_other(_back(back, "") if back.startswith("/alerts") else "/alerts")
    service.acknowledge_many(db, actor=principal, alert_ids=chosen)
    target = back if back.startswith("/alerts") else "/alerts"
    return see_other(f"{target}{'&' if '?' in target else '?'}acknowledged={len(chosen)}")


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    *,
    alert: PageAlert,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    back: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    service.acknowledge(db, actor=principal, alert=alert)
    return see_other(_back(back, alert.id))
