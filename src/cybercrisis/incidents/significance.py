"""NIS2 significance as a decision with a record, and the Art. 23(4) clocks that follow from it.

An incident starts as *reported*. A person of the recording organisation or of the affected entity decides whether
it is *significant* (NIS2 Art. 6(3) and 23(3), with the criteria of Implementing Regulation (EU) 2024/2690 shown
as a suggestion by incidents/assessment.py), *not significant*, a *near miss* (Art. 6(5), notified voluntarily
under Art. 30) or *outside NIS2* (Art. 2). Each decision is kept with who took it, when, why and what the rules
suggested at that moment.

The Art. 23(4) clocks (early warning 24 h, incident notification 72 h or 24 h for trust service providers, final
report one month after the notification; intermediate reports on request) and the CSIRT's Art. 23(5) feedback run
only for a significant incident, from the entity's awareness as always (so an early warning already late when the
decision is taken shows as late), stop when the incident is no longer significant, and never run for exercise
data. Reports already submitted stay as they were: they are the record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.db import utcnow
from cybercrisis.errors import Conflict
from cybercrisis.incidents import deadlines
from cybercrisis.incidents.common import bad, check_writer, get_incident
from cybercrisis.incidents.models import Incident, Report, ReportKind, Significance, SignificanceDecision

# What each decision means, in the words of the law; shown by the API and the incident page.
MEANING: dict[str, str] = {
    Significance.REPORTED: "recorded; whether it is significant is not decided yet, so no NIS2 clock runs",
    Significance.SIGNIFICANT: "a significant incident (NIS2 Art. 23(3)): the entity's Art. 23(4) reporting clocks run "
    "from its awareness",
    Significance.NOT_SIGNIFICANT: "not a significant incident (NIS2 Art. 23(3)): no Art. 23(4) obligation",
    Significance.NEAR_MISS: "a near miss (NIS2 Art. 6(5)), notified voluntarily (Art. 30): no Art. 23(4) obligation",
    Significance.OUTSIDE_NIS2: "outside the scope of NIS2 (Art. 2): no Art. 23(4) obligation",
}
DECIDABLE = tuple(s.value for s in Significance if s != Significance.REPORTED)


def clocks_run(incident: Incident) -> bool:
    """Whether NIS2 Art. 23(4)-(5) deadlines apply: a significant incident that is not exercise data."""
    return incident.significance == Significance.SIGNIFICANT and not incident.exercise


def apply_clocks(session: Session, incident: Incident) -> None:
    """Set or clear the due times of the incident's open reports after its significance (or exercise flag) changed.

    Open means not submitted: a submitted report keeps its due time, so that whether it was on time stays known.
    """
    reports = list(session.scalars(select(Report).where(Report.incident_id == incident.id)))
    running = clocks_run(incident)
    submitted = {r.kind: r.submitted_at for r in reports if r.submitted_at is not None}
    for report in reports:
        if report.submitted_at is not None:
            continue
        if not running:
            report.due_at = None
            continue
        report.due_at = _due(incident, report, submitted)


def _due(incident: Incident, report: Report, submitted: dict[str, datetime]) -> datetime | None:
    kind = report.kind
    if kind == ReportKind.EARLY_WARNING:
        return deadlines.early_warning_due(incident.aware_at)
    if kind == ReportKind.NOTIFICATION:
        return deadlines.notification_due(incident.aware_at, incident.entity_type)
    if kind == ReportKind.FEEDBACK:
        return deadlines.feedback_due(submitted.get(ReportKind.EARLY_WARNING))
    if kind == ReportKind.FINAL:
        return deadlines.final_due(
            notification_submitted_at=submitted.get(ReportKind.NOTIFICATION),
            progress_submitted_at=submitted.get(ReportKind.PROGRESS),
            handled_at=incident.handled_at,
        )
    # An intermediate report (Art. 23(4)(c)) is due when the CSIRT says; a request whose clock a downgrade stopped
    # is not revived: the CSIRT asks again.
    return None


def record(
    session: Session,
    *,
    incident: Incident,
    value: str,
    reason: str,
    actor: Principal | None,
    suggestion: dict[str, Any] | None,
) -> SignificanceDecision:
    """Store a decision (no authority check: callers check), move the clocks, and audit it."""
    if value not in DECIDABLE:
        raise bad("value", f"'{value}' is not a decision; valid: {', '.join(DECIDABLE)}")
    reason = reason.strip()
    if not reason:
        raise bad("reason", "say why (the rule, the fact or the judgement the decision rests on)")
    previous = incident.significance
    decision = SignificanceDecision(
        incident_id=incident.id,
        value=value,
        previous=previous,
        reason=reason,
        suggestion=suggestion or {},
        decided_at=utcnow(),
        decided_by_id=actor.user_id if actor else None,
        decided_by_org_id=actor.org_id if actor else None,
    )
    session.add(decision)
    incident.significance = value
    incident.modified_at = utcnow()
    session.flush()
    apply_clocks(session, incident)
    audit.record(
        session,
        actor=actor,
        tag="incidents:significance:decide",
        object_id=incident.id,
        summary={"from": previous, "to": value, "clocks": clocks_run(incident)},
    )
    return decision


def decide(
    session: Session,
    *,
    actor: Principal,
    incident_id: str,
    value: str,
    reason: str,
    suggestion: dict[str, Any] | None = None,
) -> SignificanceDecision:
    """A person of the recording organisation or of the affected entity decides the incident's significance."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    check_writer(actor, incident, "incident.decide-significance")
    if value == incident.significance:
        raise Conflict(f"the incident is already {value}; a decision changes it")
    return record(session, incident=incident, value=value, reason=reason, actor=actor, suggestion=suggestion)


def history(session: Session, incident: Incident) -> list[SignificanceDecision]:
    return list(
        session.scalars(
            select(SignificanceDecision)
            .where(SignificanceDecision.incident_id == incident.id)
            .order_by(SignificanceDecision.decided_at, SignificanceDecision.id)
        )
    )
