from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith, SharingIn
from cybercrisis.schemas import Strict


class DocumentIn(Strict):
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=200_000)
    kind: str = "other"
    tlp: str
    share_with: ShareWith = Field(default_factory=ShareWith)


class DocumentSharingIn(SharingIn):
    """As for every object, with one difference kept from the first version of this API: a document's list may be
    left out, which leaves it with its originator alone."""

    share_with: ShareWith = Field(default_factory=ShareWith)


class DocumentPatch(Strict):
    version: int = Field(description="The version you read; a newer one in the database gives 409")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = Field(default=None, max_length=200_000)
    kind: str | None = None


class PassOnIn(Strict):
    organisations: list[str] = Field(min_length=1, max_length=200)


class DocumentOut(BaseModel):
    id: str
    type: str = "document"
    title: str
    kind: str
    body: str
    tlp: str
    owner: str
    created_by: str | None
    created: datetime
    modified: datetime
    version: int
    share_with: ShareList


class DocumentSummary(BaseModel):
    id: str
    title: str
    kind: str
    tlp: str
    owner: str
    created: datetime
    modified: datetime


class DocumentPage(BaseModel):
    items: list[DocumentSummary]
    next: str | None
