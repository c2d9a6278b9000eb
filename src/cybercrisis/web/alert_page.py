"""One early warning: marking, text, who acknowledged and when, who has not, reminders, escalation, timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.alerts import service
from cybercrisis.alerts.models import Alert
from cybercrisis.audit import service as audit
from cybercrisis.deps import DB
from cybercrisis.web import alert_form, queries
from cybercrisis.web.pagedeps import PagePrincipal
from cybercrisis.web.render import render

router = APIRouter()

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


def _timeline(db: Session, principal: Principal, alert: Alert) -> dict[str, Any]:
    events = audit.timeline(db, reader=principal, object_id=alert.id)
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events if e.actor_org_id == principal.org_id))
    entries: list[dict[str, Any]] = [
        {
            "at": e.occurred_at,
            "what": EVENT_LABELS.get(e.tag, e.tag),
            "org": orgs.get(e.actor_org_id or ""),
            "user": emails.get(e.actor_user_id or ""),
            # The incident is shown at the top of the page; in the timeline its id is noise.
            "summary": {k: v for k, v in e.summary.items() if k != "incident"},
        }
        for e in events
    ]
    return {"timeline": entries, "timeline_names": queries.org_names_in(db, (e["summary"] for e in entries))}


def render_alert(request: Request, db: Session, principal: Principal, alert: Alert) -> Response:
    mine = next((r for r in alert.recipients if r.org_id == principal.org_id), None)
    incident = alert_form.readable_incident(db, principal, alert.incident_id or "")
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
            "can_acknowledge": principal.has(Permission.ALERT_ACKNOWLEDGE),
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
            **_timeline(db, principal, alert),
        },
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(*, alert_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    alert = service.get_alert(db, principal=principal, alert_id=alert_id)
    return render_alert(request, db, principal, alert)
