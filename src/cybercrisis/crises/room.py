"""The crisis room: one crisis and everything about it that the reader may see, in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, lazyload

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.answers import service as answers
from cybercrisis.assistance.models import AssistanceRequest, Offer
from cybercrisis.audit import reading
from cybercrisis.audit import service as audit
from cybercrisis.audit.models import AuditEvent
from cybercrisis.audit.reading import timeline_out
from cybercrisis.comms.models import Communication
from cybercrisis.config import Settings
from cybercrisis.crises import service
from cybercrisis.crises.escalation import AFFECTED_MEMBER_STATES, EscalationModel, model_for
from cybercrisis.crises.models import (
    Action,
    ActionStatus,
    CrisisIncident,
    Decision,
    Escalation,
    EscalationApproval,
    EscalationConsultation,
    EscalationState,
    Justification,
)
from cybercrisis.crises.schemas import (
    ActionOut,
    AlertBrief,
    ApprovalOut,
    CommunicationBrief,
    ConsultationOut,
    CrisisOut,
    DecisionOut,
    EscalationOut,
    HandoffBrief,
    IncidentBrief,
    OrgRef,
    RequestBrief,
    SitrepBrief,
)
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.handoffs.models import Handoff
from cybercrisis.incidents.models import Incident
from cybercrisis.schemas import AnswerOut, held_at
from cybercrisis.situation.models import Sitrep, SitrepState
from cybercrisis.situation.sitreps import LEVEL_TITLE

TIMELINE_LIMIT = 200


class Names:
    """Organisation short names, loaded once for all the ids a page mentions."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[str, str] = {}

    def load(self, ids: Sequence[str]) -> None:
        wanted = sorted({i for i in ids if i and i not in self.known})
        if wanted:
            for oid, name in self.session.execute(
                select(Organisation.id, Organisation.short_name).where(Organisation.id.in_(wanted))
            ):
                self.known[oid] = name

    def ref(self, org_id: str) -> OrgRef:
        return OrgRef(id=org_id, name=self.known.get(org_id, org_id))


def action_out(a: Action, names: Names, now: datetime) -> ActionOut:
    open_ = a.status in (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
    return ActionOut(
        id=a.id,
        crisis=a.crisis_id,
        title=a.title,
        detail=a.detail,
        assignee=names.ref(a.assignee_org_id),
        due_at=a.due_at,
        status=a.status,
        overdue=bool(open_ and a.due_at is not None and a.due_at < now),
        done_at=a.done_at,
        decision=a.decision_id,
        version=a.version,
        tlp=a.tlp,
    )


def decision_out(d: Decision, names: Names) -> DecisionOut:
    return DecisionOut(
        id=d.id,
        crisis=d.crisis_id,
        level=d.level,
        kind=d.kind,
        title=d.title,
        detail=d.detail,
        options=d.options,
        rationale=d.rationale,
        decided_at=d.decided_at,
        decided_by=[names.ref(o) for o in d.decided_by],
        recorded_by=d.created_by_id,
        escalation=d.escalation_id,
        tlp=d.tlp,
    )


def escalation_out(
    e: Escalation,
    approvals: Sequence[EscalationApproval],
    model: EscalationModel,
    names: Names,
    proposer_org: str,
    consultations: Sequence[EscalationConsultation] = (),
) -> EscalationOut:
    agreed = {a.org_id for a in approvals if a.verdict == "agree"}
    waiting = [o for o in e.required if o not in agreed]
    if e.any_of and not agreed & set(e.any_of):
        waiting += [o for o in e.any_of if o not in waiting]
    try:
        label = model.stage(e.to_stage).label
    except KeyError:
        label = e.to_stage
    return EscalationOut(
        id=e.id,
        crisis=e.crisis_id,
        from_stage=e.from_stage,
        to_stage=e.to_stage,
        to_label=label,
        direction="escalate" if e.direction == "escalate" else "de-escalate",
        rationale=e.rationale,
        state=e.state,
        required=[names.ref(o) for o in e.required],
        approvals=[
            ApprovalOut(org=names.ref(a.org_id), verdict=a.verdict, comment=a.comment, at=a.at) for a in approvals
        ],
        waiting_for=[names.ref(o) for o in waiting] if e.state == EscalationState.PENDING else [],
        any_of=[names.ref(o) for o in e.any_of],
        consult=["affected Member States" if p == AFFECTED_MEMBER_STATES else names.ref(p).name for p in e.consult],
        consultations=[
            ConsultationOut(
                org=names.ref(c.org_id),
                view=c.view,
                consulted_at=c.consulted_at,
                recorded_by=names.ref(c.recorded_by_org_id),
            )
            for c in consultations
        ],
        proposed_by=e.created_by_id,
        proposed_by_org=names.ref(proposer_org),
        created=e.created_at,
        decided_at=e.decided_at,
        decision=e.decision_id,
    )


def escalations_of(session: Session, actor: Principal, crisis_ids: Sequence[str]) -> list[Escalation]:
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.crisis_id.in_(list(crisis_ids)), read_filter(actor, Escalation))
            .order_by(Escalation.created_at)
        )
    )


