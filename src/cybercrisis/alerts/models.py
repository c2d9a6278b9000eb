from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cybercrisis.access.models import Shareable
from cybercrisis.db import Base, StixId, UTCDateTime


class Alert(Shareable, Base):
    """An early warning: its share list is its recipients; each recipient organisation acknowledges."""

    __tablename__ = "alerts"

    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    incident_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("incidents.id"), nullable=True, index=True)
    remind_after_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    escalate_after_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=240)

    recipients: Mapped[list[AlertRecipient]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="AlertRecipient.org_id"
    )


class AlertRecipient(Base):
    __tablename__ = "alert_recipients"
    __replica_parent__ = ("alert_id", "Alert")  # access/replicas.py

    alert_id: Mapped[str] = mapped_column(StixId, ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), primary_key=True, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
