"""Documents API. Reads of objects the reader may not see answer 404, never 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from cybercrisis.access import sharing
from cybercrisis.audit import service as audit
from cybercrisis.audit.reading import timeline_out
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.documents import service
from cybercrisis.documents.deps import CurrentDocument
from cybercrisis.documents.models import Document
from cybercrisis.documents.schemas import (
    DocumentIn,
    DocumentOut,
    DocumentPage,
    DocumentPatch,
    DocumentSharingIn,
    DocumentSummary,
    PassOnIn,
)
from cybercrisis.schemas import TimelineEntry

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])


def document_out(db: DB, d: Document) -> DocumentOut:
    return DocumentOut(
        id=d.id,
        title=d.title,
        kind=d.kind,
        body=d.body,
        tlp=d.tlp,
        owner=d.owner_org_id,
        created_by=d.created_by_id,
        created=d.created_at,
        modified=d.modified_at,
        version=d.version,
        share_with=sharing.share_list(sharing.shares_of(db, d.id)),
    )


@router.post("", status_code=201, operation_id="create_document", response_model=DocumentOut)
def create_document(body: DocumentIn, db: DB, principal: CurrentPrincipal) -> DocumentOut:
    doc = service.create_document(
        db,
        actor=principal,
        title=body.title,
        body=body.body,
        kind=body.kind,
        tlp=body.tlp,
        share_with=body.share_with,
    )
    return document_out(db, doc)


@router.get("", operation_id="list_documents", response_model=DocumentPage)
def list_documents(
    db: DB,
    principal: CurrentPrincipal,
    organisation: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DocumentPage:
    filters = service.DocumentFilter(organisation=organisation, q=q)
    page = service.list_documents(db, principal=principal, filters=filters, cursor=cursor, limit=limit)
    return DocumentPage(
        items=[
            DocumentSummary(
                id=d.id,
                title=d.title,
                kind=d.kind,
                tlp=d.tlp,
                owner=d.owner_org_id,
                created=d.created_at,
                modified=d.modified_at,
            )
            for d in page.items
        ],
        next=page.next,
    )


@router.get("/{document_id}", operation_id="get_document", response_model=DocumentOut)
def get_document(doc: CurrentDocument, db: DB) -> DocumentOut:
    return document_out(db, doc)


@router.patch("/{document_id}", operation_id="update_document", response_model=DocumentOut)
def update_document(doc: CurrentDocument, body: DocumentPatch, db: DB, principal: CurrentPrincipal) -> DocumentOut:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    service.update_document(
        db,
        actor=principal,
        doc=doc,
        version=body.version,
        changes={k: v for k, v in changes.items() if v is not None},
    )
    return document_out(db, doc)


@router.put("/{document_id}/sharing", operation_id="set_document_sharing", response_model=DocumentOut)
def set_sharing(doc: CurrentDocument, body: DocumentSharingIn, db: DB, principal: CurrentPrincipal) -> DocumentOut:
    service.set_document_sharing(db, actor=principal, doc=doc, tlp=body.tlp, share_with=body.share_with)
    return document_out(db, doc)


@router.post("/{document_id}/pass-on", operation_id="pass_on_document")
def pass_on(doc: CurrentDocument, body: PassOnIn, db: DB, principal: CurrentPrincipal) -> dict[str, list[str]]:
    added = service.pass_on_document(db, actor=principal, doc=doc, organisations=body.organisations)
    return {"added": added}


@router.delete("/{document_id}", status_code=204, operation_id="delete_document")
def delete_document(doc: CurrentDocument, db: DB, principal: CurrentPrincipal) -> Response:
    service.delete_document(db, actor=principal, doc=doc)
    return Response(status_code=204)


@router.get("/{document_id}/timeline", operation_id="document_timeline", response_model=list[TimelineEntry])
def document_timeline(doc: CurrentDocument, db: DB, principal: CurrentPrincipal) -> list[TimelineEntry]:
    return [timeline_out(e) for e in audit.timeline(db, reader=principal, object_id=doc.id)]
