"""Early warnings: send to organisations and communities, acknowledge, track, remind and escalate."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, exists, func, select, tuple_, update
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.alerts import actions
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.alerts.schemas import AlertIn
from cybercrisis.answers import service as answers
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.models import CommunityMembership, Organisation
from cybercrisis.errors import DomainError, InvalidInput, NotFound, PermissionDenied, in_batch
from cybercrisis.incidents.models import Incident
from cybercrisis.notify.service import notify_readers
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor

SEND, ACK, REMIND, ESCALATE = (
    "alerts:alert:send",
    "alerts:alert:acknowledge",
    "alerts:alert:reminder",
    "alerts:alert:escalate",
)
# Notifications carry the body only where the marking lets it travel by ordinary e-mail to a recipient's desk;
# for AMBER and AMBER+STRICT they say that there is an alert, and the recipient signs in to read it.
BODY_IN_NOTIFICATIONS = frozenset({TLP.CLEAR, TLP.GREEN})


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _resolve_recipients(
    session: Session, *, actor_org: str, marking: TLP, organisations: list[str], communities: list[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """The share list (through the access layer's rules) and the recipient organisations it stands for."""
    if marking == TLP.RED:
        raise _bad("tlp", "TLP:RED is for named people; alerts go to organisations: use TLP:AMBER+STRICT at most")
    if not organisations and not communities:
        raise _bad("recipients", "name at least one organisation or community")
    try:
        entries = sharing.resolve(
            session,
            tlp=marking,
            share_with=ShareWith(organisations=organisations, communities=communities),
            owner_org_id=actor_org,
            author_id=None,
        )
    except InvalidInput as exc:
        # The access layer names its fields after `share_with`; the alert API calls them `recipients`.
        for error in exc.errors:
            error["field"] = str(error.get("field", "")).replace("share_with.", "recipients.", 1)
        raise
    orgs = set(organisations)
    if communities:
        orgs |= set(
            session.scalars(
                select(CommunityMembership.org_id).where(CommunityMembership.community_slug.in_(sorted(communities)))
            )
        )
    orgs.discard(actor_org)
    if not orgs:
        raise _bad("recipients", "no organisation to alert besides your own")
    return entries, sorted(orgs)


def notice(alert: Alert, sender_name: str, *, intro: str) -> tuple[str, str]:
    """Subject and body of a notification about `alert`, limited to what every recipient may read."""
    marking = TLP(alert.tlp)
    prefix = "[EXERCISE] " if alert.exercise else ""
    subject = f"{prefix}[{marking.label}] {intro}: {alert.title}"
    lines = [
        f"{intro} from {sender_name}.",
        "",
        f"Title: {alert.title}",
        f"Marking: {marking.label}",
        f"Alert: {alert.id}",
        f"Sent: {alert.created_at.isoformat(timespec='seconds')}",
    ]
    if alert.incident_id:
        lines.append(f"Incident: {alert.incident_id}")
    if marking in BODY_IN_NOTIFICATIONS:
        lines += ["", alert.body]
    else:
        lines += ["", "Sign in to cybercrisis to read the alert."]
    lines += ["", "Acknowledge it in cybercrisis, or with POST /api/v1/alerts/<id>/acknowledge."]
    return subject, "\n".join(lines)


def payload(alert: Alert) -> dict[str, object]:
    return {
        "alert": alert.id,
        "title": alert.title,
        "tlp": alert.tlp,
        "sender": alert.owner_org_id,
        "incident": alert.incident_id,
        "exercise": alert.exercise,
    }


def org_name(session: Session, org_id: str) -> str:
    org = session.get(Organisation, org_id)
    return org.name if org else org_id


def send_alert(session: Session, *, actor: Principal, data: AlertIn) -> Alert:
    """Send an early warning; recipients are the named organisations and the members of the named communities."""
    title, body, tlp = data.title, data.body, data.tlp
    organisations, communities = data.recipients.organisations, data.recipients.communities
    incident_id, exercise = data.incident, data.exercise
    remind_after_minutes, escalate_after_minutes = data.remind_after_minutes, data.escalate_after_minutes
    authority.authorize(actor, "alert.send", ())
    if actor.org_id is None or actor.user_id is None:
        raise PermissionDenied("alerts are sent by an organisation: act as one of its users")
    marking = sharing.parse_tlp(tlp)
    if escalate_after_minutes < remind_after_minutes:
        raise _bad("escalate_after_minutes", "escalation comes after the reminder, not before")
    entries, recipients = _resolve_recipients(
        session, actor_org=actor.org_id, marking=marking, organisations=organisations, communities=communities
    )
    if incident_id is not None:
        try:
            sharing.get_readable(session, actor, Incident, incident_id)
        except NotFound:
            raise _bad("incident", f"no incident {incident_id} that you may read") from None
    alert = Alert(
        id=new_id("alert"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        title=title.strip(),
        body=body,
        incident_id=incident_id,
        remind_after_minutes=remind_after_minutes,
        escalate_after_minutes=escalate_after_minutes,
        exercise=exercise,
    )
    alert.recipients = [AlertRecipient(org_id=org) for org in recipients]
    session.add(alert)
    session.flush()
    sharing.write(session, object_id=alert.id, entries=entries, added_by=actor.org_id)
    audit.record(
        session,
        actor=actor,
        tag=SEND,
        object_id=alert.id,
        summary={"tlp": marking.value, "recipients": len(recipients), "incident": incident_id},
    )
    announce(session, alert, recipients, actor=actor)
    return alert


def announce(session: Session, alert: Alert, recipients: list[str], *, actor: Principal | None = None) -> None:
    """Tell the recipient organisations that may read it, through their routes on this node: when it is sent, and
    when it arrives here from its origin node (a replica, ADR 0013), whose routes are this node's. Once per alert."""
    subject, text = notice(alert, org_name(session, alert.owner_org_id), intro="Early warning")
    notify_readers(
        session,
        obj=alert,
        event=SEND,
        org_ids=recipients,
        subject=subject,
        body=text,
        payload=payload(alert),
        dedupe=f"{SEND}:{alert.id}",
        actor=actor,
    )


def get_alert(session: Session, *, principal: Principal, alert_id: str) -> Alert:
    return sharing.get_readable(session, principal, Alert, alert_id)


def acknowledge_many(session: Session, *, actor: Principal, alert_ids: list[str]) -> list[Alert]:
    """Acknowledge several early warnings at once for the actor's organisation, all or none: each is read and
    authorised as one acknowledgement is; the first that may not be acknowledged refuses the whole batch, naming
    its place in the list."""
    alerts: list[Alert] = []
    seen: set[str] = set()
    for i, alert_id in enumerate(alert_ids):  # positions as sent, so that alerts[i] names the one refused
        if alert_id in seen:
            continue
        seen.add(alert_id)
        try:
            alert = get_alert(session, principal=actor, alert_id=alert_id)
            acknowledge(session, actor=actor, alert=alert)
        except DomainError as exc:
            raise in_batch(exc, "alerts", i, alert_id) from None
        alerts.append(alert)
    return alerts


def acknowledge(session: Session, *, actor: Principal, alert: Alert) -> AlertRecipient:
    """Acknowledge `alert` (read by the actor) for the actor's organisation; again is harmless and keeps the first
    time."""
    authority.authorize(actor, "alert.acknowledge", actions.relations(actor, alert), held_at=alert.origin_node)
    row = actions.my_recipient(actor, alert)
    assert row is not None  # NAMED: the actor's organisation is a recipient
    if alert.origin_node is not None:
        # Held at another node: the acknowledgement is sent there (ADR 0013) and comes back as a new version.
        if row.acknowledged_at is None:
            answers.queue(session, actor=actor, act="alert.acknowledge", obj=alert)
        return row
    now = utcnow()
    # Conditional, so that two colleagues acknowledging at the same moment record one acknowledgement.
    result = session.execute(
        update(AlertRecipient)
        .where(
            AlertRecipient.alert_id == alert.id,
            AlertRecipient.org_id == row.org_id,
            AlertRecipient.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=now, acknowledged_by_id=actor.user_id)
        .execution_options(synchronize_session=False)
    )
    session.refresh(row)
    if result.rowcount == 0:  # type: ignore[attr-defined]
        return row
    # A new version of the alert, so that the acknowledgement travels to the nodes holding it (its STIX `modified`).
    # Not through the ORM's version check: several organisations acknowledge at once. The row is locked first and
    # `modified` only grows, so the later of two acknowledgements is also the newer version.
    locked = session.execute(
        select(Alert.modified_at)
        .where(Alert.id == alert.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    bumped = max(utcnow(), locked + timedelta(microseconds=1))
    session.execute(
        update(Alert)
        .where(Alert.id == alert.id)
        .values(modified_at=bumped, version=Alert.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(alert, ["modified_at", "version"])
    audit.record(session, actor=actor, tag=ACK, object_id=alert.id, summary={"org": row.org_id})
    who = org_name(session, row.org_id)
    notify_readers(
        session,
        obj=alert,
        event=ACK,
        org_ids=[alert.owner_org_id],
        subject=f"[{TLP(alert.tlp).label}] {who} acknowledged: {alert.title}",
        body=f"{who} acknowledged alert {alert.id} ({alert.title}) at {now.isoformat(timespec='seconds')}.",
        actor=actor,
        payload={**payload(alert), "organisation": row.org_id, "acknowledged_at": now.isoformat()},
        dedupe=f"{ACK}:{alert.id}:{row.org_id}",
    )
    return row


@dataclass(frozen=True, slots=True)
class AckFigures:
    median_seconds: float | None
    max_seconds: float | None
    acknowledged: int
    pending: int


def ack_figures(alert: Alert) -> AckFigures:
    """Time to acknowledge, from sending to each recipient's acknowledgement."""
    waits = [(r.acknowledged_at - alert.created_at).total_seconds() for r in alert.recipients if r.acknowledged_at]
    return AckFigures(
        median_seconds=statistics.median(waits) if waits else None,
        max_seconds=max(waits) if waits else None,
        acknowledged=len(waits),
        pending=len(alert.recipients) - len(waits),
    )


@dataclass(frozen=True, slots=True)
class AlertFilter:
    pending_for_me: bool = False  # alerts the reader's organisation has not acknowledged yet
    incident: str | None = None  # alerts about this incident


def list_alerts(
    session: Session, *, principal: Principal, filters: AlertFilter, cursor: str | None, limit: int
) -> Page[Alert]:
    """Newest first; every row passes the same policy as a single read."""
    query = select(Alert).where(read_filter(principal, Alert))
    if filters.pending_for_me:
        query = query.where(
            exists(
                select(AlertRecipient.alert_id).where(
                    AlertRecipient.alert_id == Alert.id,
                    AlertRecipient.org_id == principal.org_id,
                    AlertRecipient.acknowledged_at.is_(None),
                )
            )
        )
    if filters.incident:
        query = query.where(Alert.incident_id == filters.incident)
    after = decode_cursor(cursor, 2)
    if after:
        query = query.where(tuple_(Alert.created_at, Alert.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit + 1)))
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = encode_cursor([last.created_at.isoformat(), last.id])
    return Page(rows[:limit], nxt)


def recipients_view(alert: Alert) -> tuple[list[AlertRecipient], list[str]]:
    """Acknowledged rows (in order of acknowledgement) and pending organisation ids."""
    done = [r for r in alert.recipients if r.acknowledged_at is not None]
    done.sort(key=lambda r: (r.acknowledged_at or alert.created_at, r.org_id))
    pending = [r.org_id for r in alert.recipients if r.acknowledged_at is None]
    return done, pending


def pending_count_query(principal: Principal) -> Select[int]:
    """How many alerts the reader's organisation has not acknowledged yet (the navigation's badge, `web/badge.py`,
    which reads it in one statement with the audit head). The reader has an organisation.

    The same rows as `list_alerts` with `AlertFilter(pending_for_me=True)`: a recipient that can no longer read an
    alert (it left the community it was sent to) is not asked to acknowledge it.
    """
    return (
        select(func.count())
        .select_from(AlertRecipient)
        .join(Alert, Alert.id == AlertRecipient.alert_id)
        .where(
            AlertRecipient.org_id == principal.org_id,
            AlertRecipient.acknowledged_at.is_(None),
            read_filter(principal, Alert),
        )
    )
