"""The chain of custody of a hand-off, and what the organisations holding it do: the sender adds files until the
package is first received (then it is sealed); the holder (the recipient, or the last organisation it was
transferred to) acknowledges receipt and may transfer it on to another law-enforcement organisation, which is added
to the share list and must acknowledge receipt in turn; the sender and the holders add notes.

The chain is append-only; each link takes the next number while holding the hand-off row (`SELECT ... FOR UPDATE`
on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so concurrent links never collide.
"""

from __future__ import annotations

from typing import BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing, widening
from cybercrisis.access.policy import ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict, NotFound
from cybercrisis.handoffs import evidence
from cybercrisis.handoffs.actions import require
from cybercrisis.handoffs.checks import bad, law_enforcement, writer
from cybercrisis.handoffs.models import CustodyEntry, EvidenceFile, Handoff, HandoffState
from cybercrisis.notify.service import notify_readers

HANDED_OVER, RECEIVED, TRANSFERRED, NOTE = "handed-over", "received", "transferred", "note"
TAG_RECEIVE, TAG_TRANSFER = "handoffs:handoff:receive", "handoffs:handoff:transfer"
TAG_NOTE, TAG_FILE = "handoffs:handoff:note", "handoffs:file:add"
SEALED = "the recipient acknowledged receipt, so the package is sealed: hand further evidence over in a new hand-off"


def org_names(session: Session, org_ids: set[str | None]) -> dict[str, Organisation]:
    wanted = sorted(o for o in org_ids if o)
    if not wanted:
        return {}
    return {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(wanted)))}


def lock(session: Session, actor: Principal, handoff_id: str) -> Handoff:
    """Load a readable hand-off and hold its row until commit: custody links are numbered one at a time."""
    h = session.scalars(
        select(Handoff)
        .where(Handoff.id == handoff_id, read_filter(actor, Handoff))
        .with_for_update(of=Handoff)
        .execution_options(populate_existing=True)
    ).first()
    if h is None:
        raise NotFound(f"no handoff with id {handoff_id}")
    return h


def notify(session: Session, h: Handoff, *, event: str, org_id: str, subject: str, body: str) -> None:
    """Only ids, organisation names and counts: nothing of the package itself travels by notification."""
    notify_readers(
        session,
        obj=h,
        event=event,
        org_ids=[org_id],
        subject=subject,
        body=body,
        payload={"handoff": h.id, "state": h.state, "tlp": h.tlp},
        dedupe=f"{event}:{h.id}:{org_id}:{h.version}",
    )


# --- the chain ----------------------------------------------------------------------------------------------


def custody_of(session: Session, handoff_id: str) -> list[CustodyEntry]:
    return list(
        session.scalars(select(CustodyEntry).where(CustodyEntry.handoff_id == handoff_id).order_by(CustodyEntry.seq))
    )


def custody_of_many(session: Session, handoff_ids: list[str]) -> dict[str, list[CustodyEntry]]:
    """`custody_of` for several hand-offs at once (My work lists them): handoff id -> its chain, in order."""
    chains: dict[str, list[CustodyEntry]] = {}
    if handoff_ids:
        query = select(CustodyEntry).where(CustodyEntry.handoff_id.in_(handoff_ids)).order_by(CustodyEntry.seq)
        for entry in session.scalars(query):
            chains.setdefault(entry.handoff_id, []).append(entry)
    return chains


def files_of(session: Session, handoff_id: str) -> list[EvidenceFile]:
    return list(
        session.scalars(select(EvidenceFile).where(EvidenceFile.handoff_id == handoff_id).order_by(EvidenceFile.id))
    )


def holder_of(entries: list[CustodyEntry]) -> tuple[str | None, str | None]:
    """(the organisation that last handed it on, the one holding it now), read from the chain of custody."""
    giver = holder = None
    for e in entries:
        if e.action in (HANDED_OVER, TRANSFERRED):
            giver, holder = e.from_org_id, e.to_org_id
    return giver, holder


def is_sealed(entries: list[CustodyEntry]) -> bool:
    """Once first received, the package is closed to new files: what was received is what is held."""
    return any(e.action == RECEIVED for e in entries)


