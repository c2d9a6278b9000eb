"""My work: what waits on the reader's organisation now, and that the reader may do, most urgent first (issue 19).

Each item is derived from the state of the objects it is about, never stored: an agreement the crisis's next step
needs, a statement to approve, offers to accept or decline, a request for assistance to answer, an action due, a
NIS2 report due, an early warning to acknowledge. Every object is read through the read policy
(`access.policy.read_filter`), and an item is listed only when the authority policy (`access.authority`) lets the
reader take the act it asks for, so that My work never offers what the service would refuse. An item is gone as
soon as it is done, by anyone of the organisation, anywhere it can be done.

Order: overdue first (oldest deadline first), then what has a deadline (soonest first), then the rest (oldest
first). The deadlines are the objects' own: an action's due time, a NIS2 report's (Directive (EU) 2022/2555
Art. 23(4)), an assistance request's response target (the deployment's setting). The order is the deployment's
rule, not law.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from cybercrisis.access import authority
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.alerts import actions as alert_actions
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.assistance import service as assistance
from cybercrisis.assistance.models import AssistanceRequest, Offer, OfferState, RequestState
from cybercrisis.comms import actions as comm_actions
from cybercrisis.comms.models import CommState, Communication
from cybercrisis.comms.reading import waiting_for_many
from cybercrisis.crises import escalations
from cybercrisis.crises.escalation import EscalationModel
from cybercrisis.crises.models import (
    Action,
    ActionStatus,
    Crisis,
    CrisisStatus,
    Escalation,
    EscalationState,
)
from cybercrisis.db import utcnow
from cybercrisis.handoffs import actions as handoff_actions
from cybercrisis.handoffs import custody
from cybercrisis.handoffs.models import Handoff, HandoffState
from cybercrisis.incidents.common import relations as incident_relations
from cybercrisis.incidents.labels import REPORT_KIND_NOUNS, deadline, span
from cybercrisis.incidents.models import Incident, Report, ReportKind

# The kinds of item, in words (the API's `kind` values; the page's headings).
KINDS: dict[str, str] = {
    "agreement": "Agreement to a crisis move",
    "statement-approval": "Statement to approve",
    "offer-decision": "Offers to accept or decline",
    "assistance-request": "Request for assistance to answer",
    "action": "Crisis action assigned to you",
    "nis2-report": "NIS2 report due",
    "early-warning": "Early warning to acknowledge",
    "handoff-receipt": "Hand-off to acknowledge",
}
OPEN_ACTIONS = (ActionStatus.OPEN.value, ActionStatus.IN_PROGRESS.value)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One thing that waits on the reader's organisation."""

    kind: str  # a key of KINDS
    object_id: str  # what to act on (an escalation, a statement, a request, an action, a report's incident, an alert)
    title: str  # what it is about, as its page names it
    asked: str  # what is asked, in words
    link: str  # the page where it is done (with the section's anchor)
    since: datetime  # since when it waits
    due_at: datetime | None = None
    tlp: str = "amber"
    crisis_id: str | None = None  # for an agreement: the crisis (the page's Agree form posts there)

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at < now

    def group(self, now: datetime) -> str:
        """overdue, due (has a deadline) or other: the page's sections, in the order of urgency."""
        return "overdue" if self.overdue(now) else "due" if self.due_at is not None else "other"

    def clock(self, now: datetime) -> tuple[str, str]:
        """The deadline as the page shows it: a CSS class of the clock styles and the words ("due in 5 h")."""
        if self.due_at is None:
            return "not-due", f"waiting for {span(now - self.since)}"
        c = deadline(self.due_at, now)
        return c.status, c.text


def waiting_on(
    session: Session, principal: Principal, *, model: EscalationModel, now: datetime | None = None
) -> list[WorkItem]:
    """Everything that waits on the reader's organisation and that the reader may do, most urgent first. `model`:
    the deployment's escalation model, which names the stages."""
    if principal.org_id is None or not principal.is_authenticated:
        return []
    now = now or utcnow()
    items = [
        *_agreements(session, principal, model),
        *_statements(session, principal),
        *_offers(session, principal),
        *_requests(session, principal),
        *_actions(session, principal),
        *_reports(session, principal),
        *_alerts(session, principal),
        *_handoffs(session, principal),
    ]
    return sorted(items, key=lambda i: _urgency(i, now))


GROUPS = ("overdue", "due", "other")


def _urgency(item: WorkItem, now: datetime) -> tuple[int, float, str]:
    when = item.due_at if item.due_at is not None else item.since
    return (GROUPS.index(item.group(now)), when.timestamp(), item.object_id)


