from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ShareWith(BaseModel):
    """Recipients of an object: organisation ids, community slugs, user ids or e-mail addresses."""

    model_config = ConfigDict(extra="forbid")

    organisations: list[str] = Field(default_factory=list, max_length=500)
    communities: list[str] = Field(default_factory=list, max_length=50)
    users: list[str] = Field(default_factory=list, max_length=500)


class ShareList(BaseModel):
    organisations: list[str]
    communities: list[str]
    users: list[str]
