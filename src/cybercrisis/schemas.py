"""Shared API shapes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TimelineEntry(BaseModel):
    seq: int
    at: datetime
    tag: str
    actor_user_id: str | None
    actor_org_id: str | None
    summary: dict[str, object]