def _agreements(session: Session, p: Principal, model: EscalationModel) -> Iterator[WorkItem]:
    """Pending moves of readable crises that need the organisation's agreement and that it has not answered."""
    rows = session.execute(
        select(Escalation, Crisis)
        .join(Crisis, Crisis.id == Escalation.crisis_id)
        .where(
            Escalation.state == EscalationState.PENDING.value,
            Crisis.status == CrisisStatus.OPEN.value,
            read_filter(p, Crisis),
            read_filter(p, Escalation),
        )
        .order_by(Escalation.created_at)
    ).all()
    answers = escalations.answers_of(session, [esc.id for esc, _ in rows])
    for esc, crisis in rows:
        given = answers.get(esc.id, {})
        if p.org_id in given or p.org_id not in escalations.waiting_among(esc, given):
            continue  # answered already (an organisation answers once), or not asked
        if not authority.allows(p, "crisis.escalation.answer", {authority.R.REQUIRED}, held_at=crisis.origin_node):
            continue
        yield WorkItem(
            kind="agreement",
            object_id=esc.id,
            title=crisis.title,
            asked=f"Agree, or not, to move the crisis to {_stage_label(model, esc.to_stage)}. Why: {esc.rationale}",
            link=f"/crises/{crisis.id}#escalations",
            since=esc.created_at,
            tlp=crisis.tlp,
            crisis_id=crisis.id,
        )


def _statements(session: Session, p: Principal) -> Iterator[WorkItem]:
    """Statements and lines to take whose current version the organisation has not approved yet."""
    drafts = [
        c
        for c in session.scalars(
            select(Communication)
            .where(Communication.state == CommState.DRAFT.value, read_filter(p, Communication))
            .order_by(Communication.created_at)
        )
        if p.org_id in c.approvers
    ]
    waiting = waiting_for_many(session, drafts)
    for c in drafts:
        if p.org_id in waiting[c.id] and "verdict" in comm_actions.allowed_actions(p, c):
            yield WorkItem(
                kind="statement-approval",
                object_id=c.id,
                title=c.title,
                asked=f"Approve version {c.current_version}"
                + (" before its embargo ends" if c.embargo_until else "")
                + ", or ask for changes",
                link=f"/communications/{c.id}#approvals",
                since=c.modified_at,
                due_at=c.embargo_until,
                tlp=c.tlp,
            )


def _offers(session: Session, p: Principal) -> Iterator[WorkItem]:
    """The organisation's own requests with offers still waiting for its answer: one item per request."""
    requests = session.scalars(
        select(AssistanceRequest)
        .where(
            AssistanceRequest.owner_org_id == p.org_id,
            AssistanceRequest.state.in_(assistance.DECIDABLE),
            read_filter(p, AssistanceRequest),
        )
        .order_by(AssistanceRequest.created_at)
    ).all()
    if not requests:
        return
    offered: dict[str, list[Offer]] = {}
    for offer in session.scalars(
        select(Offer).where(
            Offer.request_id.in_([r.id for r in requests]),
            Offer.state == OfferState.OFFERED.value,
            read_filter(p, Offer),
        )
    ):
        offered.setdefault(offer.request_id, []).append(offer)
    for req in requests:
        offers = offered.get(req.id)
        if offers and "assistance.offer.decide" in assistance.allowed_actions(p, req):
            n = len(offers)
            yield WorkItem(
                kind="offer-decision",
                object_id=req.id,
                title=_request_title(req),
                asked=f"{n} offer{'s' if n > 1 else ''} waiting for your answer: accept or decline",
                link=f"/assistance/{req.id}#offers",
                since=min(o.created_at for o in offers),
                tlp=req.tlp,
            )


def _requests(session: Session, p: Principal) -> Iterator[WorkItem]:
    """Open requests addressed to the organisation (by name or through one of its communities) that it may answer
    with an offer and has not answered yet."""
    requests = session.scalars(
        select(AssistanceRequest)
        .where(
            AssistanceRequest.state == RequestState.OPEN.value,
            AssistanceRequest.owner_org_id != p.org_id,
            read_filter(p, AssistanceRequest),
        )
        .order_by(AssistanceRequest.created_at)
    ).all()
    communities = set(p.communities)
    addressed = [
        r
        for r in requests
        if p.org_id in (r.recipients or {}).get("organisations", [])
        or communities & set((r.recipients or {}).get("communities", []))
    ]
    if not addressed:
        return
    answered = set(
        session.scalars(
            select(Offer.request_id).where(
                Offer.request_id.in_([r.id for r in addressed]),
                Offer.owner_org_id == p.org_id,
                Offer.state != OfferState.WITHDRAWN.value,
            )
        )
    )
    for req in addressed:
        if req.id not in answered and "assistance.offer" in assistance.allowed_actions(p, req):
            yield WorkItem(
                kind="assistance-request",
                object_id=req.id,
                title=_request_title(req),
                asked=f"Offer help if you can ({', '.join(req.needs)}; {req.urgency})",
                link=f"/assistance/{req.id}#offer-form",
                since=req.created_at,
                due_at=req.response_due_at,
                tlp=req.tlp,
            )


