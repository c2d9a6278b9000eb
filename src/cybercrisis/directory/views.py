"""Directory pages: the overview (the reader's organisation, the directory in figures, the latest documents), the list
of organisations with filters, one organisation with its contacts.

The overview lives here because it is the reader's own organisation card and the directory's counts; the documents
it lists come from the documents service, as on the organisation page."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import IntegrityError

from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.deps import DB
from cybercrisis.directory import reading, service
from cybercrisis.directory.models import MEMBERSHIP_ROLE_LABELS, Level
from cybercrisis.directory.reading import OrgCard
from cybercrisis.documents import service as documents
from cybercrisis.errors import InvalidInput
from cybercrisis.pagination import Page
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState, bad, share_with
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
PAGE_SIZE = 50
ROLE_LABELS = {r.value: label for r, label in MEMBERSHIP_ROLE_LABELS.items()}
Filter = Annotated[str, Query(max_length=200)]


@router.get("/", response_class=HTMLResponse)
def overview(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    org = service.read_organisation(db, principal=principal, org_id=principal.org_id or "")
    latest = documents.list_documents(db, principal=principal, filters=documents.DocumentFilter(), cursor=None, limit=5)
    return render(
        request,
        "overview.html",
        {
            "org": org,
            "type_counts": queries.org_type_counts(db),
            "latest": latest.items,
            "owners": queries.org_refs(db, (d.owner_org_id for d in latest.items)),
            "can_write_documents": principal.has(Permission.DOCUMENT_WRITE),
        },
    )


@router.get("/directory", response_class=HTMLResponse)
def directory_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    country: Filter = "",
    type: Filter = "",  # noqa: A002 - the public filter name, as in the API
    level: Filter = "",
    community: Filter = "",
    q: Filter = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    chosen = {"country": country, "type": type, "level": level, "community": community, "q": q.strip()}
    filters = reading.OrgFilter(**{k: v or None for k, v in chosen.items()})
    error, status = None, 200
    try:
        page = reading.list_organisations(
            db, principal=principal, filters=filters, cursor=cursor or None, limit=PAGE_SIZE
        )
        total = reading.count_organisations(db, filters=filters)
    except InvalidInput as exc:
        # A hand-edited URL: show the page with the message rather than an error page.
        page, total, error, status = Page([], None), 0, exc.detail, 422
    query = {k: v for k, v in chosen.items() if v}
    return render(
        request,
        "directory.html",
        {
            "orgs": page.items,
            "total": total,
            "chosen": chosen,
            "error": error,
            "countries": queries.countries_in_directory(db),
            "communities": queries.community_names(db),
            "role_labels": ROLE_LABELS,
            "levels": [lv.value for lv in Level],
            "next_url": f"/directory?{urlencode({**query, 'cursor': page.next})}" if page.next else None,
            "first_url": f"/directory?{urlencode(query)}" if cursor else None,
        },
        status=status,
    )


def _org_page(
    request: Request,
    db: DB,
    principal: Principal,
    org: OrgCard,
    *,
    form: FormState | None = None,
    role_form: FormState | None = None,
    status: int = 200,
) -> Response:
    own = principal.org_id == org.id
    can_edit_contacts = own and principal.has(Permission.CONTACT_WRITE)
    docs = documents.list_documents(
        db, principal=principal, filters=documents.DocumentFilter(organisation=org.id), cursor=None, limit=20
    )
    return render(
        request,
        "organisation.html",
        {
            "org": org,
            "parent": queries.org_refs(db, [org.parent_id or ""]).get(org.parent_id or ""),
            "constituents": queries.constituents(db, org.id),
            "contacts": service.contacts_of(db, principal=principal, org_id=org.id),
            "documents": docs.items,
            "more_documents": docs.next is not None,
            "communities": queries.community_names(db),
            "can_edit_contacts": can_edit_contacts,
            "can_manage_users": own and principal.has(Permission.USER_READ),
            "org_choices": queries.org_choices(db) if can_edit_contacts else [],
            "form": form or FormState(values={"tlp": "green"}),
            "role_labels": ROLE_LABELS,
            # The service's own rule: the directory's writers, never for their own organisation.
            "can_set_roles": not own and principal.has(Permission.DIRECTORY_WRITE),
            "role_form": role_form or FormState(values={"role": "member"}),
        },
        status=status,
    )


@router.get("/directory/{org_id}", response_class=HTMLResponse)
def organisation_page(*, org_id: str, request: Request, db: DB, principal: PagePrincipal) -> Response:
    org = service.read_organisation(db, principal=principal, org_id=org_id)
    return _org_page(request, db, principal, org)


@router.post("/directory/{org_id}/contacts")
def add_contact(
    *,
    org_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    kind: Annotated[str, Form(max_length=32)] = "",
    label: Annotated[str, Form(max_length=200)] = "",
    value: Annotated[str, Form(max_length=500)] = "",
    pgp_fingerprint: Annotated[str, Form(max_length=60)] = "",
    tlp: Annotated[str, Form(max_length=20)] = "",
    communities: Annotated[list[str] | None, Form()] = None,
    organisations: Annotated[list[str] | None, Form()] = None,
) -> Response:
    org = service.read_organisation(db, principal=principal, org_id=org_id)
    values: dict[str, Any] = {
        "kind": kind,
        "label": label,
        "value": value,
        "pgp_fingerprint": pgp_fingerprint,
        "tlp": tlp,
        "communities": communities or [],
        "organisations": organisations or [],
    }
    try:
        if not label.strip() or not value.strip():
            missing = "label" if not label.strip() else "value"
            raise bad(missing, f"the contact needs a {missing}")
        service.create_contact(
            db,
            actor=principal,
            org_id=org.id,
            kind=kind,
            label=label,
            value=value,
            pgp_fingerprint=pgp_fingerprint or None,
            tlp=tlp,
            share_with=share_with(organisations, communities, ""),
        )
        db.flush()
    except InvalidInput as exc:
        db.rollback()
        return _org_page(request, db, principal, org, form=FormState.failed(exc, values), status=422)
    except IntegrityError:
        db.rollback()
        form = FormState(
            values=values,
            errors={"value": "This contact is in the directory already."},
            message="This contact is in the directory already.",
        )
        return _org_page(request, db, principal, org, form=form, status=422)
    return see_other(f"/directory/{org.id}#contacts")


@router.post("/directory/{org_id}/contacts/{contact_id}/delete")
def delete_contact(
    *,
    org_id: str,
    contact_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    service.delete_contact(db, actor=principal, contact_id=contact_id)
    return see_other(f"/directory/{org_id}#contacts")


@router.post("/directory/{org_id}/memberships")
def set_membership_role(
    *,
    org_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    community: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form(max_length=24)] = "",
) -> Response:
    org = service.read_organisation(db, principal=principal, org_id=org_id)
    values = {"community": community, "role": role}
    try:
        if not community:
            raise bad("community", "choose a community")
        service.set_membership_role(db, actor=principal, org_id=org.id, community=community, role=role)
        db.flush()
    except InvalidInput as exc:
        db.rollback()
        return _org_page(request, db, principal, org, role_form=FormState.failed(exc, values), status=422)
    return see_other(f"/directory/{org.id}")