def escalation_outs(
    session: Session,
    escalations: Sequence[Escalation],
    model: EscalationModel,
    names: Names,
    reader: Principal | None = None,
) -> list[EscalationOut]:
    """`reader`: whose organisation's answers to moves of a crisis held at another node to show (ADR 0013)."""
    from cybercrisis.accounts.models import User

    ids = [e.id for e in escalations]
    approvals: dict[str, list[EscalationApproval]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(
            select(EscalationApproval).where(EscalationApproval.escalation_id.in_(ids)).order_by(EscalationApproval.at)
        ):
            approvals[a.escalation_id].append(a)
    users = sorted({e.created_by_id for e in escalations if e.created_by_id and not e.proposed_by_org_id})
    user_org: dict[str, str] = {}
    if users:
        user_org = {r.id: r.org_id for r in session.execute(select(User.id, User.org_id).where(User.id.in_(users)))}
    consulted: dict[str, list[EscalationConsultation]] = {i: [] for i in ids}
    for c in service.consultations_of(session, ids):
        consulted[c.escalation_id].append(c)
    names.load(
        [o for e in escalations for o in (*e.required, *e.any_of, *e.consult) if o != AFFECTED_MEMBER_STATES]
        + [a.org_id for v in approvals.values() for a in v]
        + [o for v in consulted.values() for c in v for o in (c.org_id, c.recorded_by_org_id)]
        + list(user_org.values())
        + [e.owner_org_id for e in escalations]
        + [e.proposed_by_org_id for e in escalations if e.proposed_by_org_id]
    )
    held = [e.id for e in escalations if e.origin_node is not None]
    sent: dict[str, AnswerOut] = {}
    if held and reader is not None:
        for answer in answers.of_organisation(session, principal=reader, object_ids=held):
            sent.setdefault(answer.object_id, AnswerOut.of(answer))  # the newest
    return [
        escalation_out(
            e,
            approvals[e.id],
            model,
            names,
            e.proposed_by_org_id or user_org.get(e.created_by_id or "", e.owner_org_id),
            consulted[e.id],
        ).model_copy(update={"answer": sent.get(e.id)})
        for e in escalations
    ]


def evidenced(incidents: Sequence[Incident]) -> list[str]:
    """Definitions that the visible linked incidents show the crisis meets."""
    out = set()
    if len({c for i in incidents for c in i.countries}) >= 2:
        out.add(Justification.MULTI_MEMBER_STATE_IMPACT.value)
    if any(i.exceeds_national_capacity for i in incidents):
        out.add(Justification.EXCEEDS_NATIONAL_CAPACITY.value)
    return sorted(out)


def room(session: Session, actor: Principal, crisis_id: str, settings: Settings) -> CrisisOut:
    """Everything of one crisis the reader may see. The query count does not grow with the number of objects."""
    crisis = service.get(session, actor, crisis_id)
    model = model_for(settings)
    now = utcnow()
    names = Names(session)
    shares = sharing.shares_of(session, crisis.id)

    incidents = list(
        session.scalars(
            select(Incident)
            .join(CrisisIncident, CrisisIncident.incident_id == Incident.id)
            .where(CrisisIncident.crisis_id == crisis.id, read_filter(actor, Incident))
            .options(lazyload(Incident.sector_rows))  # countries come with them (selectin); sectors are not read
            .order_by(Incident.aware_at.desc())
        )
    )
    incident_ids = [i.id for i in incidents]

    sitreps = list(
        session.scalars(
            select(Sitrep)
            .where(Sitrep.state == SitrepState.PUBLISHED.value, read_filter(actor, Sitrep))
            .order_by(Sitrep.period_end.desc())
            .limit(6)
        )
    )

    alerts: list[AlertBrief] = []
    if incident_ids:
        awaiting = (
            select(func.count())
            .select_from(AlertRecipient)
            .where(AlertRecipient.alert_id == Alert.id, AlertRecipient.acknowledged_at.is_(None))
            .correlate(Alert)
            .scalar_subquery()
        )
        for alert, waiting in session.execute(
            select(Alert, awaiting)
            .where(Alert.incident_id.in_(incident_ids), read_filter(actor, Alert))
            .order_by(Alert.created_at.desc())
        ):
            if waiting:
                alerts.append(AlertBrief(id=alert.id, title=alert.title, incident=alert.incident_id, awaiting=waiting))

    offers = (
        select(func.count())
        .select_from(Offer)
        .where(Offer.request_id == AssistanceRequest.id, read_filter(actor, Offer))
        .correlate(AssistanceRequest)
        .scalar_subquery()
    )
    requests = [
        RequestBrief(id=r.id, country=r.country, needs=r.needs, urgency=r.urgency, state=r.state, offers=n)
        for r, n in session.execute(
            select(AssistanceRequest, offers)
            .where(AssistanceRequest.crisis_id == crisis.id, read_filter(actor, AssistanceRequest))
            .order_by(AssistanceRequest.created_at.desc())
        )
    ]
    communications = [
        CommunicationBrief(id=c.id, title=c.title, kind=c.kind, state=c.state, embargo_until=c.embargo_until)
        for c in session.scalars(
            select(Communication)
            .where(Communication.crisis_id == crisis.id, read_filter(actor, Communication))
            .order_by(Communication.created_at.desc())
        )
    ]
    handoff_rows = list(
        session.scalars(
            select(Handoff)
            .where(
                or_(Handoff.crisis_id == crisis.id, Handoff.incident_id.in_(incident_ids)), read_filter(actor, Handoff)
            )
            .order_by(Handoff.created_at.desc())
        )
    )

    escalations = escalations_of(session, actor, [crisis.id])
    decisions = list(
        session.scalars(
            select(Decision)
            .where(Decision.crisis_id == crisis.id, read_filter(actor, Decision))
            .order_by(Decision.decided_at.desc(), Decision.id)
        )
    )
    actions = list(
        session.scalars(
            select(Action)
            .where(Action.crisis_id == crisis.id, read_filter(actor, Action))
            .order_by(Action.due_at.is_(None), Action.due_at, Action.id)
        )
    )

    # The timeline: entries about the crisis and about the objects of it this reader sees.
    object_ids = [crisis.id] + [e.id for e in escalations] + [d.id for d in decisions] + [a.id for a in actions]
    audit.join_pending(session)  # a room read in the transaction that changed the crisis shows the change
    timeline = list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_id.in_(object_ids))
            .order_by(AuditEvent.seq.desc())
            .limit(TIMELINE_LIMIT)
        )
    )

    # Ids of objects the reader may not read (incidents linked by others) are left out (audit.reading).
    shown = reading.visible(session, actor, timeline, known={*object_ids, *incident_ids})
    names.load(
        [crisis.owner_org_id]
        + [h.recipient_org_id for h in handoff_rows]
        + [o for d in decisions for o in d.decided_by]
        + [a.assignee_org_id for a in actions]
    )
    stage = service._stage(model, crisis)
    # A crisis held at another node is decided there: only answers to a move are sent from here (ADR 0013).
    can_decide = bool(
        crisis.origin_node is None
        and actor.has(Permission.CRISIS_DECIDE)
        and actor.org_id
        and actor.org_id in service.deciders_at(session, crisis, stage.level, model)
    )
    # Proposing a move is the owner's too (crisis.escalation.propose), even where it does not decide (a secretariat).
    can_propose = can_decide or bool(
        crisis.origin_node is None and actor.has(Permission.CRISIS_DECIDE) and actor.org_id == crisis.owner_org_id
    )
    all_countries = sorted({c for i in incidents for c in i.countries})
    return CrisisOut(
        id=crisis.id,
        title=crisis.title,
        description=crisis.description,
        justification=crisis.justification,
        criteria=crisis.criteria,
        evidenced=evidenced(incidents),
        level=stage.level,
        stage=stage.key,
        stage_label=stage.label,
        mechanism=stage.community,
        phase=crisis.phase,
        status=crisis.status,
        suspected_criminal=crisis.suspected_criminal,
        tlp=crisis.tlp,
        owner=names.ref(crisis.owner_org_id),
        created_by=crisis.created_by_id,
        created=crisis.created_at,
        modified=crisis.modified_at,
        closed_at=crisis.closed_at,
        version=crisis.version,
        exercise=crisis.exercise,
        share_with=sharing.share_list(shares),
        incidents=[
            IncidentBrief(
                id=i.id,
                title=i.title,
                status=i.status,
                countries=i.countries,
                impact_severity=i.impact_severity,
                rsit_class=i.rsit_class,
                tlp=i.tlp,
            )
            for i in incidents
        ],
        countries=all_countries,
        sitreps=[
            SitrepBrief(
                id=s.id, level=s.level, title=LEVEL_TITLE[s.level], period_end=s.period_end, published_at=s.published_at
            )
            for s in sitreps
        ],
        alerts=alerts,
        assistance_requests=requests,
        communications=communications,
        handoffs=[
            HandoffBrief(id=h.id, recipient=names.ref(h.recipient_org_id), state=h.state, created=h.created_at)
            for h in handoff_rows
        ],
        escalations=escalation_outs(session, escalations, model, names, actor),
        decisions=[decision_out(d, names) for d in decisions],
        actions=[action_out(a, names, now) for a in actions],
        timeline=[timeline_out(e) for e in shown],
        can_decide=can_decide,
        commission_role=crisis.commission_role,
        can_escalate_to=[s.key for s in model.stages if s.key != stage.key] if can_propose else [],
        held_at=held_at(session, crisis),
        answers=[AnswerOut.of(a) for a in answers.of_organisation(session, principal=actor, object_ids=[crisis.id])]
        if crisis.origin_node
        else [],
        # A deciding organisation here sends its decision to the node that holds the crisis (an answer, ADR 0013).
        can_send_decision=bool(
            crisis.origin_node is not None
            and actor.has(Permission.CRISIS_DECIDE)
            and actor.org_id
            and actor.org_id in service.deciders_at(session, crisis, stage.level, model)
        ),
    )
