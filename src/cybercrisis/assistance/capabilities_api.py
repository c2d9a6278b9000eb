"""The capability catalogue API: what each organisation can offer (kind, people, notice), which requests for
assistance are matched against. Read through the access layer like everything else: an entry the reader may not see
is 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.assistance import catalogue, service
from cybercrisis.assistance.models import Capability
from cybercrisis.assistance.schemas import CapabilityIn, CapabilityOut, CapabilityPage, CapabilityPatch
from cybercrisis.deps import DB, CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["assistance"])


def capability_out(c: Capability, shares: list[Share], names: dict[str, str]) -> CapabilityOut:
    return CapabilityOut(
        id=c.id,
        kind=c.kind,
        title=c.title,
        description=c.description,
        notice_hours=c.notice_hours,
        people=c.people,
        active=c.active,
        tlp=c.tlp,
        share_with=sharing.share_list(shares),
        owner=c.owner_org_id,
        owner_name=names.get(c.owner_org_id, ""),
        created=c.created_at,
        modified=c.modified_at,
        version=c.version,
    )


def _capability(db: DB, c: Capability) -> CapabilityOut:
    return capability_out(c, sharing.shares_of(db, c.id), service.org_names(db, [c.owner_org_id]))


@router.post("/capabilities", status_code=201, operation_id="create_capability", response_model=CapabilityOut)
def create_capability(body: CapabilityIn, db: DB, principal: CurrentPrincipal) -> CapabilityOut:
    """Publish what your organisation can offer (kind, people, notice in hours). TLP:GREEN by default, shared
    with your organisation's communities unless `share_with` says otherwise."""
    return _capability(db, catalogue.create_capability(db, actor=principal, data=body))


@router.get("/capabilities", operation_id="list_capabilities", response_model=CapabilityPage)
def list_capabilities(
    db: DB,
    principal: CurrentPrincipal,
    kind: Annotated[str | None, Query(description="a need: incident-response, forensics, ...")] = None,
    active: bool | None = None,
    owner: Annotated[str | None, Query(max_length=120, description="an organisation id")] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CapabilityPage:
    """Catalogue entries you may see, newest first."""
    page = catalogue.list_capabilities(
        db, reader=principal, kind=kind, active=active, owner=owner, cursor=cursor, limit=limit
    )
    shares = sharing.shares_of_many(db, [c.id for c in page.items])
    names = service.org_names(db, [c.owner_org_id for c in page.items])
    return CapabilityPage(items=[capability_out(c, shares[c.id], names) for c in page.items], next=page.next)


@router.get("/capabilities/{capability_id}", operation_id="get_capability", response_model=CapabilityOut)
def get_capability(capability_id: str, db: DB, principal: CurrentPrincipal) -> CapabilityOut:
    return _capability(db, catalogue.get_capability(db, principal, capability_id))


@router.patch("/capabilities/{capability_id}", operation_id="update_capability", response_model=CapabilityOut)
def update_capability(capability_id: str, body: CapabilityPatch, db: DB, principal: CurrentPrincipal) -> CapabilityOut:
    """Change your organisation's entry (e.g. `"active": false` while the team is deployed). Send the `version`
    you read; a stale one is refused with 409."""
    return _capability(db, catalogue.update_capability(db, actor=principal, capability_id=capability_id, patch=body))


@router.delete(
    "/capabilities/{capability_id}", status_code=204, operation_id="delete_capability", response_class=Response
)
def delete_capability(capability_id: str, db: DB, principal: CurrentPrincipal) -> Response:
    """Delete your organisation's entry (audited). Offers made from it keep its id."""
    catalogue.delete_capability(db, actor=principal, capability_id=capability_id)
    return Response(status_code=204)
