"""`GET /api/v1/my-work`: what waits on the reader's organisation (work/service.py), as the page lists it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request

from cybercrisis.crises.escalation import model_for
from cybercrisis.db import utcnow
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.work import service
from cybercrisis.work.schemas import MyWorkOut, WorkItemOut

router = APIRouter(prefix="/api/v1", tags=["my work"])


def item_out(item: service.WorkItem, now: datetime) -> WorkItemOut:
    return WorkItemOut(
        kind=item.kind,
        kind_label=service.KINDS[item.kind],
        object_id=item.object_id,
        title=item.title,
        asked=item.asked,
        link=item.link,
        since=item.since,
        due_at=item.due_at,
        overdue=item.overdue(now),
        tlp=item.tlp,
        crisis_id=item.crisis_id,
    )


@router.get("/my-work", operation_id="my_work", response_model=MyWorkOut)
def my_work(request: Request, db: DB, principal: CurrentPrincipal) -> MyWorkOut:
    """Everything that waits on the reader's organisation and that the reader may do now: agreements to crisis
    moves, statements to approve, offers to answer, requests for assistance addressed to it, crisis actions assigned
    to it, NIS2 reports due, early warnings to acknowledge. Most urgent first. Each item is gone once it is done."""
    now = utcnow()
    items = service.waiting_on(db, principal, model=model_for(request.app.state.settings), now=now)
    return MyWorkOut(count=len(items), items=[item_out(i, now) for i in items])
