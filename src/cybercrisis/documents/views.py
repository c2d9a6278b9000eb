"""Document pages: list, create, read with TLP banner and timeline, edit, share, pass on."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.deps import DB
from cybercrisis.documents import service
from cybercrisis.documents.actions import allowed_actions
from cybercrisis.documents.deps import PageDocument
from cybercrisis.documents.models import Document, DocumentKind
from cybercrisis.errors import Conflict, InvalidInput
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState, bad, share_with
from cybercrisis.web.pagedeps import CSRF, PagePrincipal, see_other
from cybercrisis.web.render import render
from cybercrisis.web.timeline import object_timeline

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
PAGE_SIZE = 25
Csrf = Annotated[str, Form(max_length=100)]
Names = Annotated[list[str] | None, Form()]

# Audit tags of a document's timeline, in words.
EVENT_LABELS = {
    "directory:document:create": "Created",
    "directory:document:update": "Edited",
    "directory:document:share": "Marking or recipients changed",
    "directory:document:pass-on": "Passed on to constituents",
}


def _sharing_choices(db: Session) -> dict[str, Any]:
    return {
        "org_choices": queries.org_choices(db),
        "communities": queries.community_names(db),
        "kinds": [k.value for k in DocumentKind],
    }


@router.get("/documents", response_class=HTMLResponse)
def document_list(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    q: Annotated[str, Query(max_length=200)] = "",
    organisation: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    filters = service.DocumentFilter(organisation=organisation or None, q=q.strip() or None)
    page = service.list_documents(db, principal=principal, filters=filters, cursor=cursor or None, limit=PAGE_SIZE)
    query = {k: v for k, v in {"q": q.strip(), "organisation": organisation}.items() if v}
    return render(
        request,
        "documents.html",
        {
            "documents": page.items,
            "owners": queries.org_refs(db, [*(d.owner_org_id for d in page.items), organisation]),
            "q": q,
            "organisation": organisation,
            "can_write": principal.has(Permission.DOCUMENT_WRITE),
            "next_url": f"/documents?{urlencode({**query, 'cursor': page.next})}" if page.next else None,
            "first_url": f"/documents?{urlencode(query)}" if cursor else None,
        },
    )


@router.get("/documents/new", response_class=HTMLResponse)
def new_document_form(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    principal.require(Permission.DOCUMENT_WRITE)
    return render(request, "document_new.html", {"form": FormState(values={"kind": "other"}), **_sharing_choices(db)})


@router.post("/documents")
def create_document(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    title: Annotated[str, Form(max_length=300)] = "",
    kind: Annotated[str, Form(max_length=32)] = "other",
    tlp: Annotated[str, Form(max_length=20)] = "",
    body: Annotated[str, Form(max_length=200_000)] = "",
    communities: Names = None,
    organisations: Names = None,
    users: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    values = {
        "title": title,
        "kind": kind,
        "tlp": tlp,
        "body": body,
        "communities": communities or [],
        "organisations": organisations or [],
        "users": users,
    }
    try:
        if not title.strip():
            raise bad("title", "the document needs a title")
        if not tlp:
            raise bad("tlp", "choose a TLP label")
        doc = service.create_document(
            db,
            actor=principal,
            title=title,
            body=body,
            kind=kind,
            tlp=tlp,
            share_with=share_with(organisations, communities, users),
        )
    except InvalidInput as exc:
        db.rollback()
        return render(
            request,
            "document_new.html",
            {"form": FormState.failed(exc, values), **_sharing_choices(db)},
            status=422,
        )
    return see_other(f"/documents/{doc.id}")


def _document_page(
    request: Request,
    db: Session,
    principal: Principal,
    doc: Document,
    *,
    edit: FormState | None = None,
    share: FormState | None = None,
    pass_on: FormState | None = None,
    status: int = 200,
) -> Response:
    shares = sharing.shares_of(db, doc.id)
    recipients = queries.recipients(db, shares)
    acts = allowed_actions(principal, doc)
    # The edit and sharing forms are the owner's (the same acts); passing TLP:AMBER on is a recipient's.
    owner = "document.edit" in acts
    may_pass_on = "document.pass-on" in acts
    current = {
        "tlp": doc.tlp,
        "organisations": [o.id for o in recipients.organisations],
        "communities": [slug for slug, _ in recipients.communities],
        "users": ", ".join(recipients.users),
    }
    return render(
        request,
        "document.html",
        {
            "doc": doc,
            "tlp": TLP(doc.tlp),
            "owner_org": queries.org_refs(db, [doc.owner_org_id]).get(doc.owner_org_id),
            "author": queries.user_emails(db, [doc.created_by_id or ""]).get(doc.created_by_id or "")
            if principal.org_id == doc.owner_org_id
            else None,
            "recipients": recipients,
            **object_timeline(db, principal, doc.id, labels=EVENT_LABELS),
            "is_owner": owner,
            "may_pass_on": may_pass_on,
            "my_constituents": queries.constituents(db, principal.org_id or "") if may_pass_on else [],
            "shared_org_ids": {o.id for o in recipients.organisations},
            "edit": edit
            or FormState(values={"title": doc.title, "body": doc.body, "kind": doc.kind, "version": doc.version}),
            "share": share or FormState(values=current),
            "pass_on": pass_on or FormState(),
            **(_sharing_choices(db) if owner else {}),
        },
        status=status,
    )


@router.get("/documents/{document_id}", response_class=HTMLResponse)
def document_page(*, doc: PageDocument, request: Request, db: DB, principal: PagePrincipal) -> Response:
    return _document_page(request, db, principal, doc)


@router.post("/documents/{document_id}/edit")
def edit_document(
    *,
    doc: PageDocument,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    version: Annotated[int, Form(ge=1)] = 0,
    title: Annotated[str, Form(max_length=300)] = "",
    kind: Annotated[str, Form(max_length=32)] = "other",
    body: Annotated[str, Form(max_length=200_000)] = "",
) -> Response:
    values = {"title": title, "kind": kind, "body": body, "version": version}
    try:
        if not title.strip():
            raise bad("title", "the document needs a title")
        service.update_document(
            db,
            actor=principal,
            doc=doc,
            version=version,
            changes={"title": title.strip(), "kind": kind, "body": body},
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        form = FormState.failed(exc, values)
        if isinstance(exc, Conflict):
            form = FormState(
                values=values,
                message="Someone changed this document since you opened it. "
                "Reload the page to see their version, then make your edit again.",
            )
        return _document_page(request, db, principal, doc, edit=form, status=exc.status)
    return see_other(f"/documents/{doc.id}")


@router.post("/documents/{document_id}/sharing")
def share_document(
    *,
    doc: PageDocument,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    tlp: Annotated[str, Form(max_length=20)] = "",
    communities: Names = None,
    organisations: Names = None,
    users: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:
    values = {
        "tlp": tlp,
        "communities": communities or [],
        "organisations": organisations or [],
        "users": users,
    }
    try:
        service.set_document_sharing(
            db,
            actor=principal,
            doc=doc,
            tlp=tlp,
            share_with=share_with(organisations, communities, users),
        )
    except InvalidInput as exc:
        db.rollback()
        return _document_page(request, db, principal, doc, share=FormState.failed(exc, values), status=422)
    return see_other(f"/documents/{doc.id}")


@router.post("/documents/{document_id}/pass-on")
def pass_on_document(
    *,
    doc: PageDocument,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    organisations: Names = None,
) -> Response:
    try:
        service.pass_on_document(db, actor=principal, doc=doc, organisations=organisations or [])
    except InvalidInput as exc:
        db.rollback()
        form = FormState.failed(exc, {"organisations": organisations or []})
        return _document_page(request, db, principal, doc, pass_on=form, status=422)
    return see_other(f"/documents/{doc.id}")
