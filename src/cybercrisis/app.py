"""create_app(): routers, static files, error handlers, middleware."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cybercrisis import __version__, dispatch, wiring
from cybercrisis.accounts import security
from cybercrisis.config import Settings, get_settings
from cybercrisis.db import make_engine, make_sessionmaker
from cybercrisis.errors import DomainError
from cybercrisis.hygiene import InputHygiene
from cybercrisis.middleware import BodySizeLimit, ClientAddress, ConcurrencyLimit, Probes, RequestContext

log = logging.getLogger("cybercrisis")
HERE = Path(__file__).parent
PROBLEM = "application/problem+json"


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/taxii2/", "/healthz", "/readyz")) and (
        "text/html" in request.headers.get("accept", "")
    )


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """RFC 9457 problem details for the API; an error page for the browser."""
    if _wants_html(request):
        from cybercrisis.web.render import error_page

        return error_page(request, status=status, title=title, detail=detail, headers=headers)
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    rid = request.scope.get("state", {}).get("request_id")
    if rid:
        body["request_id"] = rid
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _refusal(scope: Scope, status: int, title: str, detail: str, errors: list[dict[str, str]]) -> Response:
    """InputHygiene's refusals in the shape of the door: a TAXII error under /taxii2/, else problem details."""
    if scope["path"].startswith("/taxii2/"):
        from cybercrisis.exchange.taxii_api import taxii_error

        return taxii_error(status, detail, title=title, details=errors)
    return problem(Request(scope), status, title, detail, errors)


