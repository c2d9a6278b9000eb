"""Coordinated public communication API: co-edited drafts, approvals per version, release at the embargo time.

A statement is drafted by one organisation and approved by the organisations on its approvers list; once every
one of them approved the current version it is released (by its owner, or automatically when its embargo time
has passed) to the public page and feed as a TLP:CLEAR publication. Lines to take are approved the same way but
are internal guidance and never released.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.access.principal import Principal
from cybercrisis.answers import service as answers
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.comms import reading, release, service
from cybercrisis.comms.deps import CurrentCommunication
from cybercrisis.comms.feed import public_base as feed_base
from cybercrisis.comms.feed import public_url
from cybercrisis.comms.listing import CommunicationFilters
from cybercrisis.comms.listing import list_communications as list_page
from cybercrisis.comms.models import Communication, Verdict
from cybercrisis.comms.schemas import (
    ApprovalOut,
    ChangesIn,
    CommunicationIn,
    CommunicationOut,
    CommunicationPage,
    CommunicationPatch,
    CommunicationSummary,
    CommVersionOut,
    OrgRef,
    VerdictIn,
)
from cybercrisis.config import Settings
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.schemas import AnswerOut, TimelineEntry, held_at
from cybercrisis.situation.schemas import DiffOut

router = APIRouter(prefix="/api/v1", tags=["communications"])


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def public_base(request: Request) -> str:
    """The base of the public pages' links (feed.public_base)."""
    return feed_base(_settings(request), str(request.base_url))


def communication_out(db: DB, c: Communication, reader: Principal, public: str) -> CommunicationOut:
    """`public`: the base of the public pages' address (`public_base`)."""
    rows = reading.approvals(db, c.id)
    waiting = reading.waiting_for(c, rows)
    names = reading.org_names(db, [*c.approvers, *(r.org_id for r in rows)])
    pub = reading.publication_of(db, c.id)
    shares: list[Share] = sharing.shares_of(db, c.id)
    crisis = c.crisis_id if c.crisis_id in reading.readable_crises(db, reader, [c.crisis_id]) else None
    return CommunicationOut(
        id=c.id,
        kind=c.kind,
        crisis=crisis,
        title=c.title,
        body=c.body,
        language=c.language,
        translations=c.translations,
        approvers=[OrgRef(id=o, short_name=names.get(o, o)) for o in c.approvers],
        embargo_until=c.embargo_until,
        state=c.state,
        version=c.current_version,
        versions=c.current_version,
        approvals=[
            ApprovalOut(
                version=r.version,
                org=r.org_id,
                org_short_name=names.get(r.org_id, r.org_id),
                verdict=r.verdict,
                comment=r.comment,
                user=r.user_id,
                at=r.at,
            )
            for r in rows
        ],
        waiting_for=[OrgRef(id=o, short_name=names.get(o, o)) for o in waiting],
        stale_translations=reading.stale_translations(reading.versions(db, c.id)) if c.translations else {},
        released_at=c.released_at,
        publication=pub.id if pub else None,
        public_url=public_url(public, pub.id) if pub and not pub.exercise else None,
        tlp=c.tlp,
        owner=c.owner_org_id,
        created_by=c.created_by_id,
        created=c.created_at,
        modified=c.modified_at,
        exercise=c.exercise,
        share_with=sharing.share_list(shares),
        held_at=held_at(db, c),
        answers=[AnswerOut.of(a) for a in answers.of_organisation(db, principal=reader, object_ids=[c.id])]
        if c.origin_node is not None
        else [],
    )


def summary_out(c: Communication, waiting: list[str], readable_crises: set[str]) -> CommunicationSummary:
    return CommunicationSummary(
        id=c.id,
        kind=c.kind,
        crisis=c.crisis_id if c.crisis_id in readable_crises else None,
        title=c.title,
        language=c.language,
        state=c.state,
        version=c.current_version,
        approvers=c.approvers,
        waiting_for=waiting,
        embargo_until=c.embargo_until,
        released_at=c.released_at,
        tlp=c.tlp,
        owner=c.owner_org_id,
        created=c.created_at,
        modified=c.modified_at,
        exercise=c.exercise,
    )


@router.post("/communications", status_code=201, operation_id="create_communication", response_model=CommunicationOut)
def create_communication(
    body: CommunicationIn, db: DB, principal: CurrentPrincipal, request: Request
) -> CommunicationOut:
    """Draft a statement (or lines to take), optionally about a crisis, with the organisations that must approve it.

    The draft is shared with every approver organisation (TLP:RED is refused: it could not reach them) and each is
    notified (`comms:communication:approval-requested`). Version 1 is stored. Needs
    `comms:communication:write`.
    """
    c = service.create(db, actor=principal, data=body)
    return communication_out(db, c, principal, public_base(request))