def items_of(h: Handoff, files: list[EvidenceFile]) -> list[str]:
    return [f"{o['type']}:{o['value']}" for o in h.observables] + [f.sha256 for f in files]


def append(
    session: Session,
    handoff_id: str,
    *,
    action: str,
    by: str | None,
    from_org: str | None,
    to_org: str | None,
    items: list[str],
    note: str = "",
    seq: int | None = None,
) -> CustodyEntry:
    """Add one link. The caller holds the hand-off row (`lock`), so the next number is its own."""
    if seq is None:
        last = session.scalar(select(func.max(CustodyEntry.seq)).where(CustodyEntry.handoff_id == handoff_id))
        seq = (last or 0) + 1
    entry = CustodyEntry(
        handoff_id=handoff_id,
        seq=seq,
        at=utcnow(),
        action=action,
        from_org_id=from_org,
        to_org_id=to_org,
        by_user_id=by,
        items=items,
        note=note,
    )
    session.add(entry)
    session.flush()
    return entry


# --- what the sender and the holders do -------------------------------------------------------------------


def _shared_orgs(session: Session, h: Handoff) -> set[str]:
    """The organisations it was handed to (the recipient and those it was transferred to)."""
    return {s.target for s in sharing.shares_of(session, h.id) if s.kind == ORG}


def add_file(
    session: Session,
    *,
    actor: Principal,
    handoff_id: str,
    src: BinaryIO,
    filename: str | None,
    media_type: str | None,
    expected_sha256: str | None,
    settings: Settings,
) -> EvidenceFile:
    """Store one evidence file by its SHA-256 and record it in the package and the chain of custody."""
    sender = writer(actor)
    h = lock(session, actor, handoff_id)
    entries = custody_of(session, h.id)
    _giver, holder = holder_of(entries)
    require(
        actor,
        h,
        "file",
        holder=holder,
        sealed=is_sealed(entries),
        shared_orgs=_shared_orgs(session, h),
        conflict=SEALED,
    )
    expected = evidence.check_digest(expected_sha256)
    name, media = evidence.clean_name(filename), evidence.clean_media_type(media_type)
    # A blob once in the store stays there (content-addressed): another hand-off may carry the same content.
    blob = evidence.store(
        src, data_dir=settings.data_dir, max_bytes=settings.evidence_max_bytes, expected_sha256=expected
    )
    duplicate = session.scalar(
        select(EvidenceFile.id).where(EvidenceFile.handoff_id == h.id, EvidenceFile.sha256 == blob.sha256)
    )
    if duplicate is not None:
        raise Conflict(f"this file is already in the package (file {duplicate}, same SHA-256)")
    f = EvidenceFile(
        handoff_id=h.id,
        name=name,
        media_type=media,
        size=blob.size,
        sha256=blob.sha256,
        added_at=utcnow(),
        added_by_id=actor.user_id,
    )
    session.add(f)
    h.modified_at = utcnow()
    session.flush()
    append(
        session,
        h.id,
        action=HANDED_OVER,
        by=actor.user_id,
        from_org=sender,
        to_org=h.recipient_org_id,
        items=[blob.sha256],
    )
    audit.record(session, actor=actor, tag=TAG_FILE, object_id=h.id, summary={"file": f.id, "size": blob.size})
    return f


def _as_holder(session: Session, actor: Principal, h: Handoff, action: str, conflict: str) -> tuple[str | None, str]:
    """(who handed it on, the holder), once `actor` is found to hold it and the state to allow `action`."""
    entries = custody_of(session, h.id)
    giver, holder = holder_of(entries)
    name = org_names(session, {holder}).get(holder or "")
    require(
        actor,
        h,
        action,
        holder=holder,
        sealed=is_sealed(entries),
        shared_orgs=_shared_orgs(session, h),
        conflict=conflict,
        refusal=f"only the organisation holding it now ({name.short_name if name else 'unknown'}) does this",
    )
    assert holder is not None
    return giver, holder


