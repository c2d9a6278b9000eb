"""The My work page: what waits on the reader's organisation (work/service.py), most urgent first, each one click
from where it is done; an agreement to a crisis move and an early warning are answered on the page itself."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cybercrisis.crises.escalation import model_for
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.web.pagedeps import PagePrincipal
from cybercrisis.web.render import render
from cybercrisis.work import service

router = APIRouter(include_in_schema=False)

# What a form posted from this page did, shown at the top when it comes back here (`?done=`).
DONE = {
    "agreed": "Your organisation's agreement was recorded.",
    "moved": "Your organisation's agreement was recorded, and the crisis moved.",
    "sent": "Your organisation's agreement was sent to the node that holds the crisis.",
    "acknowledged": "The early warning was acknowledged for your organisation.",
}


@router.get("/my-work", response_class=HTMLResponse)
def my_work(*, request: Request, db: DB, principal: PagePrincipal, done: str = "") -> Response:
    now = utcnow()
    items = service.waiting_on(db, principal, model=model_for(request.app.state.settings), now=now)
    groups: dict[str, list[service.WorkItem]] = {g: [] for g in service.GROUPS}
    for item in items:
        groups[item.group(now)].append(item)
    return render(
        request,
        "my_work.html",
        {"groups": groups, "total": len(items), "kinds": service.KINDS, "now": now, "done": DONE.get(done, "")},
    )
