"""Directory API: organisations, communities, contacts, import and export."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, UploadFile
from fastapi.responses import PlainTextResponse

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.directory import exchange, reading, service
from cybercrisis.directory.models import Contact, MembershipRole, Organisation
from cybercrisis.directory.reading import OrgCard
from cybercrisis.directory.schemas import (
    CommunityMemberOut,
    CommunityOut,
    ContactIn,
    ContactOut,
    MembershipOut,
    MembershipRoleIn,
    OrganisationDetail,
    OrganisationIn,
    OrganisationOut,
    OrganisationPage,
    OrganisationPatch,
)
from cybercrisis.errors import InvalidInput
from cybercrisis.schemas import json_body

router = APIRouter(prefix="/api/v1", tags=["directory"])


def _org_fields(org: Organisation | OrgCard) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "short_name": org.short_name,
        "type": org.type,
        "country": org.country,
        "levels": org.levels,
        "communities": org.communities,
        "memberships": [MembershipOut(community=c, role=MembershipRole(r)) for c, r in org.roles.items()],
        "parent_id": org.parent_id,
        "website": org.website,
        "description": org.description,
        "modified_at": org.modified_at,
    }


def org_out(org: Organisation | OrgCard) -> OrganisationOut:
    return OrganisationOut(**_org_fields(org))


def contact_out(c: Contact, *, with_shares: bool = False, db: DB | None = None) -> ContactOut:
    shares = sharing.share_list(sharing.shares_of(db, c.id)) if with_shares and db is not None else None
    return ContactOut(
        id=c.id,
        organisation=c.owner_org_id,
        kind=c.kind,
        label=c.label,
        value=c.value,
        pgp_fingerprint=c.pgp_fingerprint,
        tlp=c.tlp,
        share_with=shares,
    )


@router.get("/organisations", operation_id="list_organisations", response_model=OrganisationPage)
def list_organisations(
    db: DB,
    principal: CurrentPrincipal,
    country: str | None = None,
    type: str | None = None,  # noqa: A002 - the public filter name
    level: str | None = None,
    community: str | None = None,
    parent: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    filters = reading.OrgFilter(country=country, type=type, level=level, community=community, parent=parent, q=q)
    page = reading.list_organisations(db, principal=principal, filters=filters, cursor=cursor, limit=limit)
    return json_body(OrganisationPage(items=[org_out(o) for o in page.items], next=page.next))


@router.get("/organisations/{org_id}", operation_id="get_organisation", response_model=OrganisationDetail)
def get_organisation(org_id: str, db: DB, principal: CurrentPrincipal) -> Response:
    org, constituents = reading.organisation_with_constituents(db, principal=principal, org_id=org_id)
    contacts = service.contacts_of(db, principal=principal, org_id=org.id)
    detail = OrganisationDetail(
        **_org_fields(org),
        contacts=[contact_out(c) for c in contacts],
        constituents=[org_out(o) for o in constituents],
    )
    return json_body(detail)


@router.post("/organisations", status_code=201, operation_id="create_organisation", response_model=OrganisationOut)
def create_organisation(body: OrganisationIn, db: DB, principal: CurrentPrincipal) -> OrganisationOut:
    org = service.create_organisation(
        db,
        actor=principal,
        name=body.name,
        short_name=body.short_name,
        type_=body.type,
        country=body.country,
        levels=body.levels,
        communities=body.communities,
        parent_id=body.parent_id,
        website=body.website,
        description=body.description,
        org_id=body.id,
        roles=body.roles,  # type: ignore[arg-type]
    )
    return org_out(org)


@router.patch("/organisations/{org_id}", operation_id="update_organisation", response_model=OrganisationOut)
def update_organisation(org_id: str, body: OrganisationPatch, db: DB, principal: CurrentPrincipal) -> OrganisationOut:
    changes = body.model_dump(exclude_unset=True)
    return org_out(service.update_organisation(db, actor=principal, org_id=org_id, changes=changes))


@router.get("/communities", operation_id="list_communities", response_model=list[CommunityOut])
def list_communities(db: DB, principal: CurrentPrincipal) -> list[CommunityOut]:
    return [
        CommunityOut(slug=c.slug, name=c.name, level=c.level, description=c.description, basis=c.basis)
        for c in service.list_communities(db)
    ]


@router.get(
    "/communities/{slug}/members", operation_id="list_community_members", response_model=list[CommunityMemberOut]
)
def list_community_members(slug: str, db: DB, principal: CurrentPrincipal) -> list[CommunityMemberOut]:
    """Who is in the community and as what (member, observer, secretariat, invited observer)."""
    principal.require(Permission.DIRECTORY_READ)
    return [
        CommunityMemberOut(organisation=o.id, short_name=o.short_name, type=o.type, country=o.country, role=r)
        for o, r in service.community_members(db, community=slug)
    ]


@router.put(
    "/organisations/{org_id}/memberships/{community}",
    operation_id="set_membership_role",
    response_model=MembershipOut,
)
def set_membership_role(
    org_id: str, community: str, body: MembershipRoleIn, db: DB, principal: CurrentPrincipal
) -> MembershipOut:
    """Set the organisation's role in the community, adding it to the community when it is not in it."""
    role = service.set_membership_role(db, actor=principal, org_id=org_id, community=community, role=body.role.value)
    return MembershipOut(community=community, role=role)


@router.post("/contacts", status_code=201, operation_id="create_contact", response_model=ContactOut)
def create_contact(body: ContactIn, db: DB, principal: CurrentPrincipal) -> ContactOut:
    contact = service.create_contact(
        db,
        actor=principal,
        org_id=body.organisation,
        kind=body.kind,
        label=body.label,
        value=body.value,
        pgp_fingerprint=body.pgp_fingerprint,
        tlp=body.tlp,
        share_with=body.share_with,
    )
    return contact_out(contact, with_shares=True, db=db)


@router.get("/contacts/{contact_id}", operation_id="get_contact", response_model=ContactOut)
def get_contact(contact_id: str, db: DB, principal: CurrentPrincipal) -> ContactOut:
    return contact_out(sharing.get_readable(db, principal, Contact, contact_id), with_shares=True, db=db)


@router.delete("/contacts/{contact_id}", status_code=204, operation_id="delete_contact")
def delete_contact(contact_id: str, db: DB, principal: CurrentPrincipal) -> Response:
    service.delete_contact(db, actor=principal, contact_id=contact_id)
    return Response(status_code=204)


@router.get("/directory/export", operation_id="export_directory", response_model=None)
def export_directory(
    db: DB,
    principal: CurrentPrincipal,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",  # noqa: A002
) -> Response:
    if format == "csv":
        return PlainTextResponse(
            exchange.export_csv(db),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="directory.csv"'},
        )
    return Response(exchange.export_json(db, principal=principal), media_type="application/json")


@router.post("/directory/import", operation_id="import_directory")
def import_directory(file: UploadFile, db: DB, principal: CurrentPrincipal) -> dict[str, int]:
    raw = file.file.read()
    fmt = "csv" if (file.filename or "").lower().endswith(".csv") else "json"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text", errors=[{"field": "file", "message": "not UTF-8"}]) from None
    result = exchange.import_directory(db, actor=principal, text=text, fmt=fmt)
    return result.as_dict()
