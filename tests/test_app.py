"""Application-wide behaviour: problem+json errors, limits, OpenAPI, health, schema check."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.config import Settings
from cybercrisis.documents.models import Document
from cybercrisis.errors import SchemaOutOfDate
from tests.conftest import Actor, World, count


@pytest.fixture
def analyst(world: World) -> Actor:
    world.org("CERT-AA", country="AT", communities=("csirts-network",))
    return world.user("CERT-AA", roles=("analyst",))


def test_me_returns_the_token_owner_and_their_organisation(client: TestClient, analyst: Actor) -> None:
    body = client.get("/api/v1/me", headers=analyst.headers).json()
    assert body["email"] == analyst.email
    assert body["organisation"]["short_name"] == "CERT-AA"
    assert body["organisation"]["country"] == "AT"
    assert body["roles"] == ["analyst"]


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        (b'{"title": "x", "tlp": ', 400, "Malformed JSON"),
        (b'{"title": "x", "tlp": "green", "colour": "blue"}', 422, "Invalid input"),
        (b'{"title": 42, "tlp": "green"}', 422, "Invalid input"),
        (b'{"tlp": "green"}', 422, "Invalid input"),
        (b'{"title": "x", "tlp": "green", "share_with": {"organisations": "all"}}', 422, "Invalid input"),
        (b"[]", 422, "Invalid input"),
    ],
)
def test_bad_bodies_get_problem_json_and_change_nothing(
    client: TestClient, analyst: Actor, db: Session, body: bytes, status: int, title: str
) -> None:
    r = client.post("/api/v1/documents", content=body, headers={**analyst.headers, "content-type": "application/json"})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["title"] == title
    assert problem["status"] == status
    assert problem["detail"]
    assert "Traceback" not in r.text
    assert count(db, Document) == 0


def test_oversize_body_is_refused_with_413(client: TestClient, analyst: Actor, settings: Settings) -> None:
    big = b'{"title": "x", "tlp": "green", "body": "' + b"a" * settings.max_body_bytes + b'"}'
    r = client.post("/api/v1/documents", content=big, headers={**analyst.headers, "content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["title"] == "Request body too large"


def test_evidence_uploads_alone_may_exceed_the_body_limit(settings: Settings, analyst: Actor) -> None:
    from cybercrisis.app import create_app

    settings.evidence_max_bytes = 4 * settings.max_body_bytes
    app = create_app(settings)
    body = b"x" * (2 * settings.max_body_bytes)
    with TestClient(app) as c:
        elsewhere = c.post("/api/v1/documents", content=body, headers=analyst.headers)
        upload = c.post("/api/v1/handoffs/handoff--x/files", content=body, headers=analyst.headers)
        too_big = c.post("/api/v1/handoffs/handoff--x/files", content=body * 3, headers=analyst.headers)
    app.state.engine.dispose()
    assert elsewhere.status_code == 413
    assert upload.status_code != 413  # through to the route, which judges the file itself
    assert too_big.status_code == 413 and str(settings.evidence_max_bytes + 65536) in too_big.json()["detail"]


def test_unknown_route_and_method_are_problem_json(client: TestClient, analyst: Actor) -> None:
    r = client.get("/api/v1/nothing-here", headers=analyst.headers)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = client.put("/api/v1/me", headers=analyst.headers)
    assert r.status_code == 405


def test_unhandled_errors_never_reach_the_client(
    client: TestClient, analyst: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cybercrisis.documents import service

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail at /srv/cybercrisis")

    monkeypatch.setattr(service, "list_documents", explode)
    r = client.get("/api/v1/documents", headers=analyst.headers)
    assert r.status_code == 500
    assert r.json()["detail"] == "the request failed; the error was logged"
    assert r.json()["request_id"]
    assert "secret" not in r.text
    assert "Traceback" not in r.text


def test_request_id_is_echoed_and_security_headers_are_set(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    forged = client.get("/healthz", headers={"X-Request-ID": "<script>"})
    assert forged.headers["x-request-id"] != "<script>"


def test_openapi_is_3_1_with_stable_operation_ids(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "list_organisations",
        "get_organisation",
        "create_document",
        "get_document",
        "list_documents",
        "get_me",
        "create_token",
        "verify_audit_chain",
        "healthz",
        "readyz",
    } <= ops


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_service_refuses_an_out_of_date_schema_and_names_the_fix(tmp_path: object) -> None:
    from pathlib import Path

    from cybercrisis.app import create_app

    settings = Settings(
        data_dir=Path(str(tmp_path)) / "d", database_url=f"sqlite:///{tmp_path}/empty.db", secret_key="k" * 40
    )
    with pytest.raises(SchemaOutOfDate, match="cybercrisis db upgrade"):
        create_app(settings)


def test_a_client_leaving_while_its_body_is_read_is_no_server_error(
    app: object, analyst: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    """A load generator stopping mid-request (wrk does) used to be logged as an unhandled error with a traceback."""
    import asyncio
    import logging

    from cybercrisis.exchange import taxii

    path = f"/taxii2/cybercrisis/collections/{taxii.collection_id('community', 'csirts-network')}/objects/"
    headers = [(b"content-type", b"application/taxii+json;version=2.1"), (b"content-length", b"100000")]
    headers += [(k.lower().encode(), v.encode()) for k, v in analyst.headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent: list[dict[str, object]] = []
    first = True

    async def receive() -> dict[str, object]:
        nonlocal first
        if first:  # part of the body, then the client is gone
            first = False
            return {"type": "http.request", "body": b'{"objects": [', "more_body": True}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO):
        asyncio.run(app(scope, receive, send))  # type: ignore[operator]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)
    assert not any(m.get("status") == 500 for m in sent)
