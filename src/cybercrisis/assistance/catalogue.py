"""The capability catalogue: what organisations can offer, published by them and matched to requests."""

from __future__ import annotations

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.models import Share
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.assistance.models import Capability
from cybercrisis.assistance.schemas import CapabilityIn, CapabilityPatch
from cybercrisis.assistance.service import CAPABILITY_CREATE, CAPABILITY_DELETE, CAPABILITY_UPDATE, NEEDS, bad, choice
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.errors import Conflict, PermissionDenied
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor


def get_capability(session: Session, actor: Principal, capability_id: str) -> Capability:
    return sharing.get_readable(session, actor, Capability, capability_id)


def create_capability(session: Session, *, actor: Principal, data: CapabilityIn) -> Capability:
    """Publish a catalogue entry: what the organisation can offer, how many people, at what notice."""
    authority.authorize(actor, "capability.create", ())
    if actor.org_id is None:
        raise PermissionDenied("a catalogue entry belongs to an organisation; you act for none")
    kind = choice("kind", data.kind, NEEDS)
    if not data.title:
        raise bad("title", "give the entry a title")
    marking = sharing.parse_tlp(data.tlp)
    entries = sharing.resolve(
        session, tlp=marking, share_with=data.share_with, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    now = utcnow()
    cap = Capability(
        id=new_id("capability"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        kind=kind,
        title=data.title,
        description=data.description,
        notice_hours=data.notice_hours,
        people=data.people,
        active=True,
        created_at=now,
        modified_at=now,
    )
    session.add(cap)
    session.flush()
    sharing.write(session, object_id=cap.id, entries=entries, added_by=actor.org_id)
    audit.record(
        session,
        actor=actor,
        tag=CAPABILITY_CREATE,
        object_id=cap.id,
        summary={"kind": kind, "tlp": marking.value, "recipients": len(entries)},
    )
    return cap


def _own_capability(session: Session, actor: Principal, capability_id: str) -> Capability:
    cap = get_capability(session, actor, capability_id)
    authority.authorize(actor, "capability.manage", authority.owned(actor, cap.owner_org_id))
    return cap


def update_capability(session: Session, *, actor: Principal, capability_id: str, patch: CapabilityPatch) -> Capability:
    cap = _own_capability(session, actor, capability_id)
    if cap.version != patch.version:
        raise Conflict(
            f"the entry changed since you read it (version {patch.version}, now {cap.version}): "
            "reload and apply your change again"
        )
    changes = patch.model_dump(exclude_unset=True, exclude={"version"})
    for key, value in changes.items():
        if value is None:
            raise bad(key, f"{key} cannot be null; leave it out to keep it")
    if "kind" in changes:
        choice("kind", changes["kind"], NEEDS)
    changed = sorted(k for k, v in changes.items() if getattr(cap, k) != v)
    if not changed:
        return cap  # nothing changed: no new version
    for key in changed:
        setattr(cap, key, changes[key])
    cap.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=CAPABILITY_UPDATE,
        object_id=cap.id,
        summary={"fields": changed, "version": cap.version, "active": cap.active},
    )
    return cap


def delete_capability(session: Session, *, actor: Principal, capability_id: str) -> None:
    """Remove a catalogue entry and its share list; offers made from it keep its id as a reference."""
    cap = _own_capability(session, actor, capability_id)
    summary = {"kind": cap.kind, "version": cap.version}
    session.execute(delete(Share).where(Share.object_id == cap.id))
    session.delete(cap)
    session.flush()
    audit.record(session, actor=actor, tag=CAPABILITY_DELETE, object_id=capability_id, summary=summary)


def list_capabilities(
    session: Session,
    *,
    reader: Principal,
    kind: str | None = None,
    active: bool | None = None,
    owner: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Capability]:
    """Catalogue entries the reader may see, newest first, in keyset pages."""
    q = select(Capability).where(read_filter(reader, Capability))
    if kind:
        q = q.where(Capability.kind == choice("kind", kind, NEEDS))
    if active is not None:
        q = q.where(Capability.active.is_(active))
    if owner:
        q = q.where(Capability.owner_org_id == owner)
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(Capability.created_at, Capability.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(q.order_by(Capability.created_at.desc(), Capability.id.desc()).limit(limit + 1)))
    nxt = encode_cursor([rows[limit - 1].created_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    return Page(items=rows[:limit], next=nxt)


def capability_actions(principal: Principal, cap: Capability) -> frozenset[str]:
    """What the reader may do to a catalogue entry (the authority policy): its publisher changes and deletes it."""
    rel = authority.owned(principal, cap.owner_org_id)
    return frozenset({"capability.manage"} if authority.allows(principal, "capability.manage", rel) else ())
