"""Signing in and out of the UI: a password check throttled per e-mail and per client, and web sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cybercrisis.accounts import security
from cybercrisis.accounts.models import LoginThrottle, User, WebSession
from cybercrisis.accounts.service import principal_for
from cybercrisis.audit import service as audit
from cybercrisis.db import utcnow


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User | None
    locked_until: datetime | None = None


def _throttle_rows(session: Session, keys: list[str]) -> dict[str, LoginThrottle]:
    return {r.key: r for r in session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)))}


def authenticate(
    session: Session, *, email: str, password: str, client: str, max_failures: int, lock_minutes: int
) -> LoginResult:
    """Check a password. Failures are counted per e-mail and per client and lock both for a while.

    Returns instead of raising on failure, so that the caller commits the failure count.
    """
    now = utcnow()
    email = email.strip().lower()
    keys = [f"email:{email}", f"client:{client}"]
    rows = _throttle_rows(session, keys)
    locked = [r.locked_until for r in rows.values() if r.locked_until and r.locked_until > now]
    if locked:
        return LoginResult(None, max(locked))
    user = session.scalars(select(User).where(User.email == email)).first()
    ok = security.verify_password(user.password_hash if user else None, password)
    if ok and user is not None and user.is_active:
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys[0]))
        audit.record(session, actor=principal_for(session, user), tag="accounts:session:login", object_id=user.id)
        return LoginResult(user)
    window = timedelta(minutes=lock_minutes)
    lock_until = None
    for key in keys:
        row = rows.get(key)
        if row is None or now - row.window_start > window:
            if row is not None:
                session.delete(row)
                session.flush()
            row = LoginThrottle(key=key, failures=0, window_start=now)
            session.add(row)
        row.failures += 1
        if row.failures >= max_failures:
            row.locked_until = lock_until = now + window
    audit.record(
        session,
        actor=None,
        tag="accounts:session:login-failed",
        object_id=user.id if user else None,
        summary={"client": client, "locked": lock_until is not None},
    )
    return LoginResult(None, lock_until)


def create_web_session(session: Session, *, user: User, hours: int) -> tuple[str, WebSession]:
    secret = security.new_secret()
    row = WebSession(
        id_hash=security.digest(secret),
        user_id=user.id,
        csrf_token=security.new_secret(),
        expires_at=utcnow() + timedelta(hours=hours),
    )
    session.add(row)
    return secret, row


def end_web_session(session: Session, *, secret: str) -> None:
    row = session.get(WebSession, security.digest(secret))
    if row is None:
        return
    actor = principal_for(session, row.user)
    session.delete(row)
    audit.record(session, actor=actor, tag="accounts:session:logout", object_id=row.user_id)
