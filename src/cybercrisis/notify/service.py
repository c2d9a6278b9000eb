"""Queue notifications in the caller's transaction (the outbox); organisations' routing rules are in routes.py."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from fnmatch import fnmatchcase
from typing import Any, Protocol

from sqlalchemy import Insert, and_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.access.policy import USER, can_read
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.accounts.models import User
from cybercrisis.db import utcnow
from cybercrisis.directory.models import CommunityMembership, Contact, ContactKind
from cybercrisis.notify.models import NotificationRoute, OutboxMessage

EMAIL, WEBHOOK = "email", "webhook"
CHANNELS = (EMAIL, WEBHOOK)
# Contacts used when an organisation has set up no route at all.
FALLBACK_KINDS = frozenset({ContactKind.EMAIL.value, ContactKind.DESK_24X7.value})
# Reached on escalation, whatever the routes say.
ROUND_THE_CLOCK_KINDS = frozenset({ContactKind.DESK_24X7.value, ContactKind.DUTY_OFFICER.value})

_EMAIL_RE = re.compile(r"^[^@\s<>\"',;:]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def is_email(value: str) -> bool:
    return len(value) <= 320 and _EMAIL_RE.match(value) is not None


def notify_orgs(
    session: Session,
    *,
    event: str,
    org_ids: Iterable[str],
    subject: str,
    body: str,
    object_id: str | None,
    payload: dict[str, Any],
    dedupe: str,
    marking: str,
    contact_kinds: Collection[str] = (),
) -> int:
    """Queue one message per matching route of each organisation, in the caller's transaction.

    `marking` is the TLP of what the message is about. TLP:RED is refused (ValueError): organisation channels
    (routes, shared contacts, webhooks) never carry it; `notify_readers` tells a RED object's named users instead.

    An organisation's active routes whose `events` patterns match `event` (fnmatch) receive it; an organisation
    with no route at all gets it at its e-mail and 24/7-desk contacts instead, unless another node speaks for it
    (`spoken_for_elsewhere`): that node tells it. `contact_kinds` adds contacts of
    those kinds whatever the routes say (escalation to 24/7 desks and duty officers).

    Every message is keyed `<dedupe>:<route id or contact id>`; a key already queued is skipped, so a sweep that
    runs twice, or again after a crash, queues nothing new. Returns the number of messages queued.

    `subject`, `body` and `payload` go to every listed organisation, in clear unless the route has a PGP key:
    the caller must put in them nothing that each of these organisations may not read under the object's TLP.
    """
    if marking == TLP.RED:
        raise ValueError("TLP:RED never goes to an organisation's channels: notify_readers tells its named users")
    orgs = sorted(set(org_ids))
    if not orgs:
        return 0
    routes: dict[str, list[NotificationRoute]] = defaultdict(list)
    for route in session.scalars(
        select(NotificationRoute)
        .where(NotificationRoute.org_id.in_(orgs), NotificationRoute.active.is_(True))
        .order_by(NotificationRoute.id)
    ):
        routes[route.org_id].append(route)
    elsewhere = spoken_for_elsewhere(session, orgs)
    kinds = sorted(FALLBACK_KINDS | set(contact_kinds))
    contacts: dict[str, list[Contact]] = defaultdict(list)
    for contact in session.scalars(
        select(Contact).where(Contact.owner_org_id.in_(orgs), Contact.kind.in_(kinds)).order_by(Contact.id)
    ):
        contacts[contact.owner_org_id].append(contact)

    rows: list[dict[str, Any]] = []
    now = utcnow()

    def add(channel: str, target: str, key: str, route_id: int | None) -> None:
        rows.append(
            {
                "channel": channel,
                "target": target,
                "event": event,
                "subject": subject[:500],
                "body": body,
                "payload": payload,
                "dedupe_key": _key(key),
                "route_id": route_id,
                "object_id": object_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )

    for org in orgs:
        seen: set[tuple[str, str]] = set()
        for route in routes[org]:
            if any(fnmatchcase(event, pattern) for pattern in route.events):
                seen.add((route.channel, route.target.lower()))
                add(route.channel, route.target, f"{dedupe}:{route.id}", route.id)
        wanted = set(contact_kinds) | (FALLBACK_KINDS if not routes[org] else set())
        if org in elsewhere:
            continue  # its own node tells it at its contacts; here only through routes it set up here
        for contact in contacts[org]:
            address = contact.value.strip()
            if contact.kind not in wanted or not is_email(address) or (EMAIL, address.lower()) in seen:
                continue
            seen.add((EMAIL, address.lower()))
            add(EMAIL, address, f"{dedupe}:{contact.id}", None)
    return _insert_new(session, rows)


def spoken_for_elsewhere(session: Session, org_ids: Iterable[str]) -> set[str]:
    """The organisations among `org_ids` that another node speaks for (an enabled peer's, or one pinned through a
    relay; ADR 0013). That node tells them of what reaches it, so this one does not write to their contacts too:
    in a federation each organisation hears of an object once, from its own node, or through routes it set up."""
    wanted = sorted(set(org_ids))
    if not wanted:
        return set()
    from cybercrisis.exchange.models import NodePin, Peer

    found = set(
        session.scalars(select(Peer.organisation_id).where(Peer.enabled.is_(True), Peer.organisation_id.in_(wanted)))
    )
    found |= set(session.scalars(select(NodePin.organisation_id).where(NodePin.organisation_id.in_(wanted))))
    return {o for o in found if o is not None}


class Notified(Protocol):
    """What decides who is told about an object: its marking, owner and share rows (keyed by its id)."""

    @property
    def id(self) -> str: ...
    @property
    def tlp(self) -> str: ...
    @property
    def owner_org_id(self) -> str: ...


def org_readers(session: Session, obj: Notified, org_ids: Iterable[str]) -> list[str]:
    """The organisations, among `org_ids`, whose members may read `obj` as an organisation: read through a
    principal of the organisation that no share list names, so TLP:RED (named users only) leaves none."""
    wanted = sorted(set(org_ids) - {""})
    if not wanted or obj.tlp == TLP.RED:
        return []
    shares = sharing.shares_of(session, obj.id)
    memberships: dict[str, set[str]] = defaultdict(set)
    for org_id, slug in session.execute(
        select(CommunityMembership.org_id, CommunityMembership.community_slug).where(
            CommunityMembership.org_id.in_(wanted)
        )
    ):
        memberships[org_id].add(slug)
    return [
        org_id
        for org_id in wanted
        if can_read(
            Principal(user_id=f"organisation:{org_id}", org_id=org_id, communities=frozenset(memberships[org_id])),
            tlp=obj.tlp,
            owner_org_id=obj.owner_org_id,
            shares=shares,
        )
    ]


def notify_readers(
    session: Session,
    *,
    obj: Notified,
    event: str,
    org_ids: Iterable[str],
    subject: str,
    body: str,
    payload: dict[str, Any],
    dedupe: str,
    object_id: str | None = None,
    contact_kinds: Collection[str] = (),
    actor: Principal | None = None,
) -> int:
    """Tell the readers of `obj` (a shareable object) about `event`; every notification about one goes through here.

    - TLP:RED: its named users (share rows of kind user) who are active, each at their own account address, and
      never `actor` itself; no organisation route, shared contact or webhook. `org_ids` does not widen this, and
      the subject is marked TLP:RED.
    - Otherwise: the organisations among `org_ids` that may read `obj` (`org_readers`), through `notify_orgs`.

    `object_id` is what the message is about when that is a part of `obj` (a decision of a crisis); default `obj`.
    """
    about = object_id or obj.id
    if obj.tlp != TLP.RED:
        return notify_orgs(
            session,
            event=event,
            org_ids=org_readers(session, obj, org_ids),
            subject=subject,
            body=body,
            object_id=about,
            payload=payload,
            dedupe=dedupe,
            marking=obj.tlp,
            contact_kinds=contact_kinds,
        )
    named = session.execute(
        select(User.id, User.email)
        .join(Share, and_(Share.target == User.id, Share.kind == USER))
        .where(Share.object_id == obj.id, User.is_active.is_(True))
        .order_by(User.id)
    ).all()
    label = TLP.RED.label
    now = utcnow()
    rows = [
        {
            "channel": EMAIL,
            "target": email,
            "event": event,
            "subject": (subject if label in subject else f"[{label}] {subject}")[:500],
            "body": body,
            "payload": payload,
            "dedupe_key": _key(f"{dedupe}:{user_id}"),
            "route_id": None,
            "object_id": about,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for user_id, email in named
        if (actor is None or user_id != actor.user_id) and is_email(email)
    ]
    return _insert_new(session, rows)


def _key(key: str) -> str:
    """Keys fit the column; a long one keeps its start for readers and a digest of the whole for uniqueness."""
    if len(key) <= 300:
        return key
    return f"{key[:235]}:{hashlib.sha256(key.encode()).hexdigest()}"


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, on both supported databases; returns rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    stmt: Insert
    if dialect == "postgresql":
        stmt = postgresql.insert(OutboxMessage).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
    elif dialect == "sqlite":
        stmt = sqlite.insert(OutboxMessage).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported (config.py)
        raise RuntimeError(f"unsupported database {dialect}")
    # RETURNING lists the rows actually inserted; a bulk row count is not reliable on every driver.
    return len(session.execute(stmt.returning(OutboxMessage.id)).all())
