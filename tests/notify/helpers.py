"""Arrange contacts and routes through the real services, and read back the outbox."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.schemas import ShareWith
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.notify.models import OutboxMessage
from tests.conftest import TEST_OUTBOUND_ALLOW, TEST_SECRET_KEY


def add_contact(factory: sessionmaker[Session], org_id: str, kind: str, value: str) -> str:
    from cybercrisis.directory import service

    with unit_of_work(factory) as s:
        contact = service.create_contact(
            s,
            actor=SYSTEM,
            org_id=org_id,
            kind=kind,
            label=f"{kind} desk",
            value=value,
            pgp_fingerprint=None,
            tlp="amber+strict",
            share_with=ShareWith(),
        )
        return contact.id


def add_route(
    factory: sessionmaker[Session],
    org_id: str,
    channel: str,
    target: str,
    events: tuple[str, ...] = ("*",),
    *,
    secret: str | None = None,
    pgp_public_key: str | None = None,
    outbound_allow: str | None = None,
    settings: Settings | None = None,
) -> tuple[int, str | None]:
    from cybercrisis.notify import routes

    chosen = settings or Settings(secret_key=TEST_SECRET_KEY, outbound_allow=TEST_OUTBOUND_ALLOW)
    if outbound_allow is not None:  # the operator's CYBERCRISIS_OUTBOUND_ALLOW when the route is made
        chosen = chosen.model_copy(update={"outbound_allow": outbound_allow})
    with unit_of_work(factory) as s:
        route, made = routes.create_route(
            s,
            actor=SYSTEM,
            org_id=org_id,
            events=list(events),
            channel=channel,
            target=target,
            secret=secret,
            pgp_public_key=pgp_public_key,
            # The secret is sealed with the server key: by default that of the `settings` fixture.
            settings=chosen,
        )
        return route.id, made


def outbox(db: Session, *where: object) -> list[OutboxMessage]:
    """Messages as committed now, oldest first."""
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(OutboxMessage).where(*where).order_by(OutboxMessage.id)))  # type: ignore[arg-type]
