"""API shapes of crises, escalations, decisions, actions and the crisis room."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.schemas import AnswerOut, HeldAt, Strict, TimelineEntry


class CrisisIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=50_000)
    incidents: list[str] = Field(default_factory=list, max_length=500, description="ids of incidents it grows from")
    justification: str = Field(
        min_length=1,
        max_length=20_000,
        description="why this is a crisis: exceeds national capacity, or significant impact in two or more Member "
        "States (NIS2 Art. 6(7); Blueprint: Commission Recommendation (EU) 2017/1584 and Council Recommendation of "
        "6 June 2025, C/2025/3445)",
    )
    criteria: list[str] = Field(
        default_factory=list,
        max_length=2,
        description="the definitions it meets: exceeds-national-capacity, multi-member-state-impact",
    )
    stage: str | None = Field(default=None, description="stage of the escalation model to start at (default: first)")
    phase: str | None = Field(default=None, description="preparedness, detection, response or recovery")
    suspected_criminal: bool = False
    exercise: bool = Field(default=False, description="part of an exercise: kept out of the live picture")
    tlp: str = "amber"
    share_with: ShareWith | None = Field(default=None, description="default: the starting stage's community")


class CrisisPatch(Strict):
    version: int = Field(description="the version you read; a stale one is refused with 409")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=50_000)
    justification: str | None = Field(default=None, min_length=1, max_length=20_000)
    criteria: list[str] | None = Field(default=None, max_length=2)
    suspected_criminal: bool | None = None


class IncidentLinks(Strict):
    incidents: list[str] = Field(min_length=1, max_length=500)


class EscalationIn(Strict):
    to: str = Field(min_length=1, max_length=64, description="a stage key, a level, or a mechanism (community)")
    rationale: str = Field(min_length=1, max_length=20_000)
    share_with_approvers: bool = Field(
        default=False,
        description="the originator only: let the organisations that must agree to the move read the crisis now "
        "(an audited sharing change by the originator, made before the proposal). A proposal itself adds no "
        "reader: without this, organisations that must agree but cannot read the crisis make it a 409.",
    )


class VerdictIn(Strict):
    comment: str = Field(default="", max_length=5_000)


class ConsultationIn(Strict):
    """A consultation held before an activation (IPCR arrangements, Council Implementing Decision (EU) 2018/1993)."""

    consulted: str = Field(
        description="id of the organisation consulted (for an affected Member State: one of its organisations)",
        examples=["identity--5c4b..."],
    )
    view: str = Field(min_length=1, max_length=20_000, description="the consulted organisation's view, as given")
    consulted_at: datetime | None = Field(
        default=None, description="when it was consulted (default: now); with a time zone, not in the future"
    )


class CommissionRoleIn(Strict):
    role: Literal["member", "observer"] = Field(
        description="NIS2 Art. 16(2): member where a potential or ongoing "
        "large-scale incident has or is likely to have a significant impact on "
        "services within NIS2's scope, otherwise observer"
    )
    rationale: str = Field(min_length=1, max_length=20_000, examples=["Hospitals (NIS2 Annex I) disrupted in FR, DE"])


class PhaseIn(Strict):
    phase: str
    rationale: str = Field(min_length=1, max_length=20_000)


class DecisionIn(Strict):
    level: str = Field(description="technical, operational or political")
    kind: str = Field(default="response", description="response, political-measure, communication or other")
    title: str = Field(min_length=1, max_length=300)
    detail: str = Field(default="", max_length=50_000)
    options: list[str] = Field(default_factory=list, max_length=50, description="the options considered")
    rationale: str = Field(default="", max_length=20_000)


class ActionIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    detail: str = Field(default="", max_length=20_000)
    assignee: str = Field(description="id of the organisation that owns the action")
    due_at: datetime | None = None
    decision: str | None = Field(default=None, description="the decision this action carries out")


class ActionPatch(Strict):
    version: int
    status: str | None = None
    title: str | None = Field(default=None, min_length=1, max_length=300)
    detail: str | None = Field(default=None, max_length=20_000)
    due_at: datetime | None = None
    assignee: str | None = None


class ActionRef(Strict):
    id: str = Field(max_length=120, description="an action of the crisis (task--...)")
    version: int = Field(description="the version you read; a newer one refuses the batch with 409")


class ActionsStatusIn(Strict):
    """A new status for several actions of one crisis at once: all change, or none."""

    actions: list[ActionRef] = Field(min_length=1, max_length=200)
    status: str = Field(description="open, in-progress, done or cancelled", examples=["done"])


class CloseIn(Strict):
    rationale: str = Field(min_length=1, max_length=20_000)


class OrgRef(BaseModel):
    id: str
    name: str


class StageOut(BaseModel):
    key: str
    label: str
    level: str
    community: str | None
    approvers: list[OrgRef]
    exit_approvers: list[OrgRef]
    notify: list[str]


class EscalationModelOut(BaseModel):
    note: str
    stages: list[StageOut]


class ApprovalOut(BaseModel):
    org: OrgRef
    verdict: str
    comment: str
    at: datetime


class ConsultationOut(BaseModel):
    org: OrgRef
    view: str
    consulted_at: datetime
    recorded_by: OrgRef


class EscalationOut(BaseModel):
    id: str
    crisis: str
    from_stage: str
    to_stage: str
    to_label: str
    direction: Literal["escalate", "de-escalate"]
    rationale: str
    state: str
    required: list[OrgRef]
    approvals: list[ApprovalOut]
    waiting_for: list[OrgRef]
    any_of: list[OrgRef] = Field(
        default_factory=list,
        description="one of these agreeing suffices (besides `required`), e.g. IPCR information-sharing mode",
    )
    consult: list[str] = Field(
        default_factory=list,
        description="parties to consult before an agreement counts: organisation names, or 'affected Member States'",
    )
    consultations: list[ConsultationOut] = Field(default_factory=list)
    proposed_by: str | None
    proposed_by_org: OrgRef
    created: datetime
    decided_at: datetime | None
    decision: str | None
    answer: AnswerOut | None = Field(
        default=None,
        description="on a crisis held at another node (ADR 0013): the reader's organisation's answer to this move, "
        "sent to that node (queued until it answers, then applied or refused); the move changes when the node's "
        "new version arrives",
    )


class DecisionOut(BaseModel):
    id: str
    crisis: str
    level: str
    kind: str
    title: str
    detail: str
    options: list[str]
    rationale: str
    decided_at: datetime
    decided_by: list[OrgRef]
    recorded_by: str | None
    escalation: str | None
    tlp: str


class ActionOut(BaseModel):
    id: str
    crisis: str
    title: str
    detail: str
    assignee: OrgRef
    due_at: datetime | None
    status: str
    overdue: bool
    done_at: datetime | None
    decision: str | None
    version: int
    tlp: str


class IncidentBrief(BaseModel):
    id: str
    title: str
    status: str
    countries: list[str]
    impact_severity: str | None
    rsit_class: str | None
    tlp: str


class SitrepBrief(BaseModel):
    id: str
    level: str
    title: str
    period_end: datetime
    published_at: datetime | None


class AlertBrief(BaseModel):
    id: str
    title: str
    incident: str | None
    awaiting: int


class RequestBrief(BaseModel):
    id: str
    country: str | None
    needs: list[str]
    urgency: str
    state: str
    offers: int


class CommunicationBrief(BaseModel):
    id: str
    title: str
    kind: str
    state: str
    embargo_until: datetime | None


class HandoffBrief(BaseModel):
    id: str
    recipient: OrgRef
    state: str
    created: datetime


class CrisisOut(BaseModel):
    id: str
    title: str
    description: str
    justification: str
    criteria: list[str]
    evidenced: list[str] = Field(description="definitions the visible linked incidents show it meets")
    level: str
    stage: str
    stage_label: str
    mechanism: str | None
    phase: str
    status: str
    suspected_criminal: bool
    tlp: str
    owner: OrgRef
    created_by: str | None
    created: datetime
    modified: datetime
    closed_at: datetime | None
    version: int
    exercise: bool
    share_with: ShareList
    incidents: list[IncidentBrief]
    countries: list[str]
    sitreps: list[SitrepBrief]
    alerts: list[AlertBrief]
    assistance_requests: list[RequestBrief]
    communications: list[CommunicationBrief]
    handoffs: list[HandoffBrief]
    escalations: list[EscalationOut]
    decisions: list[DecisionOut]
    actions: list[ActionOut]
    timeline: list[TimelineEntry]
    can_decide: bool
    can_escalate_to: list[str]
    commission_role: str = Field(
        default="observer",
        description="the Commission in EU-CyCLONe in this crisis: member or observer (NIS2 Art. 16(2))",
    )
    held_at: HeldAt | None = Field(
        default=None,
        description="set when the crisis is held at another node (read-only here but for answering a move and "
        "recording a decision where the reader's organisation decides, which are sent there; ADR 0013)",
    )
    answers: list[AnswerOut] = Field(
        default_factory=list,
        description="held at another node: the decisions the reader's organisation sent there (queued, applied, "
        "refused with the reason); answers to moves are on each escalation",
    )
    can_send_decision: bool = Field(
        default=False,
        description="held at another node: the reader's organisation decides at the current level, and may send a "
        "decision there",
    )


class CrisisSummary(BaseModel):
    id: str
    title: str
    level: str
    stage: str
    stage_label: str
    phase: str
    status: str
    tlp: str
    owner: OrgRef
    incidents: int
    created: datetime
    modified: datetime


class CrisisPage(BaseModel):
    items: list[CrisisSummary]
    next: str | None
