"""Release approved statements at their embargo time; run by the job runner (jobs.release_communications)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.accounts.service import SYSTEM
from cybercrisis.comms.models import CommKind, CommState, Communication
from cybercrisis.comms.release import publish
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.errors import Conflict

log = logging.getLogger(__name__)
BATCH = 200


def due(session: Session, now: datetime, *, limit: int = BATCH) -> list[str]:
    """Ids of approved statements whose embargo has passed (or that have none), earliest embargo first."""
    return list(
        session.scalars(
            select(Communication.id)
            .where(
                Communication.state == CommState.APPROVED.value,
                Communication.kind == CommKind.STATEMENT.value,
                Communication.origin_node.is_(None),  # a replica's origin releases it (ADR 0013)
                or_(Communication.embargo_until.is_(None), Communication.embargo_until <= now),
            )
            .order_by(Communication.embargo_until, Communication.id)
            .limit(limit)
        )
    )


def release_due(factory: sessionmaker[Session], settings: Settings, now: datetime) -> int:
    """Release each due statement in its own transaction, through the same code as the release request.

    Several job runners (or a release request) may reach the same statement at once: the conditional update and
    the unique publication let one of them publish; the others find it done and skip it. Returns how many
    statements this call released.
    """
    with unit_of_work(factory, write=False) as session:
        ids = due(session, now)
    released = 0
    for communication_id in ids:
        try:
            with unit_of_work(factory) as session:
                c = session.get(Communication, communication_id)
                if c is None:
                    continue
                publish(session, actor=SYSTEM, c=c, now=now)
            released += 1
        except (Conflict, IntegrityError) as exc:
            # Released by someone else, edited or withdrawn meanwhile: nothing to do (the unit rolled back).
            log.debug("not releasing %s: %s", communication_id, exc)
    return released
