"""Answers to objects held at another node (ADR 0013): the asking node's outbox and the origin's receipts.

An answer (acknowledging an early warning, ...) is an act of an organisation here on a replica. It is not written
here: it waits in `answers` until its origin node has applied it (or refused it), and what it changed comes back as
a new signed version of the object. At the origin, `answer_receipts` holds each applied or refused answer once per
(asking node, key), so that a request delivered twice is applied once and asked again returns the same outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cybercrisis.db import Base, StixId, UTCDateTime, utcnow

QUEUED, APPLIED, REFUSED = "queued", "applied", "refused"


class Answer(Base):
    """One act of an organisation of this node on a replica, sent to the replica's origin node."""

    __tablename__ = "answers"

    # `answer--<uuid4>`: also the idempotency key the origin keeps its receipt under.
    id: Mapped[str] = mapped_column(StixId, primary_key=True)
    act: Mapped[str] = mapped_column(String(64), nullable=False)  # an act of access.authority.ANSWERS
    object_id: Mapped[str] = mapped_column(StixId, nullable=False, index=True)
    origin_node: Mapped[str] = mapped_column(String(120), nullable=False)
    # Whose act it is: the organisation (the owner of the answer), and the user here who asked (never sent: the
    # origin gets an opaque reference, `user_ref`).
    owner_org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=False)
    created_by_id: Mapped[str | None] = mapped_column(StixId, ForeignKey("users.id"), nullable=True)
    user_ref: Mapped[str] = mapped_column(String(64), nullable=False)
    # The TLP of the object answered (an answer says no more than that the organisation acted on it) and whether
    # that object belongs to an exercise.
    tlp: Mapped[str] = mapped_column(String(16), nullable=False)
    exercise: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    version_seen: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # the replica's version
    input: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    state: Mapped[str] = mapped_column(String(16), nullable=False, default=QUEUED)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")  # the origin's reason for a refusal
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why the last delivery failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # At a relay: the node that asked, and its signature, forwarded unchanged to the origin (ADR 0013 point 5).
    relayed_for: Mapped[str | None] = mapped_column(String(120), nullable=True)
    signature: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_answers_state_next", "state", "next_attempt_at"),)


class AnswerReceipt(Base):
    """At the origin: one answer from another node, applied or refused, exactly once per (node, key)."""

    __tablename__ = "answer_receipts"

    node_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    key: Mapped[str] = mapped_column(StixId, primary_key=True)
    act: Mapped[str] = mapped_column(String(64), nullable=False)
    object_id: Mapped[str] = mapped_column(StixId, nullable=False, index=True)
    org_id: Mapped[str] = mapped_column(StixId, ForeignKey("organisations.id"), nullable=False)
    user_ref: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
