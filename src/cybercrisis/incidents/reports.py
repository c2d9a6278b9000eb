"""NIS2 reports: versioned submissions, the fields each kind carries, the clocks that follow from them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.errors import Conflict
from cybercrisis.incidents import deadlines, significance, tasks
from cybercrisis.incidents.common import CLOCK_SKEW, bad, check_writer, get_incident
from cybercrisis.incidents.correlation import add_sightings, normalise_observables
from cybercrisis.incidents.models import (
    Incident,
    Report,
    ReportKind,
    ReportSubmission,
)
from cybercrisis.incidents.schemas import ReportIn

REPORT_FIELDS: dict[str, set[str]] = {
    "early-warning": {"summary", "suspected_malicious", "cross_border"},
    "notification": {"summary", "severity_and_impact", "indicators"},
    "intermediate": {"summary", "severity_and_impact", "mitigation_ongoing"},
    "final": {
        "summary",
        "severity_and_impact",
        "root_cause",
        "mitigation_applied",
        "mitigation_ongoing",
        "cross_border_impact",
    },
    "progress": {"summary", "mitigation_ongoing"},
    "feedback": {"summary", "guidance", "law_enforcement_guidance"},
}


def reports_of(session: Session, incident_id: str) -> list[Report]:
    order = [k.value for k in ReportKind]
    rows = list(session.scalars(select(Report).where(Report.incident_id == incident_id)))
    return sorted(rows, key=lambda r: (order.index(r.kind), r.created_at))


def submit_report(session: Session, *, actor: Principal, incident_id: str, data: ReportIn) -> Report:
    """A new version of a report; NIS2 fields per kind; later deadlines follow from this one."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    kinds = [k.value for k in ReportKind]
    if data.kind not in kinds:
        raise bad("kind", f"'{data.kind}' is not a report kind; valid: {', '.join(kinds)}")
    if data.kind == ReportKind.FEEDBACK:
        check_writer(actor, incident, "incident.feedback")
    else:
        check_writer(actor, incident, "incident.report")
    now = utcnow()
    at = _check_report(data, incident, now)
    reports = reports_of(session, incident.id)
    report = _open_report(session, incident, reports, data.kind)
    content = data.model_dump(mode="json", exclude={"kind", "submitted_at"}, exclude_none=True)
    if data.indicators:
        values = normalise_observables(data.indicators)
        add_sightings(session, incident.id, values)
        content["indicators"] = [{"type": t, "value": v} for t, v, _ in values]
    report.version += 1
    report.submitted_at = report.submitted_at or at
    report.submitted_by_id = report.submitted_by_id or actor.user_id
    report.content = content
    session.add(
        ReportSubmission(
            report_id=report.id, version=report.version, submitted_at=at, submitted_by_id=actor.user_id, content=content
        )
    )
    if data.kind == ReportKind.EARLY_WARNING:
        _after_early_warning(session, incident, report, data, reports)
    session.flush()
    refresh_final_due(session, incident)
    audit.record(
        session,
        actor=actor,
        tag="incidents:report:submit",
        object_id=report.id,
        summary={
            "incident": incident.id,
            "kind": data.kind,
            "version": report.version,
            "status": report.status_at(now),
        },
    )
    audit.record(
        session,
        actor=actor,
        tag="incidents:incident:report",
        object_id=incident.id,
        summary={"kind": data.kind, "report": report.id, "version": report.version},
    )
    tasks.notify(
        session,
        incident=incident,
        event="incidents:report:submit",
        org_ids=[o for o in tasks.involved(session, incident) if o != actor.org_id],
        text=f"A {data.kind} report (version {report.version}) was submitted.",
        dedupe=f"submit:{report.id}:{report.version}",
        extra={"report": report.id, "kind": data.kind},
        actor=actor,
    )
    return report


def _open_report(session: Session, incident: Incident, reports: list[Report], kind: str) -> Report:
    """The obligation this submission answers (an open intermediate request, or the one report of its kind)."""
    for r in reports:
        if r.kind == kind and (kind != "intermediate" or r.submitted_at is None):
            return r
    if kind == ReportKind.FEEDBACK:
        raise Conflict("there is no early warning to answer yet")
    report = Report(id=new_id("report"), incident_id=incident.id, kind=kind, due_at=None)
    session.add(report)
    session.flush()
    return report


