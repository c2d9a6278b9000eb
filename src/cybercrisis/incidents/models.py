from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cybercrisis.access.models import Share, Shareable
from cybercrisis.db import Base, StixId, UTCDateTime, utcnow


class IncidentStatus(StrEnum):
    NEW = "new"
    TRIAGE = "triage"
    ONGOING = "ongoing"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    CLOSED = "closed"


# Allowed lifecycle moves; resolved and closed incidents reopen to ongoing.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"triage", "ongoing", "contained", "resolved", "closed"}),
    "triage": frozenset({"ongoing", "contained", "resolved", "closed"}),
    "ongoing": frozenset({"contained", "resolved"}),
    "contained": frozenset({"ongoing", "resolved"}),
    "resolved": frozenset({"closed", "ongoing"}),
    "closed": frozenset({"ongoing"}),
}


class Significance(StrEnum):
    """Where an incident stands under NIS2 (incidents/significance.py decides; the decision is recorded).

    Art. 23(1) obliges essential and important entities to notify *significant* incidents, and its clocks (23(4))
    run from awareness of one; Art. 30 lets anyone notify incidents, cyber threats and near misses voluntarily.
    """

    REPORTED = "reported"  # recorded, significance not yet decided: no NIS2 clock runs
    SIGNIFICANT = "significant"  # NIS2 Art. 23(3): Art. 23(4) clocks run from awareness
    NOT_SIGNIFICANT = "not-significant"
    NEAR_MISS = "near-miss"  # NIS2 Art. 6(5); voluntary notification under Art. 30
    OUTSIDE_NIS2 = "outside-nis2"  # the entity or the event is outside NIS2's scope (Art. 2)


class ReportKind(StrEnum):
    EARLY_WARNING = "early-warning"
    NOTIFICATION = "notification"
    INTERMEDIATE = "intermediate"
    FINAL = "final"
    PROGRESS = "progress"
    FEEDBACK = "feedback"  # the CSIRT's answer to an early warning (NIS2 Art. 23(5))


class Incident(Shareable, Base):
    __tablename__ = "incidents"

    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=IncidentStatus.NEW.value, index=True)
    entity_name: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    entity_org_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True)
    # The kind of provider, where Reg. (EU) 2024/2690 or NIS2 gives it its own rules (e.g. qualified trust service
    # provider, DNS service provider); None for any other entity.
    entity_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # essential | important (NIS2 Art. 3), a separate fact: a qualified trust service provider is essential whatever
    # its size (Art. 3(1)(b)) and keeps its own type.
    entity_category: Mapped[str | None] = mapped_column(String(16), nullable=True)
    aware_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rsit_class: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    rsit_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    root_cause: Mapped[str | None] = mapped_column(String(64), nullable=True)
    threat_severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    impact_severity: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    outlook: Mapped[str | None] = mapped_column(String(16), nullable=True)
    suspected_malicious: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    cross_border: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    exceeds_national_capacity: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    pap: Mapped[str] = mapped_column(String(8), nullable=False, default="amber")
    tags: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    # NIS2 significance (Significance): decided by a person, suggested by the rules; history in SignificanceDecision.
    significance: Mapped[str] = mapped_column(
        String(16), nullable=False, default=Significance.REPORTED.value, index=True
    )
    # The apparent root cause as the analyst confirmed it (free text, e.g. "CVE-2024-3400 on the VPN gateway"):
    # incidents with the same one are candidates for recurrence (Reg. 2024/2690 Art. 4); `root_cause` is the
    # broad category of the NIS taxonomy and is not enough for that.
    apparent_root_cause: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Facts for the Implementing Regulation 2024/2690 thresholds; all optional.
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)

    country_rows: Mapped[list[IncidentCountry]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="IncidentCountry.country"
    )
    sector_rows: Mapped[list[IncidentSector]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="IncidentSector.sector"
    )

    # The share list, for readers that load it with the incident (`common.WITH_SHARES`) instead of asking
    # `sharing.shares_of` in a statement of its own. View-only: shares are written through `access.sharing`, so a
    # request that changes them reads them again with `shares_of` rather than from here.
    share_rows: Mapped[list[Share]] = relationship(
        primaryjoin="foreign(Share.object_id) == Incident.id", viewonly=True, order_by=(Share.kind, Share.target)
    )

    # Its significance decisions, for the incident's page, which loads them with it (`common.FOR_PAGE`); elsewhere
    # `significance.history` reads them.
    decisions: Mapped[list[SignificanceDecision]] = relationship(
        viewonly=True, order_by=lambda: (SignificanceDecision.decided_at, SignificanceDecision.id)
    )

    @property
    def countries(self) -> list[str]:
        return [r.country for r in self.country_rows]

    @property
    def sectors(self) -> list[str]:
        return [r.sector for r in self.sector_rows]


class IncidentCountry(Base):
    __tablename__ = "incident_countries"
    __replica_parent__ = ("incident_id", "Incident")  # access/replicas.py

    incident_id: Mapped[str] = mapped_column(StixId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True, index=True)


class IncidentSector(Base):
    __tablename__ = "incident_sectors"
    __replica_parent__ = ("incident_id", "Incident")  # access/replicas.py

    incident_id: Mapped[str] = mapped_column(StixId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    sector: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Report(Base):
    """One reporting obligation of an incident and its latest submission; history in ReportSubmission."""

    __tablename__ = "incident_reports"

    __replica_parent__ = ("incident_id", "Incident")  # access/replicas.py

    id: Mapped[str] = mapped_column(StixId, primary_key=True)
    incident_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(24), nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    overdue_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    __table_args__ = (Index("ix_incident_reports_open", "submitted_at", "due_at"),)

    def status_at(self, now: datetime) -> str:
        """due | overdue | on-time | late | not-due (no deadline yet)."""
        if self.submitted_at is None:
            if self.due_at is None:
                return "not-due"
            return "overdue" if self.due_at < now else "due"
        if self.due_at is None or self.submitted_at <= self.due_at:
            return "on-time"
        return "late"


class SignificanceDecision(Base):
    """One decision on an incident's NIS2 significance (incidents/significance.py): read with the incident."""

    __tablename__ = "significance_decisions"

    __replica_parent__ = ("incident_id", "Incident")  # access/replicas.py

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    value: Mapped[str] = mapped_column(String(16), nullable=False)
    previous: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    # What the rules suggested when the decision was taken (the assessment's suggestion and the rules that fired).
    suggestion: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    decided_by_org_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True)


class ReportSubmission(Base):
    __tablename__ = "report_submissions"
    __replica_parent__ = ("report_id", "Report")  # access/replicas.py

    report_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("incident_reports.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    submitted_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)


class Observable(Base):
    """One normalised value, stored once whatever the number of incidents that saw it."""

    __tablename__ = "observables"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    value: Mapped[str] = mapped_column(String(2048), nullable=False)

    __table_args__ = (UniqueConstraint("type", "value", name="uq_observables_type_value"),)


class Sighting(Base):
    """Value -> incidents: correlation is a lookup here, never a pairwise table."""

    __tablename__ = "sightings"

    __replica_parent__ = ("incident_id", "Incident")  # access/replicas.py

    observable_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("observables.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    raw: Mapped[str] = mapped_column(String(2048), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
