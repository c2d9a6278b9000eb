"""Coordinated public communication: co-edited drafts, approvals per version, release exactly once (ADR 0007).

A statement (or lines to take) is drafted by one organisation and shared with the organisations that must approve
it. Every change of its text or embargo starts a new version; approvals count for the version they approved. When
every approver organisation has approved the current version the communication is `approved`, and a statement is
then released at its embargo time, by its owner or by the job (tasks.py), as a separate TLP:CLEAR `Publication`.

Concurrency: verdicts are rows keyed (communication, organisation, version), so two arriving at once are both
stored; completion is evaluated while holding the communication row (`SELECT ... FOR NO KEY UPDATE` on PostgreSQL,
`BEGIN IMMEDIATE` on SQLite), so the second one to commit sees both. A release is a conditional update
(`state = 'approved'` to `released`) plus a unique publication per communication: whichever request or job process
gets there first publishes, the other finds it done.

Lock order, to stay free of deadlocks: the communication row first, the audit chain's lock last (audit.record).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pycountry
from sqlalchemy import select
from sqlalchemy import update as update_rows
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.accounts.models import User
from cybercrisis.audit import service as audit
from cybercrisis.comms.models import (
    CommKind,
    CommState,
    Communication,
    CommunicationApproval,
    CommunicationVersion,
    Publication,
    Verdict,
)
from cybercrisis.comms.schemas import CommunicationIn, CommunicationPatch, TranslationIn
from cybercrisis.crises.models import Crisis
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.notify.service import notify_readers
from cybercrisis.situation.schemas import FieldChange

CREATE = "comms:communication:create"
EDIT = "comms:communication:edit"
APPROVE = "comms:communication:approve"
REQUEST_CHANGES = "comms:communication:request-changes"
RELEASE = "comms:communication:release"
WITHDRAW = "comms:communication:withdraw"
PUBLICATION_CREATE = "comms:publication:create"

# Notification events (organisations route them with patterns such as comms:*).
APPROVAL_REQUESTED = "comms:communication:approval-requested"
CHANGES_REQUESTED = "comms:communication:changes-requested"
APPROVED = "comms:communication:approved"
RELEASED = "comms:communication:released"
WITHDRAWN = "comms:communication:withdrawn"

CLOSED = frozenset({CommState.RELEASED.value, CommState.WITHDRAWN.value})
KIND_LABELS = {CommKind.STATEMENT.value: "statement", CommKind.LINES_TO_TAKE.value: "lines to take"}
LINES_NOT_RELEASED = (
    "lines to take are internal guidance for spokespeople and are never released publicly; "
    "draft a statement for the public page instead"
)


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


# --- checks -------------------------------------------------------------------------------------------------


def _kind(value: str) -> str:
    valid = [k.value for k in CommKind]
    if value not in valid:
        raise _bad("kind", f"'{value}' is not a kind of communication; valid: {', '.join(valid)}")
    return value


def _language(field: str, value: str) -> str:
    code = value.strip().lower()
    if len(code) != 2 or pycountry.languages.get(alpha_2=code) is None:
        raise _bad(field, f"'{value}' is not an ISO 639-1 language code (two letters, e.g. en, fr, de)")
    return code


def _text(field: str, value: str | None) -> str:
    if value is None or not value.strip():
        raise _bad(field, f"the {field.rsplit('.', 1)[-1]} is empty")
    return value.strip()


def _translations(items: dict[str, TranslationIn], main: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, item in items.items():
        lang = _language(f"translations.{key}", key)
        if lang == main:
            raise _bad(f"translations.{key}", f"'{lang}' is the language of the main text, not a translation")
        if lang in out:
            raise _bad(f"translations.{key}", f"the translation into '{lang}' is given twice")
        out[lang] = {
            "title": _text(f"translations.{key}.title", item.title),
            "body": _text(f"translations.{key}.body", item.body),
        }
    return dict(sorted(out.items()))


def _approvers(session: Session, ids: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if not wanted:
        raise _bad("approvers", "name at least one organisation that must approve it")
    found = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(wanted))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise _bad("approvers", f"unknown organisation(s): {', '.join(missing)}")
    return wanted


def _embargo(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise _bad("embargo_until", "give a time zone, e.g. 2026-11-28T18:00:00Z")
    return value


def _marking(value: str) -> TLP:
    marking = sharing.parse_tlp(value)
    if marking == TLP.RED:
        raise _bad("tlp", "a statement draft must reach its approvers: use AMBER+STRICT or wider")
    if marking == TLP.CLEAR:
        raise _bad(
            "tlp",
            "a draft is not public: mark it GREEN, AMBER or AMBER+STRICT; once released it is "
            "published as a separate TLP:CLEAR copy",
        )
    return marking


def _crisis(session: Session, actor: Principal, crisis_id: str | None) -> Crisis | None:
    if crisis_id is None:
        return None
    crisis = session.scalars(select(Crisis).where(Crisis.id == crisis_id, read_filter(actor, Crisis))).first()
    if crisis is None:
        raise _bad("crisis", f"no crisis you may see with id {crisis_id}")
    return crisis


def _share_approvers(session: Session, c: Communication, approvers: Iterable[str], added_by: str | None) -> None:
    """Approver organisations read the draft: add those not yet on its share list."""
    present = {(s.kind, s.target) for s in sharing.shares_of(session, c.id)}
    missing = [(ORG, o) for o in approvers if o != c.owner_org_id and (ORG, o) not in present]
    sharing.write(session, object_id=c.id, entries=missing, added_by=added_by)


def _lock(session: Session, c: Communication) -> Communication:
    """Hold the communication row until commit and reload it, so that writers see each other's commits.

    FOR NO KEY UPDATE, not FOR UPDATE: inserting a verdict takes a KEY SHARE lock on this row (its foreign key),
    which FOR UPDATE would wait for, deadlocking two approvals that arrive at once. SQLite ignores the clause; its
    write transactions begin IMMEDIATE and are serialised anyway.
    """
    session.execute(
        select(Communication)
        .where(Communication.id == c.id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return c


def _check_open(c: Communication) -> None:
    if c.state == CommState.RELEASED:
        raise Conflict(f"the {KIND_LABELS[c.kind]} was released on {_iso(c.released_at)} and can no longer change")
    if c.state == CommState.WITHDRAWN:
        raise Conflict(f"the {KIND_LABELS[c.kind]} was withdrawn and can no longer change")


def _check_version(c: Communication, version: int) -> None:
    if version != c.current_version:
        raise Conflict(
            f"the text changed since you read it (version {version}, now {c.current_version}): "
            "reload it and apply your change again"
        )


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "?"


# --- reading ------------------------------------------------------------------------------------------------


def get(session: Session, actor: Principal, communication_id: str) -> Communication:
    """Through the access layer: a communication the reader may not see is 404."""
    return sharing.get_readable(session, actor, Communication, communication_id)


def versions(session: Session, communication_id: str) -> list[CommunicationVersion]:
    return list(
        session.scalars(
            select(CommunicationVersion)
            .where(CommunicationVersion.communication_id == communication_id)
            .order_by(CommunicationVersion.number)
        )
    )


def approvals(session: Session, communication_id: str) -> list[CommunicationApproval]:
    return list(
        session.scalars(
            select(CommunicationApproval)
            .where(CommunicationApproval.communication_id == communication_id)
            .order_by(CommunicationApproval.version, CommunicationApproval.at, CommunicationApproval.org_id)
        )
    )


def waiting_for(c: Communication, rows: Iterable[CommunicationApproval]) -> list[str]:
    """Approver organisations that have not approved the current version, in the approvers' order."""
    done = {r.org_id for r in rows if r.version == c.current_version and r.verdict == Verdict.APPROVE}
    return [o for o in c.approvers if o not in done]