def _after_early_warning(
    session: Session, incident: Incident, report: Report, data: ReportIn, reports: list[Report]
) -> None:
    """The early warning states malice and cross-border impact; the CSIRT's 24 h answer clock starts."""
    if data.suspected_malicious is not None:
        incident.suspected_malicious = data.suspected_malicious
    if data.cross_border is not None:
        incident.cross_border = data.cross_border
    if not any(r.kind == "feedback" for r in reports):
        due = deadlines.feedback_due(report.submitted_at) if significance.clocks_run(incident) else None
        session.add(Report(id=new_id("report"), incident_id=incident.id, kind=ReportKind.FEEDBACK.value, due_at=due))


def _check_report(data: ReportIn, incident: Incident, now: datetime) -> datetime:
    """The fields fit the kind and the time is possible; returns the submission time."""
    given = {k for k, v in data.model_dump(exclude={"kind", "submitted_at"}).items() if v not in (None, "", [])}
    extra = sorted(given - REPORT_FIELDS[data.kind])
    if extra:
        raise bad(
            extra[0],
            f"a {data.kind} report does not carry {', '.join(extra)}; it carries: "
            f"{', '.join(sorted(REPORT_FIELDS[data.kind]))}",
        )
    at = data.submitted_at or now
    if at.tzinfo is None:
        raise bad("submitted_at", "give a time zone")
    if at > now + CLOCK_SKEW:
        raise bad("submitted_at", "a report cannot be submitted in the future")
    if at < incident.aware_at:
        raise bad("submitted_at", f"a report cannot precede awareness ({incident.aware_at.isoformat()})")
    return at


def refresh_final_due(session: Session, incident: Incident) -> None:
    reports = {r.kind: r for r in reports_of(session, incident.id) if r.kind in ("notification", "progress", "final")}
    final = reports.get("final")
    if final is None or final.submitted_at is not None:
        return
    if not significance.clocks_run(incident):
        final.due_at = None
        return
    note, progress = reports.get("notification"), reports.get("progress")
    final.due_at = deadlines.final_due(
        notification_submitted_at=note.submitted_at if note else None,
        progress_submitted_at=progress.submitted_at if progress else None,
        handled_at=incident.handled_at,
    )


def request_intermediate(session: Session, *, actor: Principal, incident_id: str, due_at: datetime) -> Report:
    """The CSIRT or authority asks for an intermediate report (NIS2 Art. 23(4)(c))."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    check_writer(actor, incident, "incident.request-intermediate")
    if not significance.clocks_run(incident):
        raise Conflict(
            "intermediate reports are asked for significant incidents (NIS2 Art. 23(4)(c)); this one is "
            f"{incident.significance}{' and exercise data' if incident.exercise else ''}: decide its significance first"
        )
    now = utcnow()
    if due_at.tzinfo is None or due_at <= now:
        raise bad("due_at", "the due time must be in the future, with a time zone")
    report = Report(
        id=new_id("report"),
        incident_id=incident.id,
        kind=ReportKind.INTERMEDIATE.value,
        due_at=due_at,
        requested_at=now,
    )
    session.add(report)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="incidents:report:request",
        object_id=report.id,
        summary={"incident": incident.id, "due_at": due_at.isoformat()},
    )
    return report


def open_overdue(now: datetime) -> Any:
    return and_(Report.submitted_at.is_(None), Report.due_at.is_not(None), Report.due_at < now)


def deadlines_for(
    session: Session, *, principal: Principal, status: str | None, soon_hours: int = 24, limit: int = 500
) -> list[tuple[Report, Incident]]:
    """Open reports of incidents the reader may see: overdue, due (within `soon_hours`: due-soon), or all open."""
    now = utcnow()
    query = (
        select(Report, Incident)
        .join(Incident, Incident.id == Report.incident_id)
        .where(read_filter(principal, Incident), Report.submitted_at.is_(None), Report.due_at.is_not(None))
    )
    if status == "overdue":
        query = query.where(Report.due_at < now)
    elif status == "due-soon":
        query = query.where(Report.due_at >= now, Report.due_at < now + timedelta(hours=soon_hours))
    elif status not in (None, "", "open"):
        raise bad("status", "status is overdue, due-soon or open")
    return [(row[0], row[1]) for row in session.execute(query.order_by(Report.due_at).limit(limit))]