def _actions(session: Session, p: Principal) -> Iterator[WorkItem]:
    """Open actions of readable crises assigned to the organisation."""
    rows = session.execute(
        select(Action, Crisis)
        .join(Crisis, Crisis.id == Action.crisis_id)
        .where(
            Action.assignee_org_id == p.org_id,
            Action.status.in_(OPEN_ACTIONS),
            Crisis.status == CrisisStatus.OPEN.value,  # a closed crisis takes no updates (nor reminders)
            read_filter(p, Action),
            read_filter(p, Crisis),
        )
        .order_by(Action.due_at, Action.created_at)
    ).all()
    for action, crisis in rows:
        if authority.allows(p, "crisis.action.update", {authority.R.ASSIGNEE}, held_at=crisis.origin_node):
            yield WorkItem(
                kind="action",
                object_id=action.id,
                title=action.title,
                asked=f"Do it and mark it done ({crisis.title}; {action.status})",
                link=f"/crises/{crisis.id}#actions",
                since=action.created_at,
                due_at=action.due_at,
                tlp=action.tlp,
            )


def _reports(session: Session, p: Principal) -> Iterator[WorkItem]:
    """NIS2 reports not yet submitted, with a deadline, of incidents the organisation recorded or is the affected
    entity of: those submit them (Art. 23(4); `incident.report` in access/authority.py)."""
    rows = session.execute(
        select(Report, Incident)
        .join(Incident, Incident.id == Report.incident_id)
        .where(
            or_(Incident.owner_org_id == p.org_id, Incident.entity_org_id == p.org_id),
            Report.submitted_at.is_(None),
            Report.due_at.is_not(None),
            read_filter(p, Incident),
        )
        .order_by(Report.due_at)
    ).all()
    for report, incident in rows:
        # The CSIRT's response to the entity (NIS2 Art. 23(5)) is the recording CSIRT's; the others the reporter's.
        act = "incident.feedback" if report.kind == ReportKind.FEEDBACK.value else "incident.report"
        if authority.allows(p, act, incident_relations(p, incident), held_at=incident.origin_node):
            noun = REPORT_KIND_NOUNS.get(report.kind, report.kind)
            yield WorkItem(
                kind="nis2-report",
                object_id=incident.id,
                title=incident.title,
                asked=f"Submit the {noun}",
                link=f"/incidents/{incident.id}#report-{report.kind}",
                since=report.requested_at or report.created_at,
                due_at=report.due_at,
                tlp=incident.tlp,
            )


def _alerts(session: Session, p: Principal) -> Iterator[WorkItem]:
    """Early warnings sent to the organisation that it has not acknowledged (the navigation's badge counts them)."""
    alerts = session.scalars(
        select(Alert)
        .join(AlertRecipient, AlertRecipient.alert_id == Alert.id)
        .where(
            AlertRecipient.org_id == p.org_id,
            AlertRecipient.acknowledged_at.is_(None),
            read_filter(p, Alert),
        )
        .options(selectinload(Alert.recipients))
        .order_by(Alert.created_at)
    ).all()
    for alert in alerts:
        if "alert.acknowledge" in alert_actions.allowed_actions(p, alert):
            yield WorkItem(
                kind="early-warning",
                object_id=alert.id,
                title=alert.title,
                asked="Acknowledge it for your organisation",
                link=f"/alerts/{alert.id}",
                since=alert.created_at,
                tlp=alert.tlp,
            )


def _handoffs(session: Session, p: Principal) -> Iterator[WorkItem]:
    """Hand-offs the organisation holds and has not acknowledged receipt of (the chain of custody waits on it)."""
    rows = session.scalars(
        select(Handoff)
        .where(Handoff.state == HandoffState.HANDED_OVER.value, read_filter(p, Handoff))
        .order_by(Handoff.created_at)
    ).all()
    chains = custody.custody_of_many(session, [h.id for h in rows])  # one statement for all of them
    for h in rows:
        entries = chains.get(h.id, [])
        _giver, holder = custody.holder_of(entries)
        if holder != p.org_id:
            continue
        acts = handoff_actions.allowed_actions(
            p, h, holder=holder, sealed=custody.is_sealed(entries), shared_orgs=frozenset()
        )
        if "receive" in acts:
            first_line = (h.reason or "").strip().splitlines()[0][:160] if (h.reason or "").strip() else ""
            yield WorkItem(
                kind="handoff-receipt",
                object_id=h.id,
                title=first_line or "Evidence handed over to your organisation",
                asked="Check the package and acknowledge its receipt (the chain of custody records it)",
                link=f"/handoffs/{h.id}",
                since=h.created_at,
                tlp=h.tlp,
            )


def _stage_label(model: EscalationModel, key: str) -> str:
    try:
        return model.stage(key).label
    except KeyError:
        return key  # a stage the deployment's model no longer has (a replica from a node with another model)


def _request_title(req: AssistanceRequest) -> str:
    needs = ", ".join(req.needs) or "assistance"
    return f"Assistance: {needs}" + (f" ({req.country})" if req.country else "")