@router.get("/communications", operation_id="list_communications", response_model=CommunicationPage)
def list_communications(
    db: DB,
    principal: CurrentPrincipal,
    crisis: Annotated[str | None, Query(max_length=120, description="only those about this crisis")] = None,
    state: Annotated[str | None, Query(description="draft, approved, released or withdrawn")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CommunicationPage:
    """Communications you may read, newest first (keyset pagination: pass `next` as `cursor`)."""
    filters = CommunicationFilters(crisis=crisis, state=state)
    found = list_page(db, principal=principal, filters=filters, cursor=cursor, limit=limit)
    page, nxt = found.items, found.next
    waiting = reading.waiting_for_many(db, page)
    crises = reading.readable_crises(db, principal, [c.crisis_id for c in page])
    return CommunicationPage(items=[summary_out(c, waiting[c.id], crises) for c in page], next=nxt)


@router.get("/communications/{communication_id}", operation_id="get_communication", response_model=CommunicationOut)
def get_communication(
    c: CurrentCommunication, db: DB, principal: CurrentPrincipal, request: Request
) -> CommunicationOut:
    """One communication with every verdict per version and `waiting_for`: who has not approved the current one."""
    return communication_out(db, c, principal, public_base(request))


@router.patch(
    "/communications/{communication_id}", operation_id="update_communication", response_model=CommunicationOut
)
def update_communication(
    communication_id: str, body: CommunicationPatch, db: DB, principal: CurrentPrincipal, request: Request
) -> CommunicationOut:
    """Co-edit the text, translations or embargo (owner and approver organisations); change approvers (owner).

    `version` must be the current version (409 if someone edited meanwhile). A change of text, translations or
    embargo makes a new version: approvals of earlier versions no longer count, an approved communication is a
    draft again, and the approvers are asked again. Released or withdrawn communications do not change (409).
    """
    c = service.update(db, actor=principal, communication_id=communication_id, patch=body)
    return communication_out(db, c, principal, public_base(request))


@router.get(
    "/communications/{communication_id}/versions",
    operation_id="communication_versions",
    response_model=list[CommVersionOut],
)
def communication_versions(c: CurrentCommunication, db: DB) -> list[CommVersionOut]:
    """Every version of the text, oldest first."""
    return [
        CommVersionOut(
            version=v.number,
            created_at=v.created_at,
            created_by=v.created_by_id,
            title=v.title,
            languages=sorted(v.translations),
        )
        for v in reading.versions(db, c.id)
    ]


@router.get("/communications/{communication_id}/diff", operation_id="communication_diff", response_model=DiffOut)
def communication_diff(
    c: CurrentCommunication,
    db: DB,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    """What changed between two versions: title, body and each translation, with a unified diff per field."""
    return DiffOut(
        from_version=from_version, to_version=to_version, changes=reading.diff(db, c.id, from_version, to_version)
    )


@router.post(
    "/communications/{communication_id}/approve", operation_id="approve_communication", response_model=CommunicationOut
)
def approve_communication(
    communication_id: str, body: VerdictIn, db: DB, principal: CurrentPrincipal, request: Request
) -> CommunicationOut:
    """Approve the current version for your organisation (it must be on the approvers list).

    Needs `comms:communication:approve`. A second verdict of your organisation on the same version replaces the
    first. When every approver organisation approved the current version, the state becomes `approved`. On a
    communication held at another node (`held_at`), the verdict is sent there (ADR 0013): it is listed under `answers`
    (queued, then applied or refused with that node's reason) and counts once that node applied it.
    """
    c = service.give_verdict(
        db,
        actor=principal,
        communication_id=communication_id,
        version=body.version,
        verdict=Verdict.APPROVE,
        comment=body.comment,
        confirm_stale=body.confirm_stale_translations,
    )
    return communication_out(db, c, principal, public_base(request))


@router.post(
    "/communications/{communication_id}/request-changes",
    operation_id="request_communication_changes",
    response_model=CommunicationOut,
)
def request_changes(
    communication_id: str, body: ChangesIn, db: DB, principal: CurrentPrincipal, request: Request
) -> CommunicationOut:
    """Ask for changes to the current version, with a comment; the owner organisation is notified."""
    c = service.give_verdict(
        db,
        actor=principal,
        communication_id=communication_id,
        version=body.version,
        verdict=Verdict.CHANGES,
        comment=body.comment,
    )
    return communication_out(db, c, principal, public_base(request))


@router.post(
    "/communications/{communication_id}/release", operation_id="release_communication", response_model=CommunicationOut
)
def release_communication(
    communication_id: str, db: DB, principal: CurrentPrincipal, request: Request
) -> CommunicationOut:
    """Release an approved statement now (owner organisation): it appears on /public and /public/feed.xml.

    Refused with 409, nothing written, before every approver approved the current version, before the embargo
    time, for lines to take, and when it is already released (whether by another request or by the job that
    releases due statements automatically).
    """
    release.release(db, actor=principal, communication_id=communication_id)
    return communication_out(db, reading.get(db, principal, communication_id), principal, public_base(request))


@router.post(
    "/communications/{communication_id}/withdraw",
    operation_id="withdraw_communication",
    response_model=CommunicationOut,
)
def withdraw_communication(
    communication_id: str, db: DB, principal: CurrentPrincipal, request: Request
) -> CommunicationOut:
    """Withdraw a communication before its release (owner organisation); it is then neither edited nor released."""
    c = release.withdraw(db, actor=principal, communication_id=communication_id)
    return communication_out(db, c, principal, public_base(request))


@router.get(
    "/communications/{communication_id}/timeline",
    operation_id="communication_timeline",
    response_model=list[TimelineEntry],
)
def communication_timeline(c: CurrentCommunication, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
    """What happened to it, oldest first: creation, edits, verdicts, release and its publication."""
    pub = reading.publication_of(db, c.id)
    ids = [c.id] + ([pub.id] if pub else [])
    return [timeline_out(e) for e in audit.timeline_of(db, reader=principal, object_ids=ids)]
