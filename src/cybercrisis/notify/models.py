from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.db import Base, StixId, UTCDateTime, utcnow


class OutboxMessage(Base):
    """A message to deliver, written in the same transaction as the change it reports."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)  # email | webhook
    target: Mapped[str] = mapped_column(String(1000), nullable=False)  # address or URL
    event: Mapped[str] = mapped_column(String(120), nullable=False)  # source:subject:action
    subject: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    # The same key is never queued twice: re-running a sweep after a crash queues nothing new.
    dedupe_key: Mapped[str] = mapped_column(String(300), nullable=False, unique=True)
    route_id: Mapped[int | None] = mapped_column(ForeignKey("notification_routes.id"), nullable=True)
    object_id: Mapped[str | None] = mapped_column(StixId, nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class NotificationRoute(Base):
    """An organisation's rule: events matching `events` go to an e-mail address or a webhook."""

    __tablename__ = "notification_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)  # fnmatch patterns
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    target: Mapped[str] = mapped_column(String(1000), nullable=False)
    # HMAC key for webhooks, sealed with the server key (secretbox: `enc1:...`, longer than the secret itself).
    secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    pgp_public_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class JobLease(Base):
    """Periodic job state: who runs it (a lease) and when next; survives restarts, safe with several processes."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
