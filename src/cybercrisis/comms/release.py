"""Release and withdrawal: an approved statement becomes a separate TLP:CLEAR `Publication` exactly once, by its
owner or by the job at its embargo time (tasks.py); a communication withdrawn before release is neither edited nor
released. A release is a conditional update (`state = 'approved'` to `released`) plus a unique publication per
communication: whichever request or job process gets there first publishes, the other finds it done."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy import update as update_rows
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.accounts.models import User
from cybercrisis.audit import service as audit
from cybercrisis.comms import actions, checks, notices
from cybercrisis.comms.models import (
    CommKind,
    CommState,
    Communication,
    CommunicationApproval,
    CommunicationVersion,
    Publication,
    Verdict,
)
from cybercrisis.comms.reading import approvals, get, org_names, waiting_for
from cybercrisis.db import new_id, utcnow
from cybercrisis.errors import Conflict

RELEASE = "comms:communication:release"
WITHDRAW = "comms:communication:withdraw"
PUBLICATION_CREATE = "comms:publication:create"


def _check_releasable(session: Session, c: Communication, now: datetime) -> None:
    if c.kind == CommKind.LINES_TO_TAKE:
        raise Conflict(checks.LINES_NOT_RELEASED)
    if c.state == CommState.RELEASED:
        raise Conflict(f"already released on {checks.iso(c.released_at)}")
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
    notices.tell_released(session, c, pub, now)
    return pub


def release(session: Session, *, actor: Principal, communication_id: str) -> Publication:
    """The owner organisation releases its approved statement now (after its embargo)."""
    c = get(session, actor, communication_id)
    actions.authorize(actor, "communication.release", c)
    return publish(session, actor=actor, c=c, now=utcnow())


def withdraw(session: Session, *, actor: Principal, communication_id: str) -> Communication:
    """The owner withdraws a draft or an approved statement before release; it is then neither edited nor released."""
    c = get(session, actor, communication_id)
    actions.authorize(actor, "communication.withdraw", c)
    checks.lock(session, c)
    if c.state == CommState.RELEASED:
        raise Conflict(
            f"already released on {checks.iso(c.released_at)}: a publication stays public; "
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
    notices.tell_withdrawn(session, c)
    return c
