"""The NIS2 Art. 23 flows between authorities, as recorded steps: informing other affected Member States and ENISA
(Art. 23(6)), SPOC-to-SPOC forwarding on request (Art. 23(8)), and the quarterly summary to ENISA (Art. 23(9)).

Each step is a shareable object of its own (TLP, owner, share list, audit events, STIX-style id, exercise flag):
who did what, when and for whom is the step itself, not a line in a log.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime

# STIX custom object types (`x-` prefix, STIX 2.1 section 11.1) of the three steps.
INFORM_TYPE = "x-nis2-member-state-information"
FORWARDING_TYPE = "x-nis2-forwarding"
SUMMARY_TYPE = "x-nis2-quarterly-summary"


class ForwardingStatus(StrEnum):
    REQUESTED = "requested"  # the CSIRT or competent authority asked its SPOC (NIS2 Art. 23(8))
    FORWARDED = "forwarded"  # the SPOC forwarded the notification to the SPOCs of the Member States named


class MemberStateInformation(Shareable, Base):
    """NIS2 Art. 23(6): a CSIRT, competent authority or SPOC informed other affected Member States and/or ENISA."""

    __tablename__ = "nis2_informations"

    incident_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    member_states: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)  # ISO 3166-1 alpha-2
    enisa_informed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    incident_shared: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The organisations that received the information (SPOCs and CSIRTs of the Member States named, ENISA).
    recipient_org_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    summary: Mapped[str] = mapped_column(Text, nullable=False, default="")  # what the informer chose to tell
    # NIS2 Art. 23(6), last sentence: what was withheld to preserve the entity's security and commercial interests
    # and the confidentiality of the information provided, and why.
    withheld_reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    informed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Forwarding(Shareable, Base):
    """NIS2 Art. 23(8): a CSIRT's or competent authority's request to its SPOC, and the SPOC's forwarding."""

    __tablename__ = "nis2_forwardings"

    incident_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=ForwardingStatus.REQUESTED.value)
    spoc_org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=False, index=True)
    member_states: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    forwarded_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    target_org_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)  # the SPOCs reached


class QuarterlySummary(Shareable, Base):
    """NIS2 Art. 23(9): the SPOC's anonymised, aggregated summary of a quarter, submitted to ENISA."""

    __tablename__ = "nis2_quarterly_summaries"

    quarter: Mapped[str] = mapped_column(String(7), nullable=False, index=True)  # e.g. 2026-Q4
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    supersedes_id: Mapped[str | None] = mapped_column(StixId, nullable=True)
