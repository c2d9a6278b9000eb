"""National contributions and EU situation reports, with their versions and frozen sources (ADR 0006)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime, utcnow


class ContributionState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"


class SitrepState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PUBLISHED = "published"


class Contribution(Shareable, Base):
    """A Member State's national contribution to the EU picture for one reporting period."""

    __tablename__ = "contributions"

    country: Mapped[str] = mapped_column(String(2), nullable=False, index=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=ContributionState.SUBMITTED.value)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Everything a version carries, so that versions and diffs are one JSON each (see `content_of`).
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    outlook: Mapped[str] = mapped_column(String(16), nullable=False)
    entities_affected: Mapped[int | None] = mapped_column(Integer, nullable=True)
    services_disrupted: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    measures: Mapped[str] = mapped_column(Text, nullable=False, default="")
    needs: Mapped[str] = mapped_column(Text, nullable=False, default="")
    assistance_requested: Mapped[bool] = mapped_column(default=False, nullable=False)
    narrative: Mapped[str] = mapped_column(Text, nullable=False, default="")
    sectors: Mapped[list[dict[str, str]]] = mapped_column(JSON, nullable=False, default=list)
    incident_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)

    __table_args__ = (Index("ix_contributions_period", "period_start", "period_end"),)


class ContributionVersion(Base):
    __tablename__ = "contribution_versions"
    __replica_parent__ = ("contribution_id", "Contribution")  # access/replicas.py

    contribution_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("contributions.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class ClosedPeriod(Base):
    """A reporting period closed to contributions, by the secretariat or by publishing a report for it."""

    __tablename__ = "closed_periods"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    closed_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    reason: Mapped[str] = mapped_column(String(200), nullable=False, default="")


class Sitrep(Shareable, Base):
    """An EU situation report of one level and period. Figures are computed per reader (ADR 0006)."""

    __tablename__ = "sitreps"

    level: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=SitrepState.DRAFT.value)
    # The latest version and build; `version` (Shareable) is the optimistic lock of the row itself.
    current_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    current_build: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Who reads it once published: {"organisations": [...], "communities": [...], "users": [...]}.
    # Until then it is shared with nobody, so only its organisation reads the draft.
    audience: Mapped[dict[str, list[str]]] = mapped_column(JSON, nullable=False, default=dict)

    versions: Mapped[list[SitrepVersion]] = relationship(
        cascade="all, delete-orphan", lazy="raise", order_by="SitrepVersion.number"
    )


class SitrepVersion(Base):
    __tablename__ = "sitrep_versions"
    __replica_parent__ = ("sitrep_id", "Sitrep")  # access/replicas.py

    sitrep_id: Mapped[str] = mapped_column(StixId, ForeignKey("sitreps.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    build: Mapped[int] = mapped_column(Integer, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=SitrepState.DRAFT.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    approved_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Human-written parts: title, summary (key judgements), decisions_needed, notes.
    text: Mapped[dict[str, str]] = mapped_column(JSON, nullable=False, default=dict)
    # Political reports: what was published for the audience, as the approver previewed it. The ids of the frozen
    # sources every audience organisation may read, the figures computed from them, and their digest.
    audience_sources: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    audience_figures: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    audience_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)


class SitrepSource(Base):
    """One frozen input of one build of a report: a contribution, an incident or a cross-border observable."""

    __tablename__ = "sitrep_sources"

    __replica_parent__ = ("sitrep_id", "Sitrep")  # access/replicas.py

    sitrep_id: Mapped[str] = mapped_column(StixId, ForeignKey("sitreps.id", ondelete="CASCADE"), primary_key=True)
    build: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(StixId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
