from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.directory.models import MembershipRole
from cybercrisis.schemas import Strict

ROLE_DESCRIPTION = (
    "member: takes part and decides; observer: reads, does not decide (e.g. the Commission, NIS2 Art. 15(2), "
    "16(2)); secretariat: supports, reads, does not decide (ENISA, NIS2 Art. 15(2), 16(2)); invited-observer: "
    "a stakeholder invited to observe (NIS2 Art. 16(2), third subparagraph). Every role reads what the community "
    "reads."
)


class MembershipOut(BaseModel):
    community: str = Field(examples=["eu-cyclone"])
    role: MembershipRole = Field(description=ROLE_DESCRIPTION, examples=["observer"])


class MembershipRoleIn(Strict):
    role: MembershipRole = Field(description=ROLE_DESCRIPTION, examples=["observer"])


class CommunityMemberOut(BaseModel):
    organisation: str = Field(description="the organisation's id (identity--<uuid>)")
    short_name: str
    type: str
    country: str | None
    role: MembershipRole = Field(description=ROLE_DESCRIPTION)


class OrganisationOut(BaseModel):
    id: str
    name: str
    short_name: str
    type: str
    country: str | None
    levels: list[str]
    communities: list[str] = Field(description="every community the organisation reads as, whatever its role")
    memberships: list[MembershipOut] = Field(default_factory=list, description="each community with the role held")
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
    roles: dict[str, MembershipRole] | None = Field(
        default=None,
        description="role per community listed in `communities`; a community not named here is `member`. "
        + ROLE_DESCRIPTION,
        examples=[{"eu-cyclone": "observer"}],
    )
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
    roles: dict[str, MembershipRole] | None = Field(
        default=None,
        description="role per community listed in `communities`; a community not named here is `member`. "
        + ROLE_DESCRIPTION,
        examples=[{"eu-cyclone": "observer"}],
    )
    parent_id: str | None = None
    website: str | None = Field(default=None, max_length=300)
    description: str | None = Field(default=None, max_length=5000)


class CommunityOut(BaseModel):
    slug: str
    name: str
    level: str
    description: str
    basis: str = Field(default="", description="where the community's membership roles come from (article, paragraph)")


class ContactIn(Strict):
    organisation: str
    kind: str
    label: str = Field(min_length=1, max_length=200)
    value: str = Field(min_length=1, max_length=500)
    pgp_fingerprint: str | None = Field(default=None, max_length=60)
    tlp: str = "green"
    share_with: ShareWith = Field(default_factory=ShareWith)
