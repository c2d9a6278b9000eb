"""`GET /api/v1/search` and `GET /api/v1/observables/{id}` (search/service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.search import service
from cybercrisis.search.schemas import IncidentHit, ObjectHit, ObservableOut, OrganisationHit, SearchOut

router = APIRouter(prefix="/api/v1", tags=["search"])


def _incident(ref: service.IncidentRef) -> IncidentHit:
    return IncidentHit(id=ref.id, title=ref.title, tlp=ref.tlp, owner=ref.owner_org_id)


def observable_out(hit: service.ObservableHit) -> ObservableOut:
    return ObservableOut(type=hit.type, value=hit.value, incidents=[_incident(r) for r in hit.incidents], more=hit.more)


@router.get("/search", operation_id="search", response_model=SearchOut)
def search(
    db: DB,
    principal: CurrentPrincipal,
    q: Annotated[str, Query(min_length=1, max_length=400, description="2 to 200 characters, once refanged")],
) -> SearchOut:
    """Incidents, observables (with the incidents that have them), crises, documents and organisations whose text
    contains `q` (case-insensitive), among what the reader may see. A defanged value (`hxxp`, `[.]`) is refanged."""
    found = service.search(db, principal, q)
    return SearchOut(
        query=found.query,
        incidents=[_incident(r) for r in found.incidents],
        observables=[observable_out(h) for h in found.observables],
        crises=[ObjectHit(**c) for c in found.crises],
        documents=[ObjectHit(**d) for d in found.documents],
        organisations=[OrganisationHit(**o) for o in found.organisations],
        more=sorted(found.more),
    )


@router.get("/observables", operation_id="get_observable", response_model=ObservableOut)
def get_observable(
    db: DB,
    principal: CurrentPrincipal,
    type_: Annotated[
        str, Query(alias="type", max_length=32, description="the observable's type, e.g. ipv4-addr, domain-name")
    ],
    value: Annotated[str, Query(max_length=2048, description="its value; a defanged one is refanged")],
) -> ObservableOut:
    """One observable and the incidents the reader may read that have it (newest first, at most 200: `more` says
    when there are others): the pivot from a value to its incidents. 404 when the reader may read none of them."""
    return observable_out(service.observable(db, principal, type_, value))