def waiting_for_many(session: Session, comms: Sequence[Communication]) -> dict[str, list[str]]:
    """`waiting_for` of a page of communications in one query."""
    if not comms:
        return {}
    rows = session.scalars(
        select(CommunicationApproval).where(
            CommunicationApproval.communication_id.in_(sorted({c.id for c in comms})),
            CommunicationApproval.verdict == Verdict.APPROVE.value,
        )
    ).all()
    by_comm: dict[str, list[CommunicationApproval]] = {c.id: [] for c in comms}
    for r in rows:
        by_comm[r.communication_id].append(r)
    return {c.id: waiting_for(c, by_comm[c.id]) for c in comms}


def org_names(session: Session, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(select(Organisation.id, Organisation.short_name).where(Organisation.id.in_(wanted)))
    return dict(rows.all())


def readable_crises(session: Session, reader: Principal, crisis_ids: Iterable[str | None]) -> set[str]:
    """The crises among these that the reader may see (a communication shows its crisis only to them)."""
    wanted = sorted({i for i in crisis_ids if i})
    if not wanted:
        return set()
    return set(session.scalars(select(Crisis.id).where(Crisis.id.in_(wanted), read_filter(reader, Crisis))))


def publication_of(session: Session, communication_id: str) -> Publication | None:
    return session.scalars(select(Publication).where(Publication.communication_id == communication_id)).first()


def _content(v: CommunicationVersion) -> dict[str, str]:
    out = {"title": v.title, "body": v.body}
    for lang, t in sorted(v.translations.items()):
        out[f"translations.{lang}.title"] = t.get("title", "")
        out[f"translations.{lang}.body"] = t.get("body", "")
    return out


def diff(session: Session, communication_id: str, a: int, b: int) -> list[FieldChange]:
    """Per field (title, body, and each translation's title and body): before, after and a unified diff."""
    by_number = {v.number: v for v in versions(session, communication_id)}
    for n in (a, b):
        if n not in by_number:
            raise NotFound(f"no version {n} of {communication_id}; versions: {sorted(by_number)}")
    before, after = _content(by_number[a]), _content(by_number[b])
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        lines = list(
            difflib.unified_diff(
                (old or "").splitlines(), (new or "").splitlines(), f"version {a}", f"version {b}", lineterm=""
            )
        )
        changes.append(FieldChange(field=key, before=old, after=new, diff=lines))
    return changes


# --- notifications ------------------------------------------------------------------------------------------


def _notice_prefix(c: Communication) -> str:
    return ("[EXERCISE] " if c.exercise else "") + f"[{TLP(c.tlp).label}] "


def _payload(c: Communication, **extra: Any) -> dict[str, Any]:
    return {
        "communication": c.id,
        "kind": c.kind,
        "version": c.current_version,
        "state": c.state,
        "exercise": c.exercise,
        **extra,
    }


def _request_approval(session: Session, c: Communication) -> None:
    """To the approver organisations, which are on the draft's share list: they may read its title."""
    owner = org_names(session, [c.owner_org_id]).get(c.owner_org_id, "An organisation")
    notify_readers(
        session,
        obj=c,
        event=APPROVAL_REQUESTED,
        org_ids=c.approvers,
        subject=f"{_notice_prefix(c)}For approval: {c.title}",
        body=f"{owner} asks your organisation to approve version {c.current_version} of the {KIND_LABELS[c.kind]} "
        f"{c.id} ({c.title}). Approve it, or ask for changes with a comment, in cybercrisis.",
        payload=_payload(c),
        dedupe=f"{APPROVAL_REQUESTED}:{c.id}:{c.current_version}",
    )


def _tell_owner(session: Session, c: Communication, *, event: str, by_org: str | None, comment: str = "") -> None:
    who = org_names(session, [by_org]).get(by_org, "An approver") if by_org else "An approver"
    if event == CHANGES_REQUESTED:
        subject = f"{_notice_prefix(c)}Changes requested by {who}: {c.title}"
        text = f"{who} asks for changes to version {c.current_version} of {c.id} ({c.title}):\n\n{comment}"
        # An organisation may ask again on the same version: each request is a message of its own.
        dedupe = f"{event}:{c.id}:{c.current_version}:{by_org}:{utcnow().isoformat()}"
    else:
        subject = f"{_notice_prefix(c)}Approved by every approver: {c.title}"
        when = f"at its embargo time, {c.embargo_until.isoformat()}" if c.embargo_until else "now"
        text = f"Every approver organisation approved version {c.current_version} of {c.id} ({c.title})."
        if c.kind == CommKind.STATEMENT:
            text += f" It can be released {when}; approved statements are released automatically when due."
        dedupe = f"{event}:{c.id}:{c.current_version}"
    notify_readers(
        session,
        obj=c,
        event=event,
        org_ids=[c.owner_org_id],
        subject=subject,
        body=text,
        payload=_payload(c, organisation=by_org),
        dedupe=dedupe,
    )


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
    kind = _kind(data.kind)
    language = _language("language", data.language)
    title = _text("title", data.title)
    body = _text("body", data.body)
    translations = _translations(data.translations, language)
    approvers = _approvers(session, data.approvers)
    embargo = _embargo(data.embargo_until)
    marking = _marking(data.tlp)
    crisis = _crisis(session, actor, data.crisis)
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
    _share_approvers(session, c, approvers, actor.org_id)
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
    _request_approval(session, c)
    return c


def relations(actor: Principal, c: Communication) -> set[authority.Relation]:
    """The actor's organisation to a communication it reads: owner, an approver (named), or a recipient."""
    rel = authority.owned(actor, c.owner_org_id)
    if actor.org_id is not None and actor.org_id in c.approvers:
        rel.add(authority.R.NAMED)
    return rel


def _check_editor(actor: Principal, c: Communication) -> None:
    authority.authorize(actor, "communication.edit", relations(actor, c))


def update(session: Session, *, actor: Principal, communication_id: str, patch: CommunicationPatch) -> Communication:
    """Co-edit: a change of the text, translations or embargo is a new version, which approvers approve again."""
    c = get(session, actor, communication_id)
    _check_editor(actor, c)
    given = patch.model_dump(exclude_unset=True, exclude={"version"})
    if "approvers" in given and authority.R.OWNER not in relations(actor, c):
        raise PermissionDenied("only the owner organisation changes the list of approvers")
    _lock(session, c)
    _check_open(c)
    _check_version(c, patch.version)
    # Check everything before changing anything.
    title = _text("title", patch.title) if "title" in given else c.title
    body = _text("body", patch.body) if "body" in given else c.body
    translations = _translations(patch.translations or {}, c.language) if "translations" in given else c.translations
    embargo = _embargo(patch.embargo_until) if "embargo_until" in given else c.embargo_until
    approvers = _approvers(session, patch.approvers or []) if "approvers" in given else c.approvers

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
        _share_approvers(session, c, approvers, actor.org_id)
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
        _request_approval(session, c)  # new approvers, or everyone for a new version (the outbox dedupes)
    elif not was_approved:
        _tell_owner(session, c, event=APPROVED, by_org=None)
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
    session: Session, *, actor: Principal, communication_id: str, version: int, verdict: Verdict, comment: str
) -> Communication:
    """Approve, or ask for changes to, the current version for the actor's organisation."""
    c = get(session, actor, communication_id)
    authority.authorize(actor, "communication.verdict", relations(actor, c))
    _check_open(c)
    _check_version(c, version)
    comment = comment.strip()
    if verdict == Verdict.CHANGES and not comment:
        raise _bad("comment", "say what should change")
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
    _lock(session, c)
    _check_open(c)
    _check_version(c, version)
    authority.authorize(actor, "communication.verdict", relations(actor, c))  # again, under the lock
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
        summary={"org": actor.org_id, "version": version, "state": c.state},
    )
    if verdict == Verdict.CHANGES:
        _tell_owner(session, c, event=CHANGES_REQUESTED, by_org=actor.org_id, comment=comment)
    elif became_approved:
        _tell_owner(session, c, event=APPROVED, by_org=actor.org_id)
    return c


