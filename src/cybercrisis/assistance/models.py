"""Mutual assistance: requests, offers, and the capability catalogue they are matched against (ADR 0007)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime


class Need(StrEnum):
    INCIDENT_RESPONSE = "incident-response"
    FORENSICS = "forensics"
    MALWARE_ANALYSIS = "malware-analysis"
    DDOS_MITIGATION = "ddos-mitigation"
    LIAISON = "liaison"
    OTHER = "other"


class Urgency(StrEnum):
    IMMEDIATE = "immediate"  # hours
    URGENT = "urgent"  # within a day
    ROUTINE = "routine"  # days


class RequestState(StrEnum):
    OPEN = "open"  # asking; offers welcome
    IN_SUPPORT = "in-support"  # an offer was accepted; support under way
    SUPPORT_ENDED = "support-ended"  # waiting for the summary report (CYBERCRISIS_RESERVE_SUMMARY_MONTHS later)
    CLOSED = "closed"  # summary report recorded
    WITHDRAWN = "withdrawn"


class OfferState(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


class AssistanceRequest(Shareable, Base):
    __tablename__ = "assistance_requests"

    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    crisis_id: Mapped[str | None] = mapped_column(
        StixId, ForeignKey("crises.id", ondelete="SET NULL"), nullable=True, index=True
    )
    incident_ids: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    needs: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    affected_entity: Mapped[str] = mapped_column(String(300), nullable=False, default="")
    entity_type: Mapped[str] = mapped_column(String(16), nullable=False, default="essential")  # essential|important
    # The incident's impact severity (NIS taxonomy impact-severity): the "severity of the incident" that Reg. (EU)
    # 2025/38 Art. 16 point (a) weighs. Taken from the linked incidents when the request does not state it.
    impact: Mapped[str] = mapped_column(String(16), nullable=False, default="yellow")
    severity: Mapped[str] = mapped_column(String(16), nullable=False, default="medium")  # threat's; informational
    spillover: Mapped[str] = mapped_column(String(16), nullable=False, default="low")  # high|medium|low|none
    # Art. 16 point (c): potential impact on the affected Member State(s) or users: high|medium|low (null: unstated).
    potential_impact: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Reg. (EU) 2025/38 Art. 15(3): a Member State user's request reaches the contracting authority via its SPOC
    # (point (a)); CERT-EU transmits its own (point (b)). Null until transmitted; a Reserve request is assessed and
    # ranked only once transmitted.
    transmitted_by_org_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True)
    transmitted_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    transmitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # deployment's target
    # (Settings.reserve_response_hours from the transmission)
    measures_taken: Mapped[str] = mapped_column(Text, nullable=False, default="")
    other_support: Mapped[str] = mapped_column(Text, nullable=False, default="")
    urgency: Mapped[str] = mapped_column(String(16), nullable=False, default=Urgency.URGENT.value)
    # {"organisations": [...], "communities": [...], "reserve": bool}: whom the request is addressed to.
    recipients: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=RequestState.OPEN.value, index=True)
    support_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    support_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    summary_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    summary_report: Mapped[str] = mapped_column(Text, nullable=False, default="")
    summary_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    summary_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Offer(Shareable, Base):
    __tablename__ = "assistance_offers"
    # An offer on a request held at another node is made there, never here (access/replicas.py).
    __replica_parent__ = ("request_id", "AssistanceRequest")

    request_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("assistance_requests.id", ondelete="CASCADE"), nullable=False, index=True
    )
    capability: Mapped[str] = mapped_column(String(32), nullable=False)
    capability_id: Mapped[str | None] = mapped_column(StixId, nullable=True)
    people: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    available_from: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    conditions: Mapped[str] = mapped_column(Text, nullable=False, default="")
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=OfferState.OFFERED.value)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    decision_comment: Mapped[str] = mapped_column(Text, nullable=False, default="")


class Capability(Shareable, Base):
    """One entry of an organisation's catalogue: what it can offer, how many people, at what notice."""

    __tablename__ = "capabilities"

    kind: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    notice_hours: Mapped[int] = mapped_column(Integer, nullable=False, default=24)
    people: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    active: Mapped[bool] = mapped_column(nullable=False, default=True)
