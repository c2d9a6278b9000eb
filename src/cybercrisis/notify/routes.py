"""Organisations' routing rules: which events reach which e-mail address or webhook (service.py queues them)."""

from __future__ import annotations

import logging
import re
import secrets
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cybercrisis import outbound, secretbox
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import InvalidInput, NotFound, PermissionDenied
from cybercrisis.notify.models import NotificationRoute, OutboxMessage
from cybercrisis.notify.service import CHANNELS, EMAIL, WEBHOOK, is_email

log = logging.getLogger(__name__)

_PATTERN_RE = re.compile(r"^[a-z0-9*?\[\]:_.\-]{1,120}$")
PGP_KEY_HEADER = "-----BEGIN PGP PUBLIC KEY BLOCK-----"


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _route_admin(session: Session, actor: Principal, org_id: str | None) -> str:
    """The organisation whose routes the actor manages: their own (any, for the operator at the command line).

    A platform admin too manages its own organisation's routes only: routing another organisation's notifications
    to an address of one's choosing would be reading what that organisation reads (issue 12)."""
    actor.require(Permission.CONTACT_WRITE)
    org = org_id or actor.org_id
    if org is None:
        raise _bad("organisation", "name the organisation whose routes you manage")
    if org != actor.org_id and not actor.is_operator:
        raise PermissionDenied("you manage the notification routes of your own organisation only")
    if session.get(Organisation, org) is None:
        raise _bad("organisation", f"no organisation with id {org}")
    return org


def _check_target(channel: str, target: str, allow: outbound.Allow) -> str:
    target = target.strip()
    if channel == EMAIL:
        if not is_email(target):
            raise _bad("target", "not an e-mail address")
        return target
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad("target", "a webhook is an http:// or https:// URL with a host")
    if parts.username or parts.password:
        # Credentials in a URL end up in logs; the HMAC secret authenticates us to the receiver instead.
        raise _bad("target", "put no credentials in the webhook URL; the receiver checks the signature")
    if parts.fragment:
        raise _bad("target", "a webhook URL has no #fragment")
    try:
        outbound.check_url(target, allow)
    except outbound.Refused as exc:
        raise _bad("target", str(exc)) from None
    return target


def _check_events(events: list[str]) -> list[str]:
    cleaned = sorted({e.strip() for e in events if e.strip()})
    if not cleaned:
        raise _bad("events", "name at least one event pattern, e.g. alerts:*")
    bad = [e for e in cleaned if not _PATTERN_RE.match(e)]
    if bad:
        raise _bad("events", f"not an event pattern (source:subject:action, * and ? allowed): {', '.join(bad)}")
    return cleaned


def check_pgp_key(value: str) -> None:
    """Refuse what is not an armored public key; parse it too when the optional PGP library is installed."""
    if PGP_KEY_HEADER not in value:
        raise _bad("pgp_public_key", "an ASCII-armored PGP public key block is expected")
    from cybercrisis.notify.pgp import PGPUnavailable, load_public_key

    try:
        load_public_key(value)
    except PGPUnavailable:
        log.info("PGP library not installed: the key is stored unchecked")
    except ValueError:
        raise _bad("pgp_public_key", "the PGP public key cannot be read") from None


def create_route(
    session: Session,
    *,
    actor: Principal,
    org_id: str | None,
    events: list[str],
    channel: str,
    target: str,
    secret: str | None,
    pgp_public_key: str | None,
    settings: Settings,
) -> tuple[NotificationRoute, str | None]:
    """Add a routing rule; returns the route and, for a webhook, its signing secret (shown this once).

    A webhook must not aim at an address the outbound policy refuses (`outbound.check_url`) outside the networks
    the operator allows (`settings.outbound_networks`); delivery checks the address again.
    """
    org = _route_admin(session, actor, org_id)
    if channel not in CHANNELS:
        raise _bad("channel", f"'{channel}' is not a channel; valid: {', '.join(CHANNELS)}")
    patterns = _check_events(events)
    address = _check_target(channel, target, settings.outbound_networks)
    if channel == EMAIL and secret:
        raise _bad("secret", "a signing secret is for webhooks only")
    if channel == WEBHOOK and pgp_public_key:
        raise _bad("pgp_public_key", "PGP keys are for e-mail routes only")
    if secret is not None and len(secret) < 16:
        raise _bad("secret", "a signing secret has at least 16 characters")
    if pgp_public_key:
        check_pgp_key(pgp_public_key)
    if channel == WEBHOOK and not secret:
        secret = secrets.token_urlsafe(32)
    route = NotificationRoute(
        org_id=org,
        events=patterns,
        channel=channel,
        target=address,
        # Sealed with the server key: the signing secret is shown once, here, and opened only to sign (deliver.py).
        secret=secretbox.seal(settings, secretbox.ROUTE_SECRET, secret) if channel == WEBHOOK and secret else None,
        pgp_public_key=pgp_public_key or None,
        active=True,
    )
    session.add(route)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="notify:route:create",
        object_id=org,
        summary={"route": route.id, "channel": channel, "events": patterns, "pgp": bool(pgp_public_key)},
    )
    return route, secret if channel == WEBHOOK else None


def list_routes(session: Session, *, actor: Principal, org_id: str | None) -> list[NotificationRoute]:
    org = _route_admin(session, actor, org_id)
    return list(
        session.scalars(
            select(NotificationRoute)
            .where(NotificationRoute.org_id == org, NotificationRoute.active.is_(True))
            .order_by(NotificationRoute.id)
        )
    )


def delete_route(session: Session, *, actor: Principal, route_id: int) -> None:
    """Remove a route; its undelivered messages are given up, since only the route can sign or encrypt them."""
    actor.require(Permission.CONTACT_WRITE)
    route = session.get(NotificationRoute, route_id)
    # Another organisation's routing is none of the caller's business: not even whether a route exists.
    if route is None or not route.active or (route.org_id != actor.org_id and not actor.is_operator):
        raise NotFound(f"no notification route {route_id}")
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.route_id == route.id, OutboxMessage.status == "pending")
        .values(status="failed", last_error="route deleted before delivery", locked_until=None)
    )
    session.execute(update(OutboxMessage).where(OutboxMessage.route_id == route.id).values(route_id=None))
    session.delete(route)
    audit.record(
        session,
        actor=actor,
        tag="notify:route:delete",
        object_id=route.org_id,
        summary={"route": route_id, "channel": route.channel},
    )