# --- release and withdrawal ---------------------------------------------------------------------------------


def _check_releasable(session: Session, c: Communication, now: datetime) -> None:
    if c.kind == CommKind.LINES_TO_TAKE:
        raise Conflict(LINES_NOT_RELEASED)
    if c.state == CommState.RELEASED:
        raise Conflict(f"already released on {_iso(c.released_at)}")
    if c.state == CommState.WITHDRAWN:
        raise Conflict("the statement was withdrawn: it is not released")
    waiting = waiting_for(c, approvals(session, c.id))
    if waiting or c.state != CommState.APPROVED:
        names = org_names(session, waiting)
        who = ", ".join(names.get(o, o) for o in waiting) or "the approvers"
        raise Conflict(f"waiting for approval from: {who} (version {c.current_version})")
    if c.embargo_until is not None and c.embargo_until > now:
        raise Conflict(f"embargoed until {c.embargo_until.isoformat()}")


def _check_owner_consents(session: Session, c: Communication) -> None:
    """Releasing makes the text TLP:CLEAR under the owner's name, which only the owner may decide (issue 12): when
    anyone but the owner releases it (the job at the embargo time), the owner wrote the current version or
    approved it. A version an approver organisation edited waits for the owner."""
    text = session.get(CommunicationVersion, (c.id, c.current_version))
    author_org = session.scalar(select(User.org_id).where(User.id == text.created_by_id)) if text else None
    if author_org == c.owner_org_id:
        return
    agreed = session.get(CommunicationApproval, (c.id, c.owner_org_id, c.current_version))
    if agreed is None or agreed.verdict != Verdict.APPROVE:
        owner = org_names(session, [c.owner_org_id]).get(c.owner_org_id, c.owner_org_id)
        raise Conflict(
            f"version {c.current_version} was edited by another organisation: {owner} approves it or releases it itself"
        )


