from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.schemas import Strict


class OrganisationOut(BaseModel):
    id: str
    name: str
    short_name: str
    type: str
    country: str | None
    levels: list[str]
    communities: list[str]
    parent_id: str | None
    website: str
    description: str
    modified_at: datetime


class ContactOut(BaseModel):
    id: str
    organisation: str
    kind: str
    label: str
    value: str
    pgp_fingerprint: str | None
    tlp: str
    share_with: ShareList | None = None


class OrganisationDetail(OrganisationOut):
    contacts: list[ContactOut]
    constituents: list[OrganisationOut]


class OrganisationPage(BaseModel):
    items: list[OrganisationOut]
    next: str | None


class OrganisationIn(Strict):
    id: str | None = Field(default=None, description="identity--<uuid>; generated when absent")
    name: str = Field(min_length=2, max_length=300)
    short_name: str = Field(min_length=2, max_length=80)
    type: str
    country: str | None = Field(default=None, max_length=2)
    levels: list[str] = Field(default_factory=list, max_length=3)
    communities: list[str] = Field(default_factory=list, max_length=20)
    parent_id: str | None = None
    website: str = Field(default="", max_length=300)
    description: str = Field(default="", max_length=5000)


class OrganisationPatch(Strict):
    name: str | None = Field(default=None, min_length=2, max_length=300)
    short_name: str | None = Field(default=None, min_length=2, max_length=80)
    type: str | None = None
    country: str | None = Field(default=None, max_length=2)
    levels: list[str] | None = Field(default=None, max_length=3)
    communities: list[str] | None = Field(default=None, max_length=20)
    parent_id: str | None = None
    website: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=5000)


class CommunityOut(BaseModel):
    slug: str
    name: str
    level: str
    description: str


class ContactIn(Strict):
    organisation: str
    kind: str
    label: str = Field(min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=500)
    pgp_fingerprint: str | None = Field(default=None, max_length=60)
    tlp: str = "green"
    share_with: ShareWith = Field(default_factory=ShareWith)
