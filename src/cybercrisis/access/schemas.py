from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ShareWith(BaseModel):
    """Recipients of an object: organisation ids, community slugs, user ids or e-mail addresses."""

    model_config = ConfigDict(extra="forbid")

    organisations: list[str] = Field(default_factory=list, max_length=500)
    communities: list[str] = Field(default_factory=list, max_length=50)
    users: list[str] = Field(default_factory=list, max_length=500)


class SharingIn(BaseModel):
    """A new marking and the whole new list of recipients of an object (they replace the old ones)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"tlp": "amber", "share_with": {"communities": ["csirts-network"]}}]},
    )

    tlp: str = Field(
        max_length=20,
        description="TLP 2.0: clear, green, amber, amber+strict or red (also written TLP:AMBER+STRICT)",
        examples=["amber"],
    )
    share_with: ShareWith = Field(
        description="the whole new list of recipients (required: an empty list, `{}`, leaves the originator alone)"
    )


class ShareList(BaseModel):
    organisations: list[str]
    communities: list[str]
    users: list[str]