def publish(session: Session, *, actor: Principal, c: Communication, now: datetime) -> Publication:
    """Release an approved statement whose embargo has passed: exactly once, whoever gets there first.

    The request (release) and the job (tasks.release_due) both come here. Raises Conflict, with nothing written,
    when it is not releasable or when another request or process released it first.
    """
    _check_releasable(session, c, now)
    if actor.org_id != c.owner_org_id:
        _check_owner_consents(session, c)
    version = c.current_version
    claimed = session.execute(
        update_rows(Communication)
        .where(
            Communication.id == c.id,
            Communication.state == CommState.APPROVED.value,
            Communication.current_version == version,
            Communication.kind == CommKind.STATEMENT.value,
        )
        .values(state=CommState.RELEASED.value, released_at=now, modified_at=now, version=Communication.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(c)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        _check_releasable(session, c, now)  # says why: released, withdrawn, edited meanwhile ...
        raise Conflict("already released")
    text = session.get(CommunicationVersion, (c.id, version))
    if text is None:  # pragma: no cover - every version is stored when it is made
        raise Conflict(f"version {version} of {c.id} is missing")
    pub = Publication(
        id=new_id("publication"),
        owner_org_id=c.owner_org_id,
        created_by_id=actor.user_id,
        tlp=TLP.CLEAR.value,
        exercise=c.exercise,
        communication_id=c.id,
        communication_version=version,
        crisis_id=c.crisis_id,
        language=c.language,
        title=text.title,
        body=text.body,
        translations=dict(text.translations),
        released_at=now,
        created_at=now,
        modified_at=now,
    )
    session.add(pub)
    try:
        session.flush()
    except IntegrityError:
        # The unique publication per communication: another process published it (the transaction is lost).
        raise Conflict("already released") from None
    audit.record(
        session,
        actor=actor,
        tag=RELEASE,
        object_id=c.id,
        summary={"version": version, "publication": pub.id, "state": c.state},
    )
    audit.record(
        session,
        actor=actor,
        tag=PUBLICATION_CREATE,
        object_id=pub.id,
        summary={
            "communication": c.id,
            "version": version,
            "tlp": pub.tlp,
            "languages": [pub.language, *sorted(pub.translations)],
        },
    )
    notify_readers(
        session,
        obj=c,
        event=RELEASED,
        org_ids=[*c.approvers, c.owner_org_id],
        subject=("[EXERCISE] " if c.exercise else "") + f"Released: {pub.title}",
        body=f"The statement {c.id} was released at {now.isoformat(timespec='seconds')} as publication {pub.id} "
        f"(TLP:CLEAR): {pub.title}",
        payload=_payload(c, publication=pub.id),
        dedupe=f"{RELEASED}:{c.id}",
    )
    return pub


def release(session: Session, *, actor: Principal, communication_id: str) -> Publication:
    """The owner organisation releases its approved statement now (after its embargo)."""
    c = get(session, actor, communication_id)
    authority.authorize(actor, "communication.release", relations(actor, c))
    return publish(session, actor=actor, c=c, now=utcnow())


def withdraw(session: Session, *, actor: Principal, communication_id: str) -> Communication:
    """The owner withdraws a draft or an approved statement before release; it is then neither edited nor released."""
    c = get(session, actor, communication_id)
    authority.authorize(actor, "communication.withdraw", relations(actor, c))
    _lock(session, c)
    if c.state == CommState.RELEASED:
        raise Conflict(
            f"already released on {_iso(c.released_at)}: a publication stays public; "
            "release a corrected statement instead"
        )
    if c.state == CommState.WITHDRAWN:
        raise Conflict("already withdrawn")
    before = c.state
    c.state = CommState.WITHDRAWN.value
    c.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=WITHDRAW,
        object_id=c.id,
        summary={"state": [before, c.state], "version": c.current_version},
    )
    notify_readers(
        session,
        obj=c,
        event=WITHDRAWN,
        org_ids=c.approvers,
        subject=f"{_notice_prefix(c)}Withdrawn: {c.title}",
        body=f"The {KIND_LABELS[c.kind]} {c.id} ({c.title}) was withdrawn by its owner: no approval is needed.",
        payload=_payload(c),
        dedupe=f"{WITHDRAWN}:{c.id}",
    )
    return c
