"""Deliver the outbox: claim due messages, send them outside any transaction, record the outcome.

Delivery is at-least-once. A message is claimed (a lease in `locked_until`) and the claim committed before it is
sent; the result is recorded in a new transaction. If the process dies between sending and recording, the lease
runs out and the message is sent again, once, with the same Message-ID / `X-Cybercrisis-Delivery` (its dedupe
key), so that receivers can drop the copy. Nothing queued is lost while the SMTP server or a webhook receiver
is down: failed attempts back off exponentially (30 s doubling, at most 1 h) and give up after 10 attempts.
Several runners may deliver at once: PostgreSQL claims with FOR UPDATE SKIP LOCKED, SQLite claims inside an
IMMEDIATE transaction, and a result is only recorded by the runner whose lease is still the current one.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import outbound, secretbox
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.notify import email, webhook
from cybercrisis.notify.models import NotificationRoute, OutboxMessage
from cybercrisis.notify.service import EMAIL, WEBHOOK

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
CLAIM_SECONDS = 300  # longer than a batch can take to send; a dead runner's claim ends after it


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed message, copied out of the claiming transaction (no ORM object outlives it)."""

    id: int
    channel: str
    target: str
    event: str
    subject: str
    body: str
    payload: dict[str, Any]
    dedupe_key: str
    object_id: str | None
    attempts: int
    secret: str | None  # as stored: sealed (secretbox), opened only in _send
    pgp_public_key: str | None
    lease: datetime


@dataclass(slots=True)
class DeliveryStats:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def backoff(attempts_before: int) -> timedelta:
    """Wait after a failed attempt: 30 s, 60 s, 120 s ... capped at one hour."""
    return timedelta(seconds=min(2 ** min(attempts_before, 20) * 30, 3600))


def deliver_due(
    factory: sessionmaker[Session], *, settings: Settings, now: datetime | None = None, batch: int = 50
) -> DeliveryStats:
    """Send up to `batch` due messages; each outcome is committed as soon as it is known."""
    clock = now or utcnow()
    claimed = _claim(factory, settings=settings, now=clock, batch=batch)
    stats = DeliveryStats(claimed=len(claimed))
    for msg in claimed:
        stamp = now or utcnow()
        try:
            _send(settings, msg, stamp)
        except Exception as exc:  # noqa: BLE001 - whatever the failure, it is recorded and retried
            error = describe(exc)
            log.warning("outbox message %s (%s, %s) not delivered: %s", msg.id, msg.channel, msg.event, error)
            if _record_failure(factory, msg, now=clock, error=error):
                stats.failed += 1
            else:
                stats.retrying += 1
        else:
            _record_sent(factory, msg, at=stamp)
            stats.sent += 1
    return stats


def _claim(factory: sessionmaker[Session], *, settings: Settings, now: datetime, batch: int) -> list[Claimed]:
    lease = now + timedelta(seconds=CLAIM_SECONDS)
    with unit_of_work(factory) as session:
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(batch)
        )
        if not getattr(settings, "smtp_host", None):
            # Without an SMTP server, e-mail waits (not lost) until one is configured.
            query = query.where(OutboxMessage.channel != EMAIL)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        # SQLite: the unit of work began IMMEDIATE, so no other writer runs between this SELECT and the UPDATE.
        ids = list(session.scalars(query))
        if not ids:
            return []
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(locked_until=lease)
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            select(
                OutboxMessage.id,
                OutboxMessage.channel,
                OutboxMessage.target,
                OutboxMessage.event,
                OutboxMessage.subject,
                OutboxMessage.body,
                OutboxMessage.payload,
                OutboxMessage.dedupe_key,
                OutboxMessage.object_id,
                OutboxMessage.attempts,
                NotificationRoute.secret,
                NotificationRoute.pgp_public_key,
            )
            .outerjoin(NotificationRoute, NotificationRoute.id == OutboxMessage.route_id)
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        ).all()
        return [Claimed(**row._asdict(), lease=lease) for row in rows]


