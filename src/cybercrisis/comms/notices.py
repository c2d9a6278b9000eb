"""Who is told what about a communication: its approvers when their approval is asked or no longer needed, its owner
when one asks for changes or all approved, everyone concerned once it is released. Organisations route these events
with patterns such as comms:*."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cybercrisis.access.tlp import TLP
from cybercrisis.comms.checks import KIND_LABELS
from cybercrisis.comms.models import CommKind, Communication, Publication
from cybercrisis.comms.reading import org_names
from cybercrisis.db import utcnow
from cybercrisis.notify.service import notify_readers

APPROVAL_REQUESTED = "comms:communication:approval-requested"
CHANGES_REQUESTED = "comms:communication:changes-requested"
APPROVED = "comms:communication:approved"
RELEASED = "comms:communication:released"
WITHDRAWN = "comms:communication:withdrawn"


def _prefix(c: Communication) -> str:
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


def request_approval(session: Session, c: Communication) -> None:
    """To the approver organisations, which are on the draft's share list: they may read its title."""
    owner = org_names(session, [c.owner_org_id]).get(c.owner_org_id, "An organisation")
    notify_readers(
        session,
        obj=c,
        event=APPROVAL_REQUESTED,
        org_ids=c.approvers,
        subject=f"{_prefix(c)}For approval: {c.title}",
        body=f"{owner} asks your organisation to approve version {c.current_version} of the {KIND_LABELS[c.kind]} "
        f"{c.id} ({c.title}). Approve it, or ask for changes with a comment, in cybercrisis.",
        payload=_payload(c),
        dedupe=f"{APPROVAL_REQUESTED}:{c.id}:{c.current_version}",
    )


def tell_owner(session: Session, c: Communication, *, event: str, by_org: str | None, comment: str = "") -> None:
    who = org_names(session, [by_org]).get(by_org, "An approver") if by_org else "An approver"
    if event == CHANGES_REQUESTED:
        subject = f"{_prefix(c)}Changes requested by {who}: {c.title}"
        text = f"{who} asks for changes to version {c.current_version} of {c.id} ({c.title}):\n\n{comment}"
        # An organisation may ask again on the same version: each request is a message of its own.
        dedupe = f"{event}:{c.id}:{c.current_version}:{by_org}:{utcnow().isoformat()}"
    else:
        subject = f"{_prefix(c)}Approved by every approver: {c.title}"
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


def tell_released(session: Session, c: Communication, pub: Publication, now: datetime) -> None:
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


def tell_withdrawn(session: Session, c: Communication) -> None:
    """The approvers no longer need to approve it."""
    notify_readers(
        session,
        obj=c,
        event=WITHDRAWN,
        org_ids=c.approvers,
        subject=f"{_prefix(c)}Withdrawn: {c.title}",
        body=f"The {KIND_LABELS[c.kind]} {c.id} ({c.title}) was withdrawn by its owner: no approval is needed.",
        payload=_payload(c),
        dedupe=f"{WITHDRAWN}:{c.id}",
    )
