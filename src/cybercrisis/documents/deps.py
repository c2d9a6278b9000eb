"""`CurrentDocument`: the document of the path, loaded once through the read policy (404 when unreadable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.documents.models import Document
from cybercrisis.documents.service import get_document
from cybercrisis.web.pagedeps import PagePrincipal


def current_document(document_id: str, db: DB, principal: CurrentPrincipal) -> Document:
    return get_document(db, principal=principal, document_id=document_id)


def page_document(document_id: str, db: DB, principal: PagePrincipal) -> Document:
    """The same for a page: a reader who is not signed in is sent to the login page first."""
    return get_document(db, principal=principal, document_id=document_id)


CurrentDocument = Annotated[Document, Depends(current_document)]
PageDocument = Annotated[Document, Depends(page_document)]