class CatchAll:
    """Turn an unhandled error into a logged 500, without re-raising it (which would drop the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            # The client went away while we read its body (e.g. a load generator stopping): nobody to answer.
            log.info("client disconnected before its request body was read: %s", scope.get("path"))
        except Exception:
            request = Request(scope)
            log.exception("unhandled error on %s", request.url.path)
            if started:
                raise
            response = problem(request, 500, "Internal error", "the request failed; the error was logged")
            await response(scope, receive, send)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        from cybercrisis.web.pagedeps import LoginRequired, login_redirect

        if isinstance(exc, LoginRequired):
            return login_redirect(exc.detail)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(request, exc.status, exc.title, exc.detail, exc.errors, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(request, 400, "Malformed JSON", "the request body is not valid JSON", errors)
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors[:5])
        return problem(request, 422, "Invalid input", detail, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed"}
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        return problem(request, exc.status_code, titles.get(exc.status_code, "Error"), detail)

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> Response:
        return problem(request, 409, "Conflict", "the object changed while you edited it: reload and try again")

    @app.exception_handler(SATimeoutError)
    async def _pool(request: Request, exc: SATimeoutError) -> Response:
        log.warning("no database connection free for %s", request.url.path)
        return problem(
            request,
            503,
            "Service unavailable",
            "the service is overloaded; retry shortly",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> Response:
        log.warning("database error on %s: %s", request.url.path, exc.__class__.__name__, exc_info=exc)
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            return problem(
                request,
                503,
                "Service unavailable",
                "the database is unreachable; retry shortly",
                headers={"Retry-After": "5"},
            )
        return problem(request, 500, "Internal error", "the request failed; the error was logged")


def _start(settings: Settings, *, check_schema: bool) -> Engine:
    """Checks that stop the start with their reason, and the engine."""
    from cybercrisis import datadir
    from cybercrisis.crises.escalation import model_for

    datadir.prepare(settings.data_dir)  # private (0700/0600) before anything is written there
    security.configure(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)
    model_for(settings)  # a broken escalation model stops here, not at the first escalation
    engine = make_engine(settings.effective_database_url, pool_size=settings.db_pool_size)
    if check_schema:
        from cybercrisis.migrate import check_schema as _check

        _check(engine)
        from cybercrisis import secretbox

        # With this server's own key, which is the one that must open them (see secretbox).
        secretbox.seal_stored(make_sessionmaker(engine), settings)
    return engine


def _state(app: FastAPI, settings: Settings, engine: Engine) -> None:
    """What requests share in this process: settings, the database, the event hub, the caches."""
    from sqlalchemy import event

    from cybercrisis.cache import ChangeFeed
    from cybercrisis.crises.room_cache import RoomCache
    from cybercrisis.db import side_engine
    from cybercrisis.situation.changes import describe
    from cybercrisis.situation.events import EventHub
    from cybercrisis.situation.picture import PictureCache
    from cybercrisis.web.badge import AlertBadge

    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.secret_key = settings.effective_secret_key()
    # The hub and the caches' change feed read on pools of their own: requests holding every connection of theirs
    # never keep them waiting.
    events = make_sessionmaker(side_engine(engine, "events", pool_size=4))
    app.state.event_hub = EventHub(events, poll_seconds=settings.events_poll_seconds)
    feed = ChangeFeed(make_sessionmaker(side_engine(engine, "changes", pool_size=1)), describe)
    event.listen(engine, "engine_disposed", lambda _engine: feed.close())  # its LISTEN thread ends with the app
    app.state.changes = feed
    app.state.picture_cache = PictureCache(feed)
    app.state.room_cache = RoomCache(feed)
    app.state.alert_badge = AlertBadge(feed)


def _routers() -> tuple[APIRouter, ...]:
    """Every domain's routers, in the order their routes are matched."""
    from cybercrisis.accounts.api import router as accounts_router
    from cybercrisis.accounts.views import router as account_pages
    from cybercrisis.accounts.views import sign_in_router
    from cybercrisis.accounts.views_admin import router as admin_pages
    from cybercrisis.alerts.api import router as alerts_router
    from cybercrisis.alerts.views import router as alert_pages
    from cybercrisis.assistance.api import router as assistance_router
    from cybercrisis.assistance.capabilities_api import router as capabilities_router
    from cybercrisis.assistance.views import router as assistance_pages
    from cybercrisis.audit.api import router as audit_router
    from cybercrisis.comms.api import router as comms_router
    from cybercrisis.comms.views import router as comms_pages
    from cybercrisis.comms.views_communication import router as communication_pages
    from cybercrisis.comms.views_public import router as public_router
    from cybercrisis.crises.api import router as crises_router
    from cybercrisis.crises.assessment_api import router as assessments_router
    from cybercrisis.crises.views import router as crisis_pages
    from cybercrisis.directory.api import router as directory_router
    from cybercrisis.directory.views import router as directory_pages
    from cybercrisis.documents.api import router as documents_router
    from cybercrisis.documents.views import router as document_pages
    from cybercrisis.exchange.answers_api import router as answers_router
    from cybercrisis.exchange.misp_api import router as misp_router
    from cybercrisis.exchange.stix_api import router as stix_router
    from cybercrisis.exchange.store_api import router as stix_store_router
    from cybercrisis.exchange.taxii_api import router as taxii_router
    from cybercrisis.handoffs.api import router as handoffs_router
    from cybercrisis.handoffs.views import router as handoff_pages
    from cybercrisis.handoffs.views_handoff import router as one_handoff_pages
    from cybercrisis.incidents.api import router as incidents_router
    from cybercrisis.incidents.flows_api import router as nis2_flows_router  # before incidents: /incidents/to-inform
    from cybercrisis.incidents.views import router as incident_pages  # before views_incident: /incidents/new
    from cybercrisis.incidents.views_edit import router as incident_edit_pages
    from cybercrisis.incidents.views_incident import router as one_incident_pages
    from cybercrisis.notify.routes_api import router as routes_router
    from cybercrisis.search.api import router as search_router
    from cybercrisis.search.views import router as search_pages
    from cybercrisis.situation.api import router as situation_router
    from cybercrisis.situation.contributions_api import router as contributions_router
    from cybercrisis.situation.sitreps_api import router as sitreps_router
    from cybercrisis.situation.views import router as situation_pages
    from cybercrisis.situation.views_contributions import router as contribution_pages
    from cybercrisis.situation.views_sitreps import router as sitrep_pages
    from cybercrisis.work.api import router as work_router
    from cybercrisis.work.views import router as work_pages

    return (
        accounts_router,
        sign_in_router,
        account_pages,
        admin_pages,
        directory_router,
        directory_pages,
        documents_router,
        document_pages,
        nis2_flows_router,
        incidents_router,
        incident_pages,
        one_incident_pages,
        incident_edit_pages,
        alerts_router,
        alert_pages,
        routes_router,
        audit_router,
        contributions_router,
        sitreps_router,
        situation_router,
        situation_pages,
        contribution_pages,
        sitrep_pages,
        crises_router,
        crisis_pages,
        assistance_router,
        capabilities_router,
        assistance_pages,
        comms_router,
        comms_pages,
        communication_pages,
        handoffs_router,
        handoff_pages,  # before one_handoff_pages: /handoffs/new is not an id
        one_handoff_pages,
        public_router,
        answers_router,
        stix_router,
        misp_router,
        stix_store_router,
        taxii_router,
        assessments_router,
        work_router,
        work_pages,
        search_router,
        search_pages,
    )


