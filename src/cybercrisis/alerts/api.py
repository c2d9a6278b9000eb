"""Alerts API. An alert the reader may not see answers 404; acknowledging one that is not for you, 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cybercrisis.access import sharing
from cybercrisis.access.principal import Principal
from cybercrisis.alerts import service
from cybercrisis.alerts.actions import my_recipient
from cybercrisis.alerts.deps import CurrentAlert
from cybercrisis.alerts.models import Alert
from cybercrisis.alerts.schemas import (
    AcknowledgedOut,
    AcknowledgeManyIn,
    Acknowledgement,
    AlertIn,
    AlertOut,
    AlertPage,
    AlertSummary,
    TimeToAcknowledge,
)
from cybercrisis.answers import service as answers
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.schemas import AnswerOut, TimelineEntry, held_at

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


def alert_out(db: DB, a: Alert, principal: Principal) -> AlertOut:
    done, pending = service.recipients_view(a)
    figures = service.ack_figures(a)
    return AlertOut(
        id=a.id,
        title=a.title,
        body=a.body,
        tlp=a.tlp,
        owner=a.owner_org_id,
        created_by=a.created_by_id,
        created=a.created_at,
        incident=a.incident_id,
        exercise=a.exercise,
        remind_after_minutes=a.remind_after_minutes,
        escalate_after_minutes=a.escalate_after_minutes,
        share_with=sharing.share_list(sharing.shares_of(db, a.id)),
        acknowledged=[
            Acknowledgement(organisation=r.org_id, at=r.acknowledged_at, by=r.acknowledged_by_id)
            for r in done
            if r.acknowledged_at is not None
        ],
        pending=pending,
        time_to_acknowledge=TimeToAcknowledge(
            median_seconds=figures.median_seconds,
            max_seconds=figures.max_seconds,
            acknowledged=figures.acknowledged,
            pending=figures.pending,
        ),
        held_at=held_at(db, a),
        answers=[AnswerOut.of(x) for x in answers.of_organisation(db, principal=principal, object_ids=[a.id])]
        if a.origin_node
        else [],
    )


def _summary(a: Alert, principal: Principal) -> AlertSummary:
    mine = my_recipient(principal, a)
    acknowledged = sum(1 for r in a.recipients if r.acknowledged_at is not None)
    return AlertSummary(
        id=a.id,
        title=a.title,
        tlp=a.tlp,
        owner=a.owner_org_id,
        created=a.created_at,
        incident=a.incident_id,
        exercise=a.exercise,
        acknowledged=acknowledged,
        pending=len(a.recipients) - acknowledged,
        acknowledged_by_me=None if mine is None else mine.acknowledged_at is not None,
    )


@router.post("", status_code=201, operation_id="send_alert", response_model=AlertOut)
def send_alert(body: AlertIn, db: DB, principal: CurrentPrincipal) -> AlertOut:
    alert = service.send_alert(db, actor=principal, data=body)
    return alert_out(db, alert, principal)


@router.get("", operation_id="list_alerts", response_model=AlertPage)
def list_alerts(
    db: DB,
    principal: CurrentPrincipal,
    pending_for_me: bool = False,
    incident: Annotated[str | None, Query(max_length=120)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> AlertPage:
    filters = service.AlertFilter(pending_for_me=pending_for_me, incident=incident)
    page = service.list_alerts(db, principal=principal, filters=filters, cursor=cursor, limit=limit)
    return AlertPage(items=[_summary(a, principal) for a in page.items], next=page.next)


@router.post("/acknowledge", operation_id="acknowledge_alerts", response_model=AcknowledgedOut)
def acknowledge_alerts(body: AcknowledgeManyIn, db: DB, principal: CurrentPrincipal) -> AcknowledgedOut:
    """Acknowledge several early warnings at once for your organisation (a duty desk back after a night of them).
    All or none: one you may not acknowledge refuses the batch with its status (404 unknown or unreadable, 403 not
    addressed to your organisation), naming it as `alerts[i]`; acknowledging one again is harmless."""
    done = service.acknowledge_many(db, actor=principal, alert_ids=body.alerts)
    return AcknowledgedOut(acknowledged=[a.id for a in done])


@router.get("/{alert_id}", operation_id="get_alert", response_model=AlertOut)
def get_alert(alert: CurrentAlert, db: DB, principal: CurrentPrincipal) -> AlertOut:
    return alert_out(db, alert, principal)


@router.post("/{alert_id}/acknowledge", operation_id="acknowledge_alert", response_model=AlertOut)
def acknowledge_alert(alert: CurrentAlert, db: DB, principal: CurrentPrincipal) -> AlertOut:
    service.acknowledge(db, actor=principal, alert=alert)
    return alert_out(db, alert, principal)


@router.get("/{alert_id}/timeline", operation_id="alert_timeline", response_model=list[TimelineEntry])
def alert_timeline(alert: CurrentAlert, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
    return [timeline_out(e) for e in audit.timeline(db, reader=principal, object_id=alert.id)]
