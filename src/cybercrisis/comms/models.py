"""Coordinated public communication: statements, their versions and approvals, and publications (ADR 0007)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime, utcnow


class CommKind(StrEnum):
    STATEMENT = "statement"
    LINES_TO_TAKE = "lines-to-take"


class CommState(StrEnum):
    DRAFT = "draft"  # being written or awaiting approvals
    APPROVED = "approved"  # every required organisation approved the current version; waits for its embargo
    RELEASED = "released"
    WITHDRAWN = "withdrawn"


class Verdict(StrEnum):
    APPROVE = "approve"
    CHANGES = "changes"  # asks for changes, with a comment


class Communication(Shareable, Base):
    __tablename__ = "communications"

    crisis_id: Mapped[str | None] = mapped_column(
        StixId, ForeignKey("crises.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default=CommKind.STATEMENT.value)
    language: Mapped[str] = mapped_column(String(8), nullable=False, default="en")
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    # {"fr": {"title": ..., "body": ...}, ...}: kept side by side with the main language.
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, nullable=False, default=dict)
    approvers: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)  # organisation ids
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=CommState.DRAFT.value, index=True)
    current_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CommunicationVersion(Base):
    __tablename__ = "communication_versions"
    __replica_parent__ = ("communication_id", "Communication")  # access/replicas.py

    communication_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("communications.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)


class CommunicationApproval(Base):
    """One organisation's verdict on one version. Two arriving at once are two rows: both count."""

    __tablename__ = "communication_approvals"

    __replica_parent__ = ("communication_id", "Communication")  # access/replicas.py

    communication_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("communications.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    verdict: Mapped[str] = mapped_column(String(16), nullable=False)
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    user_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Publication(Shareable, Base):
    """What the public sees: a TLP:CLEAR copy of an approved version, made exactly once per statement."""

    __tablename__ = "publications"

    communication_id: Mapped[str] = mapped_column(StixId, ForeignKey("communications.id"), nullable=False)
    communication_version: Mapped[int] = mapped_column(Integer, nullable=False)
    crisis_id: Mapped[str | None] = mapped_column(StixId, nullable=True)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, nullable=False, default=dict)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)

    __table_args__ = (UniqueConstraint("communication_id", name="uq_publications_communication"),)
