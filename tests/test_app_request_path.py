"""The way in: health checks before the stack, routing by path prefix, credentials in one query, checked before
SQLite's write lock, and what every page needs in at most two SELECTs."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from cybercrisis import deps, dispatch
from cybercrisis.accounts.models import ApiToken
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.documents.models import Document
from cybercrisis.middleware import Probes
from tests.conftest import World
from tests.web.conftest import HTML, csrf_on, sign_in


@contextmanager
def selects(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(app.state.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(app.state.engine, "before_cursor_execute", before)


# --- routing -----------------------------------------------------------------------------------------------------


def _toy_app() -> FastAPI:
    """Routers with prefixes, nesting, overlapping paths declared in both orders, a mount: FastAPI's hard cases."""
    app = FastAPI()
    items = APIRouter(prefix="/api/v1/items")

    @items.get("/{item_id}")
    def one(item_id: str) -> str:
        return f"one {item_id}"

    @items.get("/special")  # declared after the parameter: FastAPI never reaches it for GET
    def special() -> str:
        return "special"

    @items.post("/special")
    def post_special() -> str:
        return "posted special"

    pages = APIRouter()
    section = APIRouter()

    @section.get("/reports/new")
    def new_report() -> str:
        return "new report"

    @section.get("/reports/{report_id}")
    def report(report_id: str) -> str:
        return f"report {report_id}"

    pages.include_router(section)

    @pages.get("/")
    def home() -> str:
        return "home"

    app.include_router(items)
    app.include_router(pages)

    @app.get("/{anything:path}/catch")
    def catch(anything: str) -> str:
        return f"caught {anything}"

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    async def static(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse(f"static {scope['path']}")(scope, receive, send)

    app.mount("/static", static)
    return app


REQUESTS = [
    ("GET", "/api/v1/items/7"),
    ("GET", "/api/v1/items/special"),
    ("POST", "/api/v1/items/special"),
    ("DELETE", "/api/v1/items/7"),  # 405
    ("GET", "/api/v1/items/7/"),  # redirect to the path without its slash
    ("GET", "/api/v1/items"),  # 404
    ("GET", "/reports/new"),
    ("GET", "/reports/42"),
    ("GET", "/"),
    ("GET", "/a/b/c/catch"),
    ("GET", "/healthz"),
    ("GET", "/static/app.css"),
    ("GET", "/nowhere"),
]


def test_prefix_dispatch_answers_every_request_as_fastapi_does() -> None:
    plain, indexed = _toy_app(), _toy_app()
    dispatch.install(indexed)
    assert isinstance(indexed.router.middleware_stack, dispatch.PrefixDispatch)
    with TestClient(plain) as a, TestClient(indexed) as b:
        for method, path in REQUESTS:
            expected = a.request(method, path, follow_redirects=False)
            got = b.request(method, path, follow_redirects=False)
            assert (got.status_code, got.text, got.headers.get("location")) == (
                expected.status_code,
                expected.text,
                expected.headers.get("location"),
            ), (method, path)


def _sample(path_format: str) -> str:
    return re.sub(r"\{[^}:]+:path\}", "a/b", re.sub(r"\{[^}:]+\}", "x1", path_format))


def test_the_index_of_a_shared_inclusion_follows_routes_added_to_its_router_later() -> None:
    """An inclusion's flattened routes are kept with it (apps of one process share them) and made again when its
    router's routes change, as FastAPI rebuilds the inclusion itself."""
    items = APIRouter(prefix="/x")

    @items.get("/{item}")
    def generic(item: str) -> str:
        return f"generic {item}"

    first = FastAPI()
    first.include_router(items)
    dispatch.install(first)
    with TestClient(first) as c:
        assert c.get("/x/special").json() == "generic special"

    late = APIRouter(prefix="/x")

    @late.get("/special")
    def special() -> str:
        return "special"

    items.include_router(late)  # after the first request; declared first in a new app below
    second = FastAPI()
    second.router.routes.extend(first.router.routes)  # the same inclusion, as app._included_routes shares them
    dispatch.install(second)
    with TestClient(second) as c:
        assert c.get("/x/special").json() == "generic special"  # FastAPI's order: the parameter route came first
        assert c.get("/x/other").json() == "generic other"
    shared = [r for r in second.router.routes if hasattr(r, "original_router")]
    assert [e.route.path for _k, e in dispatch._entries(shared)] == ["/x/{item}", "/x/special"]


def test_every_route_of_the_app_is_indexed_and_found_first_where_fastapi_finds_it(app: FastAPI) -> None:
    entries = [entry for _key, entry in dispatch._entries(app.router.routes)]
    assert all(entry.handle is not None for entry in entries), "a route the index cannot dispatch: all go slow"
    index = dispatch.build_index(app.router.routes)
    router = dispatch.PrefixDispatch(app.router)
    router._index = index
    for entry in entries:
        path = _sample(getattr(entry.route, "path_format", ""))
        for method in sorted(getattr(entry.route, "methods", None) or {"GET"}):
            scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}

            def first_full(candidates: tuple[dispatch._Entry, ...], scope: Scope = scope) -> object:
                return next((e.route for e in candidates if e.matches(dict(scope))[0] is Match.FULL), None)

            assert first_full(router.candidates(path)) is first_full(tuple(entries)), (method, path)


