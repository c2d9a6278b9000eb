"""The search page (the header's search box, `/` to focus it) and the observable pivot page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from cybercrisis.deps import DB
from cybercrisis.errors import InvalidInput
from cybercrisis.search import service
from cybercrisis.web.pagedeps import PagePrincipal
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/search", response_class=HTMLResponse)
def search(*, request: Request, db: DB, principal: PagePrincipal, q: str = "") -> Response:
    found, problem = None, ""
    if q.strip():
        try:
            found = service.search(db, principal, q[:400])
        except InvalidInput as exc:
            problem = exc.detail
    return render(request, "search.html", {"q": q, "found": found, "problem": problem})


@router.get("/observables", response_class=HTMLResponse)
def observable(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    type_: Annotated[str, Query(alias="type")] = "",
    value: str = "",
) -> Response:
    hit = service.observable(db, principal, type_[:32], value[:2048])
    return render(request, "observable.html", {"hit": hit})
