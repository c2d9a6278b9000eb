"""Incident notifications and the restart-safe NIS2 deadline sweep run by the job runner.

Messages go only to organisations that may read the incident, through an organisation-level principal that is
named in no share list: TLP:RED content never reaches an organisation channel, only the named users
(notify.service.notify_readers).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.incidents.models import Incident, Report

DUE_SOON = timedelta(hours=6)


def readers_among(session: Session, incident: Incident, org_ids: set[str]) -> list[str]:
    """The organisations, among `org_ids`, whose members may read the incident as an organisation."""
    from cybercrisis.notify.service import org_readers

    return org_readers(session, incident, org_ids)


def involved(session: Session, incident: Incident) -> list[str]:
    """Who an incident's reports concern: the owning CSIRT and the affected entity, when they may read it."""
    orgs = {incident.owner_org_id}
    if incident.entity_org_id:
        orgs.add(incident.entity_org_id)
    return readers_among(session, incident, orgs)


def notify(
    session: Session,
    *,
    incident: Incident,
    event: str,
    org_ids: list[str],
    text: str,
    dedupe: str,
    extra: dict[str, Any] | None = None,
    actor: Principal | None = None,
) -> int:
    """To the organisations among `org_ids` that may read the incident; a TLP:RED one to its named users."""
    from cybercrisis.notify.service import notify_readers

    subject = f"[TLP:{incident.tlp.upper()}] {incident.title}"
    body = f"{text}\n\nIncident: {incident.title} ({incident.id})\nMarking: TLP:{incident.tlp.upper()}\n"
    payload = {"incident": incident.id, "tlp": incident.tlp, "status": incident.status, **(extra or {})}
    return notify_readers(
        session,
        obj=incident,
        event=event,
        org_ids=org_ids,
        subject=subject,
        body=body,
        payload=payload,
        dedupe=dedupe,
        actor=actor,
    )


def sweep_deadlines(factory: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Remind about reports due soon and report overdue ones, each once; safe to run again after a crash."""
    now = now or utcnow()
    stats = {"reminded": 0, "overdue": 0}
    with unit_of_work(factory, write=False) as s:
        due = (
            s.execute(
                select(Report.id)
                .join(Incident, Incident.id == Report.incident_id)
                .where(
                    Incident.origin_node.is_(None),  # a replica's origin reminds its reporters (ADR 0013)
                    Report.submitted_at.is_(None),
                    Report.due_at.is_not(None),
                    or_(
                        and_(Report.due_at < now, Report.overdue_notified_at.is_(None)),
                        and_(Report.due_at >= now, Report.due_at < now + DUE_SOON, Report.reminded_at.is_(None)),
                    ),
                )
            )
            .scalars()
            .all()
        )
    for report_id in due:  # one transaction per report: a failure leaves the others done
        with unit_of_work(factory) as s:
            report = s.get(Report, report_id, with_for_update=s.get_bind().dialect.name == "postgresql")
            if report is None or report.submitted_at is not None or report.due_at is None:
                continue
            incident = s.get(Incident, report.incident_id)
            if incident is None:
                continue
            if report.due_at < now and report.overdue_notified_at is None:
                report.overdue_notified_at = now
                late_by = now - report.due_at
                notify(
                    s,
                    incident=incident,
                    event="incidents:report:overdue",
                    org_ids=involved(s, incident),
                    text=f"The {report.kind} report was due at {report.due_at:%Y-%m-%d %H:%M} UTC and is "
                    f"{_hours(late_by)} overdue.",
                    dedupe=f"overdue:{report.id}",
                    extra={"report": report.id, "kind": report.kind},
                )
                audit.record(
                    s,
                    actor=None,
                    tag="incidents:report:overdue",
                    object_id=report.id,
                    summary={"incident": incident.id, "kind": report.kind, "due_at": report.due_at.isoformat()},
                )
                stats["overdue"] += 1
            elif report.due_at >= now and report.reminded_at is None:
                report.reminded_at = now
                notify(
                    s,
                    incident=incident,
                    event="incidents:report:reminder",
                    org_ids=involved(s, incident),
                    text=f"The {report.kind} report is due at {report.due_at:%Y-%m-%d %H:%M} UTC, in "
                    f"{_hours(report.due_at - now)}.",
                    dedupe=f"reminder:{report.id}",
                    extra={"report": report.id, "kind": report.kind},
                )
                audit.record(
                    s,
                    actor=None,
                    tag="incidents:report:reminder",
                    object_id=report.id,
                    summary={"incident": incident.id, "kind": report.kind},
                )
                stats["reminded"] += 1
    return stats


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} min"
