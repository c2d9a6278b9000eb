"""Law-enforcement hand-off: an incident or crisis suspected to be criminal, handed to a police cybercrime unit or
Europol EC3 with an evidence package (chosen observables, files hashed on arrival) and a chain of custody.

Rules (issue 6, ADR 0007):
- The sender reads the incident or crisis (else 404) and it is flagged as suspected criminal (else 409).
- The recipient is an organisation of type law-enforcement, or Europol EC3 (else 422).
- Every chosen observable was sighted in that incident, or for a crisis in one of its incidents, that the sender
  may read at that moment; the ones that are not are named in a 422, and nothing is written.
- The hand-off is marked TLP:AMBER+STRICT (default) or TLP:AMBER, never wider than the incidents its observables
  come from, owned by the sender and shared with the recipient.
- The chain of custody, and what the sender and holders do with the package, are custody.py's; the manifest and
  the files as handed to the police, package.py's; the checks above, checks.py's.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.handoffs import checks, custody
from cybercrisis.handoffs.models import Handoff, HandoffState
from cybercrisis.handoffs.schemas import HandoffIn
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor

TAG_CREATE = "handoffs:handoff:create"


def get(session: Session, actor: Principal, handoff_id: str) -> Handoff:
    return sharing.get_readable(session, actor, Handoff, handoff_id)


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
            raise checks.bad("state", f"'{state}' is not a hand-off state; valid: {', '.join(valid)}")
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


def create(session: Session, *, actor: Principal, data: HandoffIn) -> Handoff:
    """Hand an incident or crisis over to law enforcement; everything is checked before anything is written."""
    authority.authorize(actor, "handoff.create", ())
    sender = checks.writer(actor)
    marking = checks.marking(data.tlp)
    incident, crisis = checks.source(session, actor, data)
    recipient = checks.law_enforcement(session, data.recipient, field="recipient")
    if recipient.id == sender:
        raise checks.bad("recipient", "hand it over to another organisation than your own")
    onward = [checks.law_enforcement(session, o, field="onward").id for o in dict.fromkeys(data.onward)]
    onward = [o for o in onward if o not in (recipient.id, sender)]
    for org_id in (recipient.id, *onward):
        chosen = checks.chosen(
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
    custody.append(
        session,
        h.id,
        action=custody.HANDED_OVER,
        by=actor.user_id,
        from_org=sender,
        to_org=recipient.id,
        items=custody.items_of(h, []),
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
    names = custody.org_names(session, {sender})
    who = names[sender].short_name if sender in names else "An organisation"
    custody.notify(
        session,
        h,
        event=TAG_CREATE,
        org_id=recipient.id,
        subject=f"[{marking.label}] Law-enforcement hand-off from {who}",
        body=f"{who} handed an evidence package over to your organisation ({len(chosen)} observable(s)). "
        f"Acknowledge receipt in cybercrisis: /api/v1/handoffs/{h.id}",
    )
    return h
