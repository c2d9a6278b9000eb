"""EU-CyCLONe's impact assessment of a crisis and its proposed response options (NIS2 Art. 16(3)(c), (d))."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime


class AssessmentState(StrEnum):
    """draft -> submitted to the political level -> discussed -> decided (the political level chose an option)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    DISCUSSED = "discussed"
    DECIDED = "decided"


class ImpactAssessment(Shareable, Base):
    """What EU-CyCLONe hands the political level: consequences and impact by sector and Member State, and possible
    response options with their pros and cons; the political level records which option it chose and why."""

    __tablename__ = "impact_assessments"

    crisis_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("crises.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # [{"sector": nis2 sector, "country": ISO code, "impact": red|yellow|green|white, "consequences": text}]
    impacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    # [{"key": "option-1", "title": ..., "description": ..., "pros": [...], "cons": [...]}]
    options: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=AssessmentState.DRAFT.value, index=True)
    # The political-level organisations it was submitted to (named on the object: they discuss and decide).
    deciders: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    submitted_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    discussed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    discussion: Mapped[str] = mapped_column(Text, nullable=False, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by_org_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True)
    decided_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    chosen_option: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decision_rationale: Mapped[str] = mapped_column(Text, nullable=False, default="")
