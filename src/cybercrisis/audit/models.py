from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.db import Base, StixId, UTCDateTime


class AuditEvent(Base):
    """One entry of the chain. `hash` covers every other column and the previous entry's hash."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    actor_user_id: Mapped[str | None] = mapped_column(StixId, nullable=True)
    actor_org_id: Mapped[str | None] = mapped_column(StixId, nullable=True)
    token_id: Mapped[str | None] = mapped_column(StixId, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tag: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    object_id: Mapped[str | None] = mapped_column(StixId, nullable=True, index=True)
    summary: Mapped[str] = mapped_column(Text, nullable=False)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
