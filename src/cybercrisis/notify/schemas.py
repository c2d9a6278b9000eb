from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cybercrisis.schemas import Strict


class RouteIn(Strict):
    events: list[str] = Field(min_length=1, max_length=50, description="fnmatch patterns, e.g. alerts:*")
    channel: Literal["email", "webhook"]
    target: str = Field(min_length=3, max_length=1000, description="an e-mail address or an http(s) URL")
    secret: str | None = Field(
        default=None, max_length=200, description="webhook signing secret; generated when absent and shown once"
    )
    pgp_public_key: str | None = Field(default=None, max_length=100_000, description="e-mail only: encrypt to it")
    organisation: str | None = Field(default=None, max_length=120, description="default: your own")


class RouteOut(BaseModel):
    id: int
    organisation: str
    events: list[str]
    channel: str
    target: str
    pgp: bool
    created: datetime


class RouteCreated(RouteOut):
    secret: str | None = Field(description="the webhook signing secret; this is the only time it is shown")
