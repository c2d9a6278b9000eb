"""Situational awareness API: the deployment's scale, the live picture and live events.

National contributions are in `contributions_api.py`, EU situation reports in `sitreps_api.py`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from cybercrisis.access.principal import Principal
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.deps import DB, CurrentPrincipal, optional_principal
from cybercrisis.errors import InvalidInput, NotAuthenticated
from cybercrisis.situation import contributions

router = APIRouter(prefix="/api/v1", tags=["situation"])


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


# --- the scale ----------------------------------------------------------------------------------------------


@router.get("/situation/scale", operation_id="situation_scale")
def situation_scale(principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    """The deployment's own status scale (least to most severe), and the other values a contribution takes."""
    from cybercrisis import taxonomies

    return {
        "status": contributions.scale_of(_settings(request)),
        "note": "This scale is the deployment's own; the EU publishes no official alert scale.",
        "outlook": taxonomies.predicate_values("nis", "impact-outlook"),
        "impact": taxonomies.predicate_values("nis", "impact-severity"),
        "sectors": taxonomies.nis2_sectors(),
        "contribution_window_days": _settings(request).contribution_window_days,
    }


# --- the live picture and its events ----------------------------------------------------------------------------


@router.get(
    "/situation",
    operation_id="get_situation",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "the live picture"}},
)
def get_situation(db: DB, principal: CurrentPrincipal, request: Request) -> Response:
    """The current picture as this reader may see it: per Member State (keyed by country code), heat map, open
    incidents by severity and class, overdue NIS2 reports, early warnings awaiting acknowledgement, timeline."""
    body: bytes = request.app.state.picture_cache.json(db, principal, _settings(request))
    return Response(body, media_type="application/json", headers={"Cache-Control": "private, no-store"})


@router.get(
    "/events",
    operation_id="stream_events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def stream_events(request: Request) -> StreamingResponse:
    """Server-sent events of changes the reader may see: `id` is the audit sequence number, so a client that
    reconnects with `Last-Event-ID` gets exactly what it missed. Bearer token or the UI session cookie."""
    factory = request.app.state.sessionmaker

    def resolve() -> Principal | None:
        with unit_of_work(factory, write=False) as session:
            try:
                p = optional_principal(request, session)
            except NotAuthenticated:
                return None
            return p if p.is_authenticated else None

    reader = await run_in_threadpool(resolve)
    if reader is None:
        raise NotAuthenticated("sign in, or send an API token as 'Authorization: Bearer <token>'")
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    last: int | None = None
    if raw:
        try:
            last = int(raw)
        except ValueError:
            raise InvalidInput(
                "Last-Event-ID is the number of the last event received",
                errors=[{"field": "Last-Event-ID", "message": "not a number"}],
            ) from None

    async def revalidate() -> Principal | None:
        return await run_in_threadpool(resolve)

    hub = request.app.state.event_hub
    body = hub.stream(reader, last_event_id=last, revalidate=revalidate, is_disconnected=request.is_disconnected)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)