def receive(session: Session, *, actor: Principal, handoff_id: str, note: str = "") -> Handoff:
    """The holder acknowledges receipt of everything in the package; this seals it."""
    writer(actor)
    h = lock(session, actor, handoff_id)
    giver, holder = _as_holder(
        session, actor, h, "receive", "your organisation already acknowledged receipt of this hand-off"
    )
    files = files_of(session, h.id)
    entry = append(
        session,
        h.id,
        action=RECEIVED,
        by=actor.user_id,
        from_org=giver,
        to_org=holder,
        items=items_of(h, files),
        note=note,
    )
    h.state = HandoffState.RECEIVED.value
    h.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=TAG_RECEIVE,
        object_id=h.id,
        summary={"seq": entry.seq, "by_org": holder, "items": len(entry.items)},
    )
    names = org_names(session, {holder})
    who = names[holder].short_name if holder in names else "The recipient"
    for org in sorted({h.owner_org_id, giver or h.owner_org_id}):
        notify(
            session,
            h,
            event=TAG_RECEIVE,
            org_id=org,
            subject=f"[{TLP(h.tlp).label}] {who} acknowledged receipt of a hand-off",
            body=f"{who} acknowledged receipt of hand-off {h.id} ({len(entry.items)} item(s)) at "
            f"{entry.at.isoformat(timespec='seconds')}.",
        )
    return h


def transfer(session: Session, *, actor: Principal, handoff_id: str, to: str, note: str = "") -> Handoff:
    """The holder passes the package on to another law-enforcement organisation, which must acknowledge it."""
    writer(actor)
    h = lock(session, actor, handoff_id)
    _giver, holder = _as_holder(
        session, actor, h, "transfer", "acknowledge receipt of the hand-off before transferring it"
    )
    target = law_enforcement(session, to, field="to")
    if target.id == holder:
        raise bad("to", "your organisation already holds it: transfer it to another organisation")
    shared = {(s.kind, s.target) for s in sharing.shares_of(session, h.id)}
    if (ORG, target.id) not in shared and target.id != h.owner_org_id:
        # The new holder joins the share list: a widening, which TLP lets a recipient make only within its own
        # constituency (AMBER); for AMBER+STRICT only the sender does it, by handing the package over itself.
        widening.check_widening(
            session, actor=actor, tlp=h.tlp, owner_org_id=h.owner_org_id, added=[(ORG, target.id)], what="hand-off"
        )
        sharing.write(session, object_id=h.id, entries=[(ORG, target.id)], added_by=holder)
    files = files_of(session, h.id)
    entry = append(
        session,
        h.id,
        action=TRANSFERRED,
        by=actor.user_id,
        from_org=holder,
        to_org=target.id,
        items=items_of(h, files),
        note=note,
    )
    h.state = HandoffState.HANDED_OVER.value
    h.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=TAG_TRANSFER,
        object_id=h.id,
        summary={"seq": entry.seq, "from": holder, "to": target.id, "items": len(entry.items)},
    )
    names = org_names(session, {holder})
    who = names[holder].short_name if holder in names else "A law-enforcement organisation"
    notify(
        session,
        h,
        event=TAG_TRANSFER,
        org_id=target.id,
        subject=f"[{TLP(h.tlp).label}] Evidence package transferred to you by {who}",
        body=f"{who} transferred hand-off {h.id} ({len(entry.items)} item(s)) to your organisation. "
        f"Acknowledge receipt in cybercrisis: /api/v1/handoffs/{h.id}",
    )
    return h


def add_note(session: Session, *, actor: Principal, handoff_id: str, note: str) -> CustodyEntry:
    """A note in the chain of custody by an organisation that reads the hand-off (sender, holders)."""
    org = writer(actor)
    h = lock(session, actor, handoff_id)
    entries = custody_of(session, h.id)
    _giver, holder = holder_of(entries)
    require(actor, h, "note", holder=holder, sealed=is_sealed(entries), shared_orgs=_shared_orgs(session, h))
    if not note.strip():
        raise bad("note", "write the note")
    entry = append(session, h.id, action=NOTE, by=actor.user_id, from_org=org, to_org=None, items=[], note=note.strip())
    audit.record(session, actor=actor, tag=TAG_NOTE, object_id=h.id, summary={"seq": entry.seq})
    return entry
