"""Notification routes API: an organisation's administrators say where its notifications go."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.notify import routes
from cybercrisis.notify.models import NotificationRoute
from cybercrisis.notify.schemas import RouteCreated, RouteIn, RouteOut

router = APIRouter(prefix="/api/v1/notification-routes", tags=["notifications"])


def route_out(r: NotificationRoute) -> RouteOut:
    return RouteOut(
        id=r.id,
        organisation=r.org_id,
        events=r.events,
        channel=r.channel,
        target=r.target,
        pgp=bool(r.pgp_public_key),
        created=r.created_at,
    )


@router.get("", operation_id="list_notification_routes", response_model=list[RouteOut])
def list_routes(
    db: DB, principal: CurrentPrincipal, organisation: Annotated[str | None, Query(max_length=120)] = None
) -> list[RouteOut]:
    return [route_out(r) for r in routes.list_routes(db, actor=principal, org_id=organisation)]


@router.post("", status_code=201, operation_id="create_notification_route", response_model=RouteCreated)
def create_route(body: RouteIn, request: Request, db: DB, principal: CurrentPrincipal) -> RouteCreated:
    route, secret = routes.create_route(
        db,
        actor=principal,
        org_id=body.organisation,
        events=body.events,
        channel=body.channel,
        target=body.target,
        secret=body.secret,
        pgp_public_key=body.pgp_public_key,
        settings=request.app.state.settings,
    )
    return RouteCreated(**route_out(route).model_dump(), secret=secret)


@router.delete("/{route_id}", status_code=204, operation_id="delete_notification_route")
def delete_route(route_id: int, db: DB, principal: CurrentPrincipal) -> Response:
    routes.delete_route(db, actor=principal, route_id=route_id)
    return Response(status_code=204)
