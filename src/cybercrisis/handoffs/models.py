"""Law-enforcement hand-off: an evidence package (observables, hashed files) and its chain of custody (ADR 0007)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime, utcnow


class HandoffState(StrEnum):
    HANDED_OVER = "handed-over"
    RECEIVED = "received"  # the law-enforcement recipient acknowledged receipt
    CLOSED = "closed"


class Handoff(Shareable, Base):
    __tablename__ = "handoffs"

    incident_id: Mapped[str | None] = mapped_column(
        StixId, ForeignKey("incidents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    crisis_id: Mapped[str | None] = mapped_column(
        StixId, ForeignKey("crises.id", ondelete="SET NULL"), nullable=True, index=True
    )
    recipient_org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=HandoffState.HANDED_OVER.value)
    # The chosen observables, as they were when handed over: [{"type": ..., "value": ...}].
    observables: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False, default=list)


class EvidenceFile(Base):
    __tablename__ = "evidence_files"
    __replica_parent__ = ("handoff_id", "Handoff")  # access/replicas.py

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str] = mapped_column(
        StixId, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    media_type: Mapped[str] = mapped_column(String(127), nullable=False, default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    added_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)


class CustodyEntry(Base):
    """One link of the chain of custody: who handed what to whom, and when. Append-only."""

    __tablename__ = "custody_entries"

    __replica_parent__ = ("handoff_id", "Handoff")  # access/replicas.py

    handoff_id: Mapped[str] = mapped_column(StixId, ForeignKey("handoffs.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    action: Mapped[str] = mapped_column(String(24), nullable=False)  # handed-over | received | transferred | note
    from_org_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True)
    to_org_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=True)
    by_user_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    # What changed hands: observable "type:value" strings and file SHA-256 digests.
    items: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