class MissingSecret(RuntimeError):
    """A webhook route lost its secret: nothing unsigned is ever sent."""


def _send(settings: Settings, msg: Claimed, stamp: datetime) -> None:
    if msg.channel == EMAIL:
        message = email.build(
            sender=email.sender_of(settings),
            to=msg.target,
            subject=msg.subject,
            body=msg.body,
            event=msg.event,
            dedupe_key=msg.dedupe_key,
            pgp_public_key=msg.pgp_public_key,
        )
        email.send(settings, message)
    elif msg.channel == WEBHOOK:
        if not msg.secret:
            raise MissingSecret("the webhook route has no signing secret")
        secret = secretbox.reveal(settings, secretbox.ROUTE_SECRET, msg.secret)  # opened here only, to sign
        body = webhook.body_of(
            event=msg.event, object_id=msg.object_id, payload=msg.payload, outbox_id=msg.id, sent_at=stamp
        )
        webhook.post(settings, url=msg.target, secret=secret, event=msg.event, delivery=msg.dedupe_key, body=body)
    else:
        raise ValueError(f"unknown channel {msg.channel!r}")


def _current(msg: Claimed) -> Any:
    """Only the runner holding the current lease records an outcome."""
    return (OutboxMessage.id == msg.id, OutboxMessage.status == "pending", OutboxMessage.locked_until == msg.lease)


def _record_sent(factory: sessionmaker[Session], msg: Claimed, *, at: datetime) -> None:
    with unit_of_work(factory) as session:
        result = session.execute(
            update(OutboxMessage)
            .where(*_current(msg))
            .values(status="sent", sent_at=at, attempts=msg.attempts + 1, locked_until=None, last_error=None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            log.warning("outbox message %s was claimed again while it was being sent; it may arrive twice", msg.id)


def _record_failure(factory: sessionmaker[Session], msg: Claimed, *, now: datetime, error: str) -> bool:
    """Count the attempt and schedule the next; True when this was the last one."""
    attempts = msg.attempts + 1
    give_up = attempts >= MAX_ATTEMPTS
    values: dict[str, Any] = {"attempts": attempts, "locked_until": None, "last_error": error[:1000]}
    if give_up:
        values["status"] = "failed"
    else:
        values["next_attempt_at"] = now + backoff(msg.attempts)
    with unit_of_work(factory) as session:
        session.execute(
            update(OutboxMessage).where(*_current(msg)).values(**values).execution_options(synchronize_session=False)
        )
    if give_up:
        log.error("outbox message %s (%s) given up after %s attempts: %s", msg.id, msg.event, attempts, error)
    return give_up


def describe(exc: BaseException) -> str:
    """A failure for the operator, without URLs, addresses or credentials."""
    if isinstance(exc, webhook.WebhookRefused):
        return f"webhook answered HTTP {exc.status}"
    if isinstance(exc, outbound.Refused):
        what = outbound.with_article(exc.reason)
        return (
            f"webhook not sent: its host's address is {what} address, which the outbound policy refuses (the "
            f"operator may allow its network in {outbound.SETTING})"
        )
    if isinstance(exc, httpx.TimeoutException):
        return "webhook timed out"
    if isinstance(exc, httpx.HTTPError):
        return f"webhook unreachable ({type(exc).__name__})"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"SMTP server refused ({exc.smtp_code}): {text[:200]}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _ in exc.recipients.values()})
        return f"SMTP server refused the recipient ({', '.join(map(str, codes))})"
    if isinstance(exc, smtplib.SMTPException):
        return f"SMTP error ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or 'network error'}"
    if isinstance(exc, (email.SmtpNotConfigured, MissingSecret, secretbox.Unreadable)):
        return str(exc)
    return type(exc).__name__


def outbox_counts(session: Session) -> dict[str, int]:
    """Messages per status, for operators."""
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    return {status: int(n) for status, n in rows}
