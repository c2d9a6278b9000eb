"""Shared API shapes."""

from __future__ import annotations

from datetime import datetime

from fastapi import Response
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


def json_body(model: BaseModel) -> Response:
    """The model as a JSON response, serialised once, here.

    FastAPI passes a returned `Response` through untouched: a sync route then neither validates its model a second
    time nor takes one more trip through the thread pool to do it (issue 14). The route keeps its `response_model`,
    which documents the body in OpenAPI.
    """
    return Response(model.model_dump_json(), media_type="application/json")
