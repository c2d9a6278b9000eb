from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cybercrisis.directory.schemas import OrganisationOut
from cybercrisis.schemas import Strict


class MeOut(BaseModel):
    id: str
    email: str
    display_name: str
    organisation: OrganisationOut
    roles: list[str]
    permissions: list[str]


class UserOut(BaseModel):
    id: str
    email: str
    display_name: str
    organisation: str
    roles: list[str]
    is_active: bool


class UserCreated(UserOut):
    password: str | None = Field(default=None, description="Only when generated; shown once")


class UserIn(Strict):
    email: str = Field(min_length=3, max_length=320)
    organisation: str | None = Field(default=None, description="id or short name; default: your organisation")
    roles: list[str] = Field(min_length=1, max_length=5)
    display_name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, min_length=12, max_length=200)


class UserPatch(Strict):
    roles: list[str] | None = Field(default=None, min_length=1, max_length=5)
    is_active: bool | None = None


class TokenIn(Strict):
    user: str | None = Field(
        default=None,
        description="your own user id or e-mail (the default); a token is created by its own user only, so any other "
        "user is refused with 403 (the server operator uses `cybercrisis token create --user`)",
    )
    name: str = Field(default="", max_length=200)
    scopes: list[str] | None = Field(
        default=None,
        max_length=60,
        description="permissions the token may use, `scope:resource:action` as listed by GET /api/v1/me; at most "
        "those of the credential that creates it and of your roles (the default). They bound reads too: without "
        "a domain's read scope (e.g. `incidents:incident:read`) the token reads only TLP:CLEAR there.",
        examples=[["incidents:incident:read", "exchange:object:read"]],
    )
    expires_days: int = Field(default=90, ge=1, le=3650)


class TokenOut(BaseModel):
    id: str
    user: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="Shown once; store it now")
