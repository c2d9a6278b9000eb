"""Law-enforcement hand-off: an incident or crisis suspected to be criminal, handed to a police cybercrime unit or
Europol EC3 with an evidence package (chosen observables, files hashed on arrival) and a chain of custody.

Rules (issue 6, ADR 0007):
- The sender reads the incident or crisis (else 404) and it is flagged as suspected criminal (else 409).
- The recipient is an organisation of type law-enforcement, or Europol EC3 (else 422).
- Every chosen observable was sighted in that incident, or for a crisis in one of its incidents, that the sender
  may read at that moment; the ones that are not are named in a 422, and nothing is written.
- The hand-off is marked TLP:AMBER+STRICT (default) or TLP:AMBER, never wider than the incidents its observables
  come from, owned by the sender and shared with the recipient.
- The chain of custody is append-only; each link takes the next number while holding the hand-off row
  (`SELECT ... FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so concurrent links never collide.
- Files are added by the sender until the package is first received (then it is sealed). The holder (the recipient,
  or the last organisation it was transferred to) acknowledges receipt and may transfer it on to another
  law-enforcement organisation, which is added to the share list and must acknowledge receipt in turn.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import ORG, can_read, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis, CrisisIncident
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.handoffs import evidence
from cybercrisis.handoffs.models import CustodyEntry, EvidenceFile, Handoff, HandoffState
from cybercrisis.handoffs.schemas import ChosenObservable, HandoffIn
from cybercrisis.incidents.models import Incident, Observable, Sighting
from cybercrisis.incidents.observables import normalise
from cybercrisis.notify.service import notify_readers
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor

EC3_KEY = "europol-ec3"
MARKINGS = (TLP.AMBER_STRICT, TLP.AMBER)
HANDED_OVER, RECEIVED, TRANSFERRED, NOTE = "handed-over", "received", "transferred", "note"
TAG_CREATE, TAG_RECEIVE = "handoffs:handoff:create", "handoffs:handoff:receive"
TAG_TRANSFER, TAG_NOTE, TAG_FILE = "handoffs:handoff:transfer", "handoffs:handoff:note", "handoffs:file:add"
MANIFEST_FORMAT = "cybercrisis-evidence-manifest/1"
_RANKED = sorted(TLP, key=lambda t: t.rank)


def _bad(field: str, message: str, **extra: Any) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message, **extra}])


# --- checks -------------------------------------------------------------------------------------------------


def _writer(actor: Principal) -> str:
    actor.require(Permission.HANDOFF_WRITE)
    if actor.org_id is None:
        raise PermissionDenied("only a member of an organisation hands evidence over")
    return actor.org_id


def _marking(value: str) -> TLP:
    marking = sharing.parse_tlp(value)
    if marking == TLP.RED:
        raise _bad(
            "tlp",
            "TLP:RED hand-offs (named people only) are not supported: mark it TLP:AMBER+STRICT, which "
            "the recipient organisation alone may read",
        )
    if marking not in MARKINGS:
        raise _bad(
            "tlp", f"an evidence package for law enforcement is TLP:AMBER+STRICT or TLP:AMBER, not {marking.label}"
        )
    return marking


def is_law_enforcement(org: Organisation) -> bool:
    return org.type == OrgType.LAW_ENFORCEMENT or org.id == org_id_for_key(EC3_KEY)


def _law_enforcement(session: Session, org_id: str, *, field: str) -> Organisation:
    org = session.get(Organisation, org_id)
    if org is None:
        raise _bad(field, f"no organisation with id {org_id}")
    if not is_law_enforcement(org):
        raise _bad(
            field,
            f"{org.short_name} is not a law-enforcement organisation: hand over to a police "
            "cybercrime unit of the directory (type law-enforcement) or to Europol EC3",
        )
    return org


def _source(session: Session, actor: Principal, data: HandoffIn) -> tuple[Incident | None, Crisis | None]:
    if (data.incident is None) == (data.crisis is None):
        raise _bad("incident", "give exactly one of incident or crisis: the one you hand over")
    if data.incident is not None:
        incident = sharing.get_readable(session, actor, Incident, data.incident)
        if not incident.suspected_malicious:
            raise Conflict("the incident is not flagged as suspected malicious: flag it as suspected criminal first")
        return incident, None
    assert data.crisis is not None
    crisis = sharing.get_readable(session, actor, Crisis, data.crisis)
    if not crisis.suspected_criminal:
        raise Conflict("the crisis is not flagged as suspected criminal: flag it as suspected criminal first")
    return None, crisis


def _normalised(items: list[ChosenObservable]) -> list[tuple[str, str]]:
    out: dict[tuple[str, str], None] = {}
    for i, item in enumerate(items):
        try:
            value = normalise(item.type, item.value)
        except InvalidInput as exc:
            raise _bad(f"observables[{i}]", f"observables[{i}]: {exc.detail}") from None
        out.setdefault((item.type, value), None)
    return list(out)


def _chosen(
    session: Session,
    actor: Principal,
    *,
    incident: Incident | None,
    crisis: Crisis | None,
    items: list[ChosenObservable],
    marking: TLP,
    recipient: str,
) -> list[tuple[str, str]]:
    """The chosen observables, checked: each sighted in an incident the sender reads now and may let the recipient
    read (authority.check_widening: its own incidents, or what their TLP lets it pass on), none wider than the mark."""
    wanted = _normalised(items)
    source = TLP(incident.tlp if incident is not None else crisis.tlp if crisis is not None else marking)
    if source.rank > marking.rank:
        raise _too_wide(marking, source)
    if not wanted:
        return []
    base = (
        select(Observable.type, Observable.value, Incident.tlp, Incident.id, Incident.owner_org_id)
        .join(Sighting, Sighting.observable_id == Observable.id)
        .join(Incident, Incident.id == Sighting.incident_id)
    )
    if incident is not None:
        base = base.where(Sighting.incident_id == incident.id)
    else:
        assert crisis is not None
        base = base.join(CrisisIncident, CrisisIncident.incident_id == Incident.id).where(
            CrisisIncident.crisis_id == crisis.id, read_filter(actor, Incident)
        )
    least, passable = _sightings(session, actor, base, wanted, recipient)
    missing = [f"{t}:{v}" for t, v in wanted if (t, v) not in least]
    if missing:
        where = "the incident" if incident is not None else "an incident of this crisis"
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise _bad(
            "observables",
            f"not sighted in {where} that you may see: {shown}; hand over only what you can see",
            items=missing,
        )
    blocked = [f"{t}:{v}" for t, v in wanted if (t, v) not in passable]
    if blocked:
        raise PermissionDenied(
            f"only the originators of the incidents these were seen in may let law enforcement "
            f"read them: {', '.join(blocked[:20])}; ask them to hand them over"
        )
    strictest = max(least.values())
    if strictest > marking.rank:
        raise _too_wide(marking, _RANKED[strictest])
    return wanted


def _sightings(
    session: Session, actor: Principal, base: Any, wanted: list[tuple[str, str]], recipient: str
) -> tuple[dict[tuple[str, str], int], set[tuple[str, str]]]:
    """Per chosen value: the rank of the least strict visible incident it was sighted in (the marking it may be
    handed over under), and whether one of them may reach the recipient through the actor (`_may_pass`)."""
    least: dict[tuple[str, str], int] = {}
    passable: set[tuple[str, str]] = set()
    by_type: dict[str, list[str]] = {}
    for t, v in wanted:
        by_type.setdefault(t, []).append(v)
    may_pass: dict[str, bool] = {}
    for t, values in sorted(by_type.items()):
        for start in range(0, len(values), 500):
            rows = session.execute(base.where(Observable.type == t, Observable.value.in_(values[start : start + 500])))
            for row in rows:
                key = (row.type, row.value)
                rank = TLP(row.tlp).rank
                least[key] = min(rank, least.get(key, rank))
                if row.id not in may_pass:
                    may_pass[row.id] = _may_pass(session, actor, row.id, row.tlp, row.owner_org_id, recipient)
                if may_pass[row.id]:
                    passable.add(key)
    return least, passable


def _may_pass(session: Session, actor: Principal, incident_id: str, tlp: str, owner: str, recipient: str) -> bool:
    """Whether the recipient reads the incident already, or the actor's organisation may widen it to the recipient."""
    reader = sharing.org_reader(session, recipient)
    if can_read(reader, tlp=tlp, owner_org_id=owner, shares=sharing.shares_of(session, incident_id)):
        return True
    return not authority.refused_widening(
        session, org_id=actor.org_id, tlp=tlp, owner_org_id=owner, added=[(ORG, recipient)]
    )