def test_two_apps_of_one_process_share_the_routes_and_each_answers_from_its_own_database(
    app: FastAPI, client: TestClient, world: World, settings: Settings, sqlite_template: object, tmp_path: Path
) -> None:
    """The domain routers are included once per process (app._included_routes); what a route reads still comes
    from the app that received the request."""
    from cybercrisis.app import create_app

    world.org("CERT-AA", country="AT")
    reader = world.user("CERT-AA")
    other_db = tmp_path / "other.db"
    shutil.copyfile(str(sqlite_template), other_db)
    elsewhere = {"database_url": f"sqlite:///{other_db}", "data_dir": tmp_path / "o"}
    other = create_app(settings.model_copy(update=elsewhere))
    try:
        shared = [r for r in other.router.routes if hasattr(r, "include_context")]
        assert shared and all(any(r is mine for mine in app.router.routes) for r in shared)
        with TestClient(other, raise_server_exceptions=False) as other_client:
            path = f"/api/v1/organisations/{reader.org_id}"
            assert client.get(path, headers=reader.headers).json()["id"] == reader.org_id
            # The other node has neither the organisation nor the token.
            assert other_client.get(path, headers=reader.headers).status_code == 401
            assert client.get(path, headers=reader.headers).status_code == 200
    finally:
        other.state.engine.dispose()


# --- health checks -------------------------------------------------------------------------------------------------


async def _broken(scope: Scope, receive: Receive, send: Send) -> None:
    assert scope["type"] != "http", "the health check went down the stack"


def test_health_checks_are_answered_before_the_stack_with_its_headers() -> None:
    client = TestClient(Probes(_broken, ready=lambda: True))  # no lifespan: the probe needs no start-up
    r = client.get("/healthz", headers={"X-Request-ID": "probe-1"})
    assert r.json() == {"status": "ok"}
    assert r.headers["x-request-id"] == "probe-1"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.head("/healthz").content == b""


def test_a_failed_readiness_check_goes_to_its_route_for_the_503() -> None:
    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        await PlainTextResponse("down", status_code=503)(scope, receive, send)

    assert TestClient(Probes(route, ready=lambda: False)).get("/readyz").status_code == 503


