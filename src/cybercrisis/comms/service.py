"""Coordinated public communication: co-edited drafts, approvals per version, release exactly once (ADR 0007).

A statement (or lines to take) is drafted by one organisation and shared with the organisations that must approve
it. Every change of its text or embargo starts a new version; approvals count for the version they approved. When
every approver organisation has approved the current version the communication is `approved`, and a statement is
then released at its embargo time, by its owner or by the job (tasks.py), as a separate TLP:CLEAR `Publication`
(release.py). This module drafts, co-edits and records verdicts; checks.py holds what a change must satisfy,
reading.py what is read, notices.py who is told.

Concurrency: verdicts are rows keyed (communication, organisation, version), so two arriving at once are both
stored; completion is evaluated while holding the communication row (`SELECT ... FOR NO KEY UPDATE` on PostgreSQL,
`BEGIN IMMEDIATE` on SQLite), so the second one to commit sees both.

Lock order, to stay free of deadlocks: the communication row first, the audit chain's lock last (audit.record).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.principal import Principal
from cybercrisis.answers import service as answers
from cybercrisis.audit import service as audit
from cybercrisis.comms import actions, checks, notices
from cybercrisis.comms.actions import relations
from cybercrisis.comms.checks import CLOSED
from cybercrisis.comms.models import CommState, Communication, CommunicationApproval, CommunicationVersion, Verdict
from cybercrisis.comms.reading import approvals, get, stale_translations, versions, waiting_for
from cybercrisis.comms.schemas import CommunicationIn, CommunicationPatch
from cybercrisis.db import new_id, utcnow
from cybercrisis.errors import PermissionDenied

CREATE = "comms:communication:create"
EDIT = "comms:communication:edit"
APPROVE = "comms:communication:approve"
REQUEST_CHANGES = "comms:communication:request-changes"


# --- create and edit ----------------------------------------------------------------------------------------


def _snapshot(session: Session, c: Communication, actor: Principal, now: datetime) -> None:
    session.add(
        CommunicationVersion(
            communication_id=c.id,
            number=c.current_version,
            title=c.title,
            body=c.body,
            translations=c.translations,
            created_at=now,
            created_by_id=actor.user_id,
        )
    )


def create(session: Session, *, actor: Principal, data: CommunicationIn) -> Communication:
    """Draft a statement or lines to take; shared with its approvers, who are asked to approve version 1."""
    authority.authorize(actor, "communication.create", ())
    if actor.org_id is None:
        raise PermissionDenied("only a member of an organisation drafts communications")
    kind = checks.kind(data.kind)
    language = checks.language("language", data.language)
    title = checks.text("title", data.title)
    body = checks.text("body", data.body)
    translations = checks.translations(data.translations, language)
    approvers = checks.approvers(session, data.approvers)
    embargo = checks.embargo(data.embargo_until)
    marking = checks.marking(data.tlp)
    crisis = checks.crisis(session, actor, data.crisis)
    entries = sharing.resolve(
        session, tlp=marking, share_with=data.share_with, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    now = utcnow()
    c = Communication(
        id=new_id("communication"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        exercise=data.exercise or bool(crisis and crisis.exercise),
        crisis_id=crisis.id if crisis else None,
        kind=kind,
        language=language,
        title=title,
        body=body,
        translations=translations,
        approvers=approvers,
        embargo_until=embargo,
        state=CommState.DRAFT.value,
        current_version=1,
        created_at=now,
        modified_at=now,
    )
    session.add(c)
    session.flush()
    sharing.write(session, object_id=c.id, entries=entries, added_by=actor.org_id)
    checks.share_approvers(session, c, approvers, actor.org_id)
    _snapshot(session, c, actor, now)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=CREATE,
        object_id=c.id,
        summary={
            "kind": kind,
            "state": c.state,
            "tlp": marking.value,
            "version": 1,
            "approvers": approvers,
            "crisis": c.crisis_id,
            "exercise": c.exercise,
        },
    )
    notices.request_approval(session, c)
    return c


def _check_editor(actor: Principal, c: Communication) -> None:
    actions.authorize(actor, "communication.edit", c)


def update(session: Session, *, actor: Principal, communication_id: str, patch: CommunicationPatch) -> Communication:
    """Co-edit: a change of the text, translations or embargo is a new version, which approvers approve again."""
    c = get(session, actor, communication_id)
    _check_editor(actor, c)
    given = patch.model_dump(exclude_unset=True, exclude={"version"})
    if "approvers" in given and authority.R.OWNER not in relations(actor, c):
        raise PermissionDenied("only the owner organisation changes the list of approvers")
    checks.lock(session, c)
    checks.check_open(c)
    checks.check_version(c, patch.version)
    # Check everything before changing anything.
    title = checks.text("title", patch.title) if "title" in given else c.title
    body = checks.text("body", patch.body) if "body" in given else c.body
    translations = (
        checks.translations(patch.translations or {}, c.language) if "translations" in given else c.translations
    )
    embargo = checks.embargo(patch.embargo_until) if "embargo_until" in given else c.embargo_until
    approvers = checks.approvers(session, patch.approvers or []) if "approvers" in given else c.approvers

    changed = sorted(
        name
        for name, old, new in (
            ("title", c.title, title),
            ("body", c.body, body),
            ("translations", c.translations, translations),
            ("embargo_until", c.embargo_until, embargo),
            ("approvers", c.approvers, approvers),
        )
        if old != new
    )
    if not changed:
        return c  # nothing changed: no new version
    now = utcnow()
    was_approved = c.state == CommState.APPROVED
    new_version = bool(set(changed) - {"approvers"})
    if "approvers" in changed:
        checks.share_approvers(session, c, approvers, actor.org_id)
        c.approvers = approvers
    if new_version:
        c.title, c.body, c.translations, c.embargo_until = title, body, translations, embargo
        c.current_version += 1
        c.state = CommState.DRAFT.value  # approvals of earlier versions no longer count
        _snapshot(session, c, actor, now)
    else:
        _settle(c, approvals(session, c.id))
    c.modified_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=EDIT,
        object_id=c.id,
        summary={"fields": changed, "version": c.current_version, "state": c.state},
    )
    if c.state == CommState.DRAFT:
        notices.request_approval(session, c)  # new approvers, or everyone for a new version (the outbox dedupes)
    elif not was_approved:
        notices.tell_owner(session, c, event=notices.APPROVED, by_org=None)
    return c


def _settle(c: Communication, rows: Iterable[CommunicationApproval]) -> bool:
    """Set the state from the verdicts on the current version; True when it has just become approved."""
    if c.state in CLOSED:
        return False
    complete = not waiting_for(c, rows)
    if complete and c.state == CommState.DRAFT:
        c.state = CommState.APPROVED.value
        return True
    if not complete and c.state == CommState.APPROVED:
        c.state = CommState.DRAFT.value
    return False


# --- verdicts -----------------------------------------------------------------------------------------------


def _upsert_verdict(session: Session, row: dict[str, Any]) -> None:
    """One verdict per organisation and version: a second one replaces the first (also when they race)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(CommunicationApproval).values(row)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["communication_id", "org_id", "version"],
            set_={k: stmt.excluded[k] for k in ("verdict", "comment", "user_id", "at")},
        )
    )


