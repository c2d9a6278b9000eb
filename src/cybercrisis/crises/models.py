"""Crises, escalation steps and their approvals, decisions and actions (ADR 0007)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime, utcnow


class Phase(StrEnum):
    """The crisis lifecycle (DOMAIN.md): it changes only by decision."""

    PREPAREDNESS = "preparedness"
    DETECTION = "detection"
    RESPONSE = "response"
    RECOVERY = "recovery"


class Justification(StrEnum):
    """Why this is a crisis: NIS2 Art. 6(7) and the Blueprint (Commission Recommendation (EU) 2017/1584; Council
    Recommendation of 6 June 2025 on an EU Blueprint for cyber crisis management, C/2025/3445)."""

    EXCEEDS_NATIONAL_CAPACITY = "exceeds-national-capacity"
    MULTI_MEMBER_STATE_IMPACT = "multi-member-state-impact"


class CrisisStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class EscalationState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class DecisionKind(StrEnum):
    ESCALATION = "escalation"
    DE_ESCALATION = "de-escalation"
    PHASE = "phase"
    RESPONSE = "response"
    # Political measures such as cyber diplomacy toolbox options: recorded, never automated.
    POLITICAL_MEASURE = "political-measure"
    COMMUNICATION = "communication"
    OTHER = "other"


class CommissionRole(StrEnum):
    """How the Commission takes part in EU-CyCLONe in one crisis (NIS2 Art. 16(2)): a member where a potential or
    ongoing large-scale incident has or is likely to have a significant impact on services within NIS2's scope,
    otherwise an observer."""

    OBSERVER = "observer"
    MEMBER = "member"


class ActionStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    CANCELLED = "cancelled"


class Crisis(Shareable, Base):
    __tablename__ = "crises"

    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # Why it is a crisis, in the coordinator's words, and the definitions it meets (Justification values).
    justification: Mapped[str] = mapped_column(Text, nullable=False)
    criteria: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    stage: Mapped[str] = mapped_column(String(64), nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False, default=Phase.RESPONSE.value)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=CrisisStatus.OPEN.value, index=True)
    suspected_criminal: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # NIS2 Art. 16(2): observer unless recorded otherwise for this crisis (set_commission_role, audited).
    commission_role: Mapped[str] = mapped_column(
        String(16), nullable=False, default=CommissionRole.OBSERVER.value, server_default=CommissionRole.OBSERVER.value
    )


class CrisisIncident(Base):
    """An incident linked to a crisis. Readers see only the incidents they may read."""

    __tablename__ = "crisis_incidents"

    __replica_parent__ = ("crisis_id", "Crisis")  # access/replicas.py

    crisis_id: Mapped[str] = mapped_column(StixId, ForeignKey("crises.id", ondelete="CASCADE"), primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    added_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)


class Escalation(Shareable, Base):
    """One proposed move of a crisis between stages of the escalation model; done when all required agreed."""

    __tablename__ = "escalations"

    crisis_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("crises.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_stage: Mapped[str] = mapped_column(String(64), nullable=False)
    to_stage: Mapped[str] = mapped_column(String(64), nullable=False)
    direction: Mapped[str] = mapped_column(String(16), nullable=False)  # escalate | de-escalate
    rationale: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=EscalationState.PENDING.value)
    # Organisation ids that must agree, fixed when proposed from the deployment's escalation model.
    required: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_id: Mapped[str | None] = mapped_column(StixId, nullable=True)
    # The organisation that proposed it (users do not travel to other nodes; organisations do).
    proposed_by_org_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True)
    # Organisations of which ONE must agree besides `required` (IPCR information-sharing mode: the Presidency, the
    # GSC, the Commission services or the EEAS), and the parties to consult before an agreement counts (organisation
    # ids, or AFFECTED_MEMBER_STATES); both fixed when proposed from the escalation model.
    any_of: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    consult: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)


class EscalationApproval(Base):
    __tablename__ = "escalation_approvals"
    __replica_parent__ = ("escalation_id", "Escalation")  # access/replicas.py

    escalation_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("escalations.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    verdict: Mapped[str] = mapped_column(String(16), nullable=False)  # agree | reject
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class EscalationConsultation(Base):
    """A consultation held before an activation (IPCR arrangements): who was consulted, when, and their view."""

    __tablename__ = "escalation_consultations"

    __replica_parent__ = ("escalation_id", "Escalation")  # access/replicas.py

    escalation_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("escalations.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), primary_key=True)  # who was consulted
    consulted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    view: Mapped[str] = mapped_column(Text, nullable=False)
    recorded_by_org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=False)
    recorded_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Decision(Shareable, Base):
    """A decision in a crisis's log at one level: what, by whom, the options considered and why."""

    __tablename__ = "decisions"

    crisis_id: Mapped[str] = mapped_column(StixId, ForeignKey("crises.id", ondelete="CASCADE"), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    options: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    rationale: Mapped[str] = mapped_column(Text, nullable=False, default="")
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    # The organisations that took it (the proposer, and for an escalation every one that agreed).
    decided_by: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    escalation_id: Mapped[str | None] = mapped_column(StixId, nullable=True)

    __table_args__ = (Index("ix_decisions_crisis_time", "crisis_id", "decided_at"),)


class Action(Shareable, Base):
    """An action (STIX Incident Core calls it a task) with an owner organisation, a due time and a status."""

    __tablename__ = "actions"

    crisis_id: Mapped[str] = mapped_column(StixId, ForeignKey("crises.id", ondelete="CASCADE"), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    detail: Mapped[str] = mapped_column(Text, nullable=False, default="")
    assignee_org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=False, index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ActionStatus.OPEN.value)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_id: Mapped[str | None] = mapped_column(StixId, nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_actions_crisis_due", "crisis_id", "due_at"),)