@functools.cache
def _included_routes() -> tuple[BaseRoute, ...]:
    """The domain routers as included in an app, built once per process.

    FastAPI builds an included route's dependencies, body and response fields (pydantic adapters for every
    parameter) at the first request of each app that includes it: about 0.6 s of CPU for our ~250 routes. A server
    creates one app, but the test suite creates one per test, and that build was two thirds of its CPU. The
    inclusions hold nothing of an app (routes read `request.app.state`), so every app shares them. They are
    included into a router of FastAPI's defaults, as `app.include_router` would with the app's, except that
    `app.dependency_overrides` does not reach them: nothing here overrides a dependency.
    """
    table = APIRouter()
    for router in _routers():
        table.include_router(router)
    return tuple(table.routes)


def create_app(settings: Settings | None = None, *, check_schema: bool = True) -> FastAPI:
    settings = settings or get_settings()
    wiring.install()
    engine = _start(settings, check_schema=check_schema)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from cybercrisis import jobs

        with jobs.background(app.state.sessionmaker, settings):
            # The event hub starts with the first live stream: a process nobody watches reads nothing.
            try:
                yield
            finally:
                await app.state.event_hub.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="cybercrisis",
        version=__version__,
        summary="Coordinated response to large-scale cybersecurity incidents and crises",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    _state(app, settings, engine)

    _install_error_handlers(app)

    # Included once per process and shared by every app it creates (see `_included_routes`).
    app.router.routes.extend(_included_routes())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz", operation_id="healthz", tags=["system"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    def ready() -> bool:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError):
            return False
        return True

    @app.get("/readyz", operation_id="readyz", tags=["system"], response_model=None)
    def readyz(request: Request) -> Response | dict[str, str]:
        """The database answers."""
        if not ready():
            return problem(
                request,
                503,
                "Service unavailable",
                "the database is unreachable",
                headers={"Retry-After": "5"},
            )
        return {"status": "ready"}

    app.add_middleware(CatchAll)
    app.add_middleware(ConcurrencyLimit, limit=settings.db_pool_size)
    # Inside the body limit, outside the concurrency limit: bodies are read and checked before a slot is taken.
    app.add_middleware(InputHygiene, refuse=_refusal, form_max_bytes=settings.max_body_bytes)
    # Evidence files for law enforcement may be larger than any other body (a form's overhead on top).
    # TAXII envelopes up to the advertised max_content_length (checked again, with a TAXII error body, by the route).
    larger = (
        (re.compile(r"^(/api/v1)?/handoffs/[^/]+/files$"), settings.evidence_max_bytes + 65536),
        (re.compile(r"^/taxii2/"), settings.taxii_max_content_length + 65536),
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, larger=larger)
    app.add_middleware(RequestContext)
    # Outermost: every layer below, login throttling and the audit trail included, sees the real client.
    app.add_middleware(ClientAddress, trusted=settings.trusted_proxy_networks)
    # Before all of them: the health checks need none (what they would add, Probes adds itself).
    app.add_middleware(Probes, ready=ready)
    dispatch.install(app)
    return app