def test_health_checks_stay_in_the_openapi(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert paths["/healthz"]["get"]["operationId"] == "healthz"
    assert paths["/readyz"]["get"]["operationId"] == "readyz"


# --- credentials -------------------------------------------------------------------------------------------------


def test_a_bearer_read_of_one_organisation_takes_a_bounded_number_of_selects(
    app: FastAPI, client: TestClient, world: World
) -> None:
    world.org("HUB", country="BE", communities=("csirts-network", "eu-cyclone"))
    reader = world.user("HUB")
    with selects(app) as statements:
        assert client.get(f"/api/v1/organisations/{reader.org_id}", headers=reader.headers).status_code == 200
    credentials = [s for s in statements if "api_tokens" in s]
    assert len(credentials) == 1  # the token, its user and the communities in one SELECT
    assert len(statements) <= 8, statements


def test_page_chrome_takes_at_most_two_selects(app: FastAPI, client: TestClient, world: World) -> None:
    world.org("CERT-XF", country="FR", communities=("csirts-network", "eu-cyclone"))
    fr = world.user("CERT-XF", roles=("org-admin",))
    assert sign_in(client, fr.email).status_code == 303
    with selects(app) as statements:
        page = client.get("/account/tokens", headers=HTML)
    assert page.status_code == 200
    assert "CERT-XF" in page.text  # the organisation's name in the navigation
    content = [s for s in statements if "FROM api_tokens" in s]  # the page's own list
    chrome = [s for s in statements if s not in content]
    assert len(chrome) <= 2, chrome  # the session with user, organisation and communities; the alert badge
    assert len(content) == 1, content


def test_a_signed_out_session_stops_working_at_once(client: TestClient, world: World) -> None:
    world.org("CERT-XF", country="FR")
    fr = world.user("CERT-XF")
    assert sign_in(client, fr.email).status_code == 303
    csrf = csrf_on(client, "/account/tokens")
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    again = client.get("/account/tokens", headers=HTML, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


@pytest.fixture
def sqlite_path(settings: Settings) -> str:
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        pytest.skip("the whole-database write lock is SQLite's; PostgreSQL writers lock rows and never queue for it")
    return url.database


def test_bad_credentials_are_refused_while_another_writer_holds_the_lock(
    client: TestClient, world: World, sqlite_path: str
) -> None:
    world.org("CERT-AA", country="AT")
    writer = sqlite3.connect(sqlite_path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another transaction holds the write lock
        r = client.post(
            "/api/v1/documents", json={"title": "t", "tlp": "green"}, headers={"Authorization": "Bearer nope"}
        )
        # Had the request asked for the lock first it would have waited for it (busy timeout), then failed with 503.
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_an_unknown_route_reads_no_credentials(app: FastAPI, client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    reader = world.user("CERT-AA")
    with selects(app) as statements:
        assert client.get("/api/v1/nothing-here", headers=reader.headers).status_code == 404
    assert statements == []


def test_the_request_reaches_its_route_with_its_path_parameters(client: TestClient, world: World) -> None:
    world.org("CERT-AA", country="AT")
    reader = world.user("CERT-AA")
    body = client.get(f"/api/v1/organisations/{reader.org_id}", headers=reader.headers).json()
    assert body["id"] == reader.org_id


def test_a_token_revoked_while_its_write_waited_for_the_lock_does_not_write(
    client: TestClient, world: World, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    world.org("CERT-AA", country="AT")
    analyst = world.user("CERT-AA", roles=("analyst",))
    original = deps.begin_write

    def revoked_meanwhile(session: Session) -> None:
        # What another request does while this one waits for the write lock: revoke the token it came with.
        with unit_of_work(session_factory) as other:
            token = other.scalars(select(ApiToken).where(ApiToken.user_id == analyst.user_id)).one()
            token.revoked_at = utcnow()
        original(session)

    monkeypatch.setattr(deps, "begin_write", revoked_meanwhile)
    r = client.post("/api/v1/documents", json={"title": "t", "tlp": "green"}, headers=analyst.headers)
    assert r.status_code == 401, r.text
    monkeypatch.undo()
    with session_factory() as s:
        assert s.scalars(select(Document).where(Document.title == "t")).first() is None