def give_verdict(
    session: Session,
    *,
    actor: Principal,
    communication_id: str,
    version: int,
    verdict: Verdict,
    comment: str,
    confirm_stale: bool = False,
) -> Communication:
    """Approve, or ask for changes to, the current version for the actor's organisation; on a communication held
    at another node, the verdict is queued for that node (`answers.queue`) and nothing changes here.

    Approving a version whose translations lag behind its text (`reading.stale_translations`) needs
    `confirm_stale`: each approver then knowingly lets them go out as they are; the audit entry names them. Every
    statement has approvers, and it is released only once all of them approved its current version: a lagging
    translation is never released without its approvers' confirmation."""
    c = get(session, actor, communication_id)
    actions.authorize(actor, "communication.verdict", c)
    checks.check_open(c)
    checks.check_version(c, version)
    comment = comment.strip()
    if verdict == Verdict.CHANGES and not comment:
        raise checks.bad("comment", "say what should change")
    stale = stale_translations(versions(session, c.id)) if verdict == Verdict.APPROVE else {}
    if stale and not confirm_stale:
        raise checks.stale_refusal(stale, "approve")
    if c.origin_node is not None:
        # Held at another node: the verdict is sent there and counts once that node applied it (ADR 0013).
        data = {"version": version, "verdict": verdict.value, "comment": comment}
        if confirm_stale:  # the holding node checks its own versions again
            data[checks.STALE_FIELD] = True
        answers.queue(session, actor=actor, act="communication.verdict", obj=c, data=data)
        return c
    now = utcnow()
    # The verdict row first, then the communication row: whichever of two approvals commits second counts both.
    row = {
        "communication_id": c.id,
        "org_id": actor.org_id,
        "version": version,
        "verdict": verdict.value,
        "comment": comment,
        "user_id": actor.user_id,
        "at": now,
    }
    _upsert_verdict(session, row)
    checks.lock(session, c)
    checks.check_open(c)
    checks.check_version(c, version)
    actions.authorize(actor, "communication.verdict", c)  # again, under the lock
    before = c.state
    became_approved = _settle(c, approvals(session, c.id))
    if c.state != before:
        c.modified_at = now
    session.flush()
    tag = APPROVE if verdict == Verdict.APPROVE else REQUEST_CHANGES
    audit.record(
        session,
        actor=actor,
        tag=tag,
        object_id=c.id,
        summary={"org": actor.org_id, "version": version, "state": c.state}
        | ({"stale_translations_confirmed": sorted(stale)} if stale else {}),
    )
    if verdict == Verdict.CHANGES:
        notices.tell_owner(session, c, event=notices.CHANGES_REQUESTED, by_org=actor.org_id, comment=comment)
    elif became_approved:
        notices.tell_owner(session, c, event=notices.APPROVED, by_org=actor.org_id)
    return c