def _too_wide(marking: TLP, source: TLP) -> InvalidInput:
    return _bad(
        "tlp",
        f"{marking.label} is wider than what is handed over allows ({source.label}): mark the "
        "hand-off at least as strictly as its incidents",
    )


# --- custody --------------------------------------------------------------------------------------------------


def custody_of(session: Session, handoff_id: str) -> list[CustodyEntry]:
    return list(
        session.scalars(select(CustodyEntry).where(CustodyEntry.handoff_id == handoff_id).order_by(CustodyEntry.seq))
    )


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


def _append(
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


# --- reading --------------------------------------------------------------------------------------------------


def get(session: Session, actor: Principal, handoff_id: str) -> Handoff:
    return sharing.get_readable(session, actor, Handoff, handoff_id)


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


def list_handoffs(
    session: Session,
    *,
    principal: Principal,
    incident: str | None = None,
    crisis: str | None = None,
    state: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Handoff]:
    """Newest first, only what the reader may see; keyset pages."""
    conditions: list[ColumnElement[bool]] = [read_filter(principal, Handoff)]
    if incident:
        conditions.append(Handoff.incident_id == incident)
    if crisis:
        conditions.append(Handoff.crisis_id == crisis)
    if state:
        valid = [s.value for s in HandoffState]
        if state not in valid:
            raise _bad("state", f"'{state}' is not a hand-off state; valid: {', '.join(valid)}")
        conditions.append(Handoff.state == state)
    after = decode_cursor(cursor, 2)
    if after:
        conditions.append(tuple_(Handoff.created_at, Handoff.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(
        session.scalars(
            select(Handoff).where(*conditions).order_by(Handoff.created_at.desc(), Handoff.id.desc()).limit(limit + 1)
        )
    )
    nxt = encode_cursor([rows[limit - 1].created_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    return Page(items=rows[:limit], next=nxt)


def org_names(session: Session, org_ids: set[str | None]) -> dict[str, Organisation]:
    wanted = sorted(o for o in org_ids if o)
    if not wanted:
        return {}
    return {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(wanted)))}


# --- writing --------------------------------------------------------------------------------------------------


def create(session: Session, *, actor: Principal, data: HandoffIn) -> Handoff:
    """Hand an incident or crisis over to law enforcement; everything is checked before anything is written."""
    authority.authorize(actor, "handoff.create", ())
    sender = _writer(actor)
    marking = _marking(data.tlp)
    incident, crisis = _source(session, actor, data)
    recipient = _law_enforcement(session, data.recipient, field="recipient")
    if recipient.id == sender:
        raise _bad("recipient", "hand it over to another organisation than your own")
    onward = [_law_enforcement(session, o, field="onward").id for o in dict.fromkeys(data.onward)]
    onward = [o for o in onward if o not in (recipient.id, sender)]
    for org_id in (recipient.id, *onward):
        chosen = _chosen(
            session, actor, incident=incident, crisis=crisis, items=data.observables, marking=marking, recipient=org_id
        )

    now = utcnow()
    h = Handoff(
        id=new_id("handoff"),
        owner_org_id=sender,
        created_by_id=actor.user_id,
        tlp=marking.value,
        incident_id=incident.id if incident else None,
        crisis_id=crisis.id if crisis else None,
        recipient_org_id=recipient.id,
        reason=data.reason,
        state=HandoffState.HANDED_OVER.value,
        observables=[{"type": t, "value": v} for t, v in chosen],
        created_at=now,
        modified_at=now,
    )
    session.add(h)
    session.flush()
    sharing.write(session, object_id=h.id, entries=[(ORG, o) for o in (recipient.id, *onward)], added_by=sender)
    _append(
        session,
        h.id,
        action=HANDED_OVER,
        by=actor.user_id,
        from_org=sender,
        to_org=recipient.id,
        items=items_of(h, []),
        seq=1,
    )
    audit.record(
        session,
        actor=actor,
        tag=TAG_CREATE,
        object_id=h.id,
        summary={
            "incident": h.incident_id,
            "crisis": h.crisis_id,
            "recipient": recipient.id,
            "observables": len(chosen),
            "tlp": marking.value,
        }
        | ({"onward": onward} if onward else {}),
    )
    names = org_names(session, {sender})
    who = names[sender].short_name if sender in names else "An organisation"
    _notify(
        session,
        h,
        event=TAG_CREATE,
        org_id=recipient.id,
        subject=f"[{marking.label}] Law-enforcement hand-off from {who}",
        body=f"{who} handed an evidence package over to your organisation ({len(chosen)} observable(s)). "
        f"Acknowledge receipt in cybercrisis: /api/v1/handoffs/{h.id}",
    )
    return h


def _notify(session: Session, h: Handoff, *, event: str, org_id: str, subject: str, body: str) -> None:
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
    sender = _writer(actor)
    h = lock(session, actor, handoff_id)
    authority.authorize(actor, "handoff.file", authority.owned(actor, h.owner_org_id))
    entries = custody_of(session, h.id)
    if is_sealed(entries) or h.state != HandoffState.HANDED_OVER:
        raise Conflict(
            "the recipient acknowledged receipt, so the package is sealed: hand further evidence over in a new hand-off"
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
    _append(
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


def _holder_check(
    session: Session, actor: Principal, h: Handoff, act: str
) -> tuple[list[CustodyEntry], str | None, str]:
    entries = custody_of(session, h.id)
    giver, holder = holder_of(entries)
    name = org_names(session, {holder}).get(holder or "")
    authority.authorize(
        actor,
        act,
        {authority.R.HOLDER} if holder is not None and actor.org_id == holder else set(),
        refusal=f"only the organisation holding it now ({name.short_name if name else 'unknown'}) does this",
    )
    assert holder is not None
    return entries, giver, holder


def receive(session: Session, *, actor: Principal, handoff_id: str, note: str = "") -> Handoff:
    """The holder acknowledges receipt of everything in the package; this seals it."""
    _writer(actor)
    h = lock(session, actor, handoff_id)
    _entries, giver, holder = _holder_check(session, actor, h, "handoff.receive")
    if h.state == HandoffState.RECEIVED:
        raise Conflict("your organisation already acknowledged receipt of this hand-off")
    files = files_of(session, h.id)
    entry = _append(
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
        _notify(
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
    _writer(actor)
    h = lock(session, actor, handoff_id)
    _entries, _giver, holder = _holder_check(session, actor, h, "handoff.transfer")
    if h.state != HandoffState.RECEIVED:
        raise Conflict("acknowledge receipt of the hand-off before transferring it")
    target = _law_enforcement(session, to, field="to")
    if target.id == holder:
        raise _bad("to", "your organisation already holds it: transfer it to another organisation")
    shared = {(s.kind, s.target) for s in sharing.shares_of(session, h.id)}
    if (ORG, target.id) not in shared and target.id != h.owner_org_id:
        # The new holder joins the share list: a widening, which TLP lets a recipient make only within its own
        # constituency (AMBER); for AMBER+STRICT only the sender does it, by handing the package over itself.
        authority.check_widening(
            session, actor=actor, tlp=h.tlp, owner_org_id=h.owner_org_id, added=[(ORG, target.id)], what="hand-off"
        )
        sharing.write(session, object_id=h.id, entries=[(ORG, target.id)], added_by=holder)
    files = files_of(session, h.id)
    entry = _append(
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
    _notify(
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
    org = _writer(actor)
    h = lock(session, actor, handoff_id)
    holders = {s.target for s in sharing.shares_of(session, h.id) if s.kind == ORG}
    rel = authority.owned(actor, h.owner_org_id) & {authority.R.OWNER} | (
        {authority.R.HOLDER} if org in holders else set()
    )
    authority.authorize(actor, "handoff.note", rel)
    if not note.strip():
        raise _bad("note", "write the note")
    entry = _append(
        session, h.id, action=NOTE, by=actor.user_id, from_org=org, to_org=None, items=[], note=note.strip()
    )
    audit.record(session, actor=actor, tag=TAG_NOTE, object_id=h.id, summary={"seq": entry.seq})
    return entry


# --- the evidence package -----------------------------------------------------------------------------------


def archive_path(f: EvidenceFile) -> str:
    return f"files/{f.id}-{f.name}"


def _org_dict(org: Organisation | None, org_id: str | None) -> dict[str, Any] | None:
    if org_id is None:
        return None
    if org is None:
        return {"id": org_id}
    return {"id": org.id, "name": org.name, "short_name": org.short_name, "type": org.type, "country": org.country}


def manifest(session: Session, *, reader: Principal, h: Handoff, now: datetime | None = None) -> dict[str, Any]:
    """The evidence manifest to give to the police: the hand-off, observables, files with SHA-256, custody log.

    It names the incident or crisis by id only: the recipient may not be allowed to read them.
    """
    files = files_of(session, h.id)
    entries = custody_of(session, h.id)
    _giver, holder = holder_of(entries)
    orgs = org_names(
        session,
        {h.owner_org_id, h.recipient_org_id, holder, reader.org_id}
        | {e.from_org_id for e in entries}
        | {e.to_org_id for e in entries},
    )
    return {
        "format": MANIFEST_FORMAT,
        "generated_at": (now or utcnow()).isoformat(),
        "generated_for": {
            "user": reader.user_id,
            "organisation": _org_dict(orgs.get(reader.org_id or ""), reader.org_id),
        },
        "marking": TLP(h.tlp).label,
        "handoff": {
            "id": h.id,
            "state": h.state,
            "tlp": h.tlp,
            "reason": h.reason,
            "incident": h.incident_id,
            "crisis": h.crisis_id,
            "created": h.created_at.isoformat(),
            "created_by": h.created_by_id,
            "sender": _org_dict(orgs.get(h.owner_org_id), h.owner_org_id),
            "recipient": _org_dict(orgs.get(h.recipient_org_id), h.recipient_org_id),
            "holder": _org_dict(orgs.get(holder or ""), holder),
            "sealed": is_sealed(entries),
        },
        "observables": [{"type": o["type"], "value": o["value"]} for o in h.observables],
        "files": [
            {
                "id": f.id,
                "name": f.name,
                "media_type": f.media_type,
                "size": f.size,
                "sha256": f.sha256,
                "added_at": f.added_at.isoformat(),
                "added_by": f.added_by_id,
                "archive_path": archive_path(f),
            }
            for f in files
        ],
        "custody": [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "action": e.action,
                "from": _org_dict(orgs.get(e.from_org_id or ""), e.from_org_id),
                "to": _org_dict(orgs.get(e.to_org_id or ""), e.to_org_id),
                "by": e.by_user_id,
                "items": e.items,
                "note": e.note,
            }
            for e in entries
        ],
    }


def zip_members(session: Session, h: Handoff, settings: Settings) -> list[evidence.ZipMember]:
    """The files of a package as zip members; each checked to be in the store with its recorded size."""
    return [
        evidence.ZipMember(archive_path(f), evidence.stored_path(settings.data_dir, f.sha256, f.size), f.sha256)
        for f in files_of(session, h.id)
    ]
