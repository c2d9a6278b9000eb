"""Input hygiene at the HTTP door: JSON holding text that is not valid Unicode, NUL, or nesting past the bound is a
422 naming the field before any route runs (nothing written, nothing audited); so is NUL in the path or query."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.exchange.models import StixObject
from cybercrisis.incidents.models import Incident
from tests.conftest import Actor, World, count
from tests.exchange.test_stix_export import incident_body


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": 1_048_576})  # the default: room for 100,000 brackets


@pytest.fixture
def fr(world: World) -> Actor:
    world.org("CERT-FR", country="FR")
    return world.user("CERT-FR")


def written(db: Session) -> tuple[int, int, int]:
    return count(db, Incident), count(db, StixObject), count(db, AuditEvent)


def post_raw(
    client: TestClient, actor: Actor, path: str, raw: str | bytes, media: str = "application/json"
) -> dict[str, Any]:
    r = client.post(path, content=raw, headers={**actor.headers, "Content-Type": media})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()  # type: ignore[no-any-return]


def test_a_lone_surrogate_in_a_value_or_a_key_is_refused_naming_it_and_nothing_is_written(
    client: TestClient, fr: Actor, db: Session
) -> None:
    before = written(db)
    body = post_raw(client, fr, "/api/v1/incidents", json.dumps(incident_body(title="Wiper \ud800")))
    assert body["errors"] == [
        {"field": "title", "message": "is not valid Unicode: a lone surrogate (U+D800) at character 6; send UTF-8 text"}
    ]
    keyed = incident_body()
    keyed["facts"] = {"users_affected": 1, "x\udc00": 2}
    body = post_raw(client, fr, "/api/v1/incidents", json.dumps(keyed))
    assert body["errors"][0]["field"] == "facts.x\\udc00" and "the property name" in body["detail"]
    # The same bytes as UTF-8-encoded surrogates, which json.loads also accepts ("surrogatepass").
    raw = json.dumps(incident_body(description="a\ud800"), ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert post_raw(client, fr, "/api/v1/incidents", raw)["errors"][0]["field"] == "description"
    assert written(db) == before


def test_nul_in_json_text_is_refused_before_the_database_sees_it(client: TestClient, fr: Actor, db: Session) -> None:
    """PostgreSQL refuses NUL in text (a 500 before); SQLite stored it."""
    before = written(db)
    body = post_raw(client, fr, "/api/v1/incidents", json.dumps(incident_body(title="a\x00b")))
    assert body["errors"] == [{"field": "title", "message": "contains NUL (U+0000) at character 1, which is not text"}]
    assert written(db) == before
    # Other control characters are JSON's to carry (escaped again on the way out).
    r = client.post("/api/v1/incidents", json=incident_body(title="tab\there"), headers=fr.headers)
    assert r.status_code == 201 and r.json()["title"] == "tab\there"


def test_json_nested_100000_deep_is_a_422_naming_the_body_not_a_500(client: TestClient, fr: Actor, db: Session) -> None:
    before = written(db)
    deep = "[" * 100_000 + "]" * 100_000
    for path, media in (
        ("/api/v1/incidents", "application/json"),
        ("/api/v1/import/stix", "application/json"),
        ("/api/v1/import/stix", "application/stix+json;version=2.1"),
    ):
        body = post_raw(client, fr, path, deep, media)
        assert body["errors"] == [{"field": "body", "message": "is nested deeper than 64 levels"}], path
    # The import reads the body whatever its media type: its own parser refuses the same way.
    body = post_raw(client, fr, "/api/v1/import/stix", deep, "text/plain")
    assert body["errors"][0]["field"] == "body" and "nested deeper than 64" in body["detail"]
    # 65 levels are refused with the path of the 65th; real bodies are far shallower.
    nested: object = 1
    for _ in range(64):
        nested = {"x": nested}
    body = post_raw(client, fr, "/api/v1/incidents", json.dumps(incident_body(facts=nested)))
    assert body["errors"][0]["field"] == "facts" + ".x" * 63
    assert written(db) == before


def test_nul_in_the_path_or_the_query_is_refused(client: TestClient, fr: Actor) -> None:
    r = client.get("/api/v1/incidents/incident--x%00", headers=fr.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "path"
    r = client.get("/api/v1/incidents", params={"q": "a\x00"}, headers=fr.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "q"
    assert client.get("/api/v1/incidents", params={"q": "a"}, headers=fr.headers).status_code == 200
