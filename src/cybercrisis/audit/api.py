"""Audit API: read the log (platform admins: all; organisation admins: their organisation's) and verify it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from cybercrisis.access.permissions import Permission
from cybercrisis.audit import reading, service
from cybercrisis.audit.models import AuditEvent
from cybercrisis.audit.reading import timeline_out
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.schemas import TimelineEntry

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditEventOut(TimelineEntry):
    """One entry of the audit chain as this reader may see it. About an object the reader may not read (under the
    same read policy as everything else, administrators included) it keeps its sequence number, time, tag and actor,
    and `object_id` is null, `summary` empty and `withheld` true. Summaries never name an object the reader may not
    read, nor count linked incidents."""

    object_id: str | None = Field(description="the object the event is about; null when withheld or none")
    token_id: str | None
    request_id: str | None
    hash: str
    withheld: bool = Field(description="true when the event is about an object this reader may not read")


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    head: str
    first_bad_seq: int | None
    reason: str | None


@router.get("/events", operation_id="list_audit_events", response_model=list[AuditEventOut])
def list_events(
    db: DB,
    principal: CurrentPrincipal,
    before_seq: int | None = None,
    tag: Annotated[str | None, Query(max_length=120)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEventOut]:
    """Newest first. Summaries hold field names and ids, never the content of shared objects; an event about an
    object the reader may not read says only what happened (tag), when, who did it and where it is in the chain."""
    principal.require(Permission.AUDIT_READ)
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if not principal.has(Permission.AUDIT_VERIFY):
        query = query.where(AuditEvent.actor_org_id == principal.org_id)
    if before_seq:
        query = query.where(AuditEvent.seq < before_seq)
    if tag:
        query = query.where(AuditEvent.tag == tag)
    return [
        AuditEventOut(
            **timeline_out(e).model_dump(),
            object_id=e.object_id,
            token_id=e.token_id,
            request_id=e.request_id,
            hash=e.hash,
            withheld=e.withheld,
        )
        for e in reading.shown(db, principal, db.scalars(query).all())
    ]


@router.post("/verify", operation_id="verify_audit_chain", response_model=VerifyOut)
def verify(db: DB, principal: CurrentPrincipal) -> VerifyOut:
    principal.require(Permission.AUDIT_VERIFY)
    r = service.verify(db)
    return VerifyOut(ok=r.ok, checked=r.checked, head=r.head, first_bad_seq=r.first_bad_seq, reason=r.reason)
