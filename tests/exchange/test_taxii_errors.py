"""TAXII error messages and codes (400, 401, 403, 404, 405, 406, 413, 415, 422) with the TAXII media type, bad
input that writes nothing, defined collections (types, read-only), and paging cost that does not grow with the
collection."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import taxii
from cybercrisis.exchange.models import StixObject, TaxiiStatus
from tests.conftest import Actor, World, count
from tests.exchange.test_stix_import import T0, indicator
from tests.exchange.test_taxii import COMMUNITY, community_id, ingest
from tests.test_query_counts import count_queries

ROOT = "/taxii2/cybercrisis"
TAXII = {"Accept": "application/taxii+json;version=2.1", "Content-Type": "application/taxii+json;version=2.1"}


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=(COMMUNITY,))
    world.org("CERT-Bund", country="DE", communities=(COMMUNITY,))
    world.org("Outsider", country="IT")
    return {
        "fr": world.user("CERT-FR"),
        "viewer": world.user("CERT-FR", roles=("viewer",)),
        "de": world.user("CERT-Bund"),
        "out": world.user("Outsider"),
    }


def error(r: Any, status: int) -> dict[str, Any]:
    """The TAXII error message of a response, checked."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/taxii+json;version=2.1"
    body: dict[str, Any] = r.json()
    assert body["http_status"] == str(status) and body["title"] and body["description"]
    return body


def objects_url(cid: str | None = None) -> str:
    return f"{ROOT}/collections/{cid or community_id()}/objects/"


def post(client: TestClient, actor: Actor, body: Any, *, cid: str | None = None, **headers: str) -> Any:
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(objects_url(cid), content=raw, headers={**actor.headers, **TAXII, **headers})


def test_unauthenticated_requests_get_401_with_a_basic_challenge(client: TestClient, cast: dict[str, Actor]) -> None:
    for url in ("/taxii2/", f"{ROOT}/", f"{ROOT}/collections/", objects_url()):
        body = error(client.get(url), 401)
        assert "Authorization" in body["description"]
    r = client.get("/taxii2/", headers={"Authorization": "Bearer nope"})
    error(r, 401)
    assert r.headers["www-authenticate"] == 'Basic realm="cybercrisis"'
    fr = cast["fr"]
    wrong = base64.b64encode(f"{cast['de'].email}:{fr.token}".encode()).decode()  # someone else's token
    error(client.get("/taxii2/", headers={"Authorization": f"Basic {wrong}"}), 401)
    right = base64.b64encode(f"{fr.email}:{fr.token}".encode()).decode()
    assert client.get("/taxii2/", headers={"Authorization": f"Basic {right}"}).status_code == 200


def test_404_for_unknown_or_invisible_collections_objects_statuses_and_paths(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    fr, out = cast["fr"], cast["out"]
    error(client.get(f"{ROOT}/collections/{uuid.uuid4()}/", headers=fr.headers), 404)
    error(client.get(f"{ROOT}/collections/not-a-uuid/objects/", headers=fr.headers), 404)
    error(client.get(f"{ROOT}/collections/{community_id()}/", headers=out.headers), 404)  # not a member
    error(client.get(objects_url() + f"indicator--{uuid.uuid4()}/", headers=fr.headers), 404)
    error(client.get(objects_url() + f"indicator--{uuid.uuid4()}/versions/", headers=fr.headers), 404)
    error(client.get(f"{ROOT}/status/{uuid.uuid4()}/", headers=fr.headers), 404)
    error(client.get(f"{ROOT}/nowhere/", headers=fr.headers), 404)
    error(client.get("/taxii2/other-root/", headers=fr.headers), 404)
    body = error(client.put(objects_url(), headers=fr.headers), 405)
    assert "PUT" in body["description"]


def test_406_when_accept_excludes_taxii_json(client: TestClient, cast: dict[str, Actor]) -> None:
    h = cast["fr"].headers
    for accept in ("application/json", "text/html", "application/taxii+json;version=2.0", "application/stix+json"):
        error(client.get("/taxii2/", headers={**h, "Accept": accept}), 406)
    for accept in (
        "application/taxii+json;version=2.1",
        "application/taxii+json",
        "*/*",
        "application/*",
        "text/html, application/taxii+json;q=0.9",
    ):
        r = client.get("/taxii2/", headers={**h, "Accept": accept})
        assert r.status_code == 200 and r.headers["content-type"] == "application/taxii+json;version=2.1"


def test_400_for_bad_filters(client: TestClient, cast: dict[str, Actor]) -> None:
    h = cast["fr"].headers
    bad = [
        {"limit": "0"},
        {"limit": "ten"},
        {"added_after": "yesterday"},
        {"added_after": "2026-11-28T09:00:00"},
        {"match[version]": "newest"},
        {"next": "garbage"},
    ]
    for params in bad:
        body = error(client.get(objects_url(), params=params, headers=h), 400)
        assert next(iter(params)) in body["description"]


def test_bad_posts_are_refused_with_their_code_and_write_nothing(
    client: TestClient, app: FastAPI, settings: Settings, db: Session, cast: dict[str, Actor]
) -> None:
    fr = cast["fr"]
    good = {"objects": [indicator()]}
    error(post(client, fr, good, **{"Content-Type": "application/json"}), 415)
    error(post(client, fr, good, **{"Content-Type": "application/taxii+json;version=2.0"}), 415)
    error(
        post(
            client,
            fr,
            "{not json",
        ),
        422,
    )
    error(post(client, fr, [indicator()]), 422)
    error(post(client, fr, {"objects": {"type": "indicator"}}), 422)
    body = error(post(client, fr, {"objects": [indicator(spec_version="2.0")]}), 422)  # not STIX 2.1: refused whole
    assert "2.0" in body["description"]
    error(post(client, cast["viewer"], good), 403)  # no exchange:object:import
    error(post(client, cast["out"], good), 404)  # not a member of the community
    assert count(db, StixObject) == count(db, TaxiiStatus) == 0
    assert count(db, AuditEvent, AuditEvent.tag.like("exchange:%")) == 0
    # 413 over max_content_length, with a TAXII body.
    from cybercrisis.app import create_app

    small = create_app(settings.model_copy(update={"taxii_max_content_length": 2048}))
    try:
        with TestClient(small) as c:
            big = {"objects": [indicator(description="x" * 3000)]}
            body = error(post(c, fr, big), 413)
            assert "2048" in body["description"]
            assert post(c, fr, good).status_code == 202
    finally:
        small.state.engine.dispose()
    assert count(db, StixObject) == 1


def test_defined_collections_filter_types_and_can_be_read_only(
    client: TestClient, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    fr = cast["fr"]
    with unit_of_work(session_factory) as s:
        indicators = taxii.add_collection(
            s,
            actor=None,
            title="Indicators",
            kind="community",
            target=COMMUNITY,
            types=["indicator"],
            description="IoCs only",
        )
        feed = taxii.add_collection(s, actor=None, title="Feed", kind="organisation", target="CERT-FR", can_write=False)
    ident = {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid4()}",
        "created": T0,
        "modified": T0,
        "name": "x",
        "identity_class": "organization",
    }
    ind = indicator()
    r = post(client, fr, {"objects": [ind, ident]}, cid=indicators.id)
    assert r.status_code == 202, r.text
    status = r.json()
    assert (status["success_count"], status["failure_count"]) == (1, 1)
    assert "not accepted" in status["failures"][0]["message"]
    ingest(session_factory, fr, [ident], communities=[COMMUNITY])
    listed = client.get(objects_url(indicators.id), headers=cast["de"].headers).json()
    assert [o["id"] for o in listed["objects"]] == [ind["id"]]  # the identity is shared too, but not an indicator
    seen = {c["id"]: c for c in client.get(f"{ROOT}/collections/", headers=fr.headers).json()["collections"]}
    assert seen[feed.id]["can_write"] is False and seen[indicators.id]["can_write"] is True
    assert feed.id not in {
        c["id"] for c in client.get(f"{ROOT}/collections/", headers=cast["de"].headers).json()["collections"]
    }
    error(post(client, fr, {"objects": [indicator()]}, cid=feed.id), 403)
    assert count(db, AuditEvent, AuditEvent.tag == "exchange:collection:create") == 2


def test_a_page_costs_the_same_number_of_queries_whatever_the_collection_size(
    app: FastAPI, client: TestClient, session_factory: sessionmaker[Session], cast: dict[str, Actor]
) -> None:
    fr, de = cast["fr"], cast["de"]

    def cost(url: str, **params: Any) -> tuple[int, dict[str, Any]]:
        with count_queries(app) as statements:
            r = client.get(url, params=params, headers=de.headers)
        assert r.status_code == 200, r.text
        return len(statements), r.json()

    ingest(session_factory, fr, [indicator() for _ in range(30)], communities=[COMMUNITY])
    small, _ = cost(objects_url(), limit=20)
    small_manifest, _ = cost(f"{ROOT}/collections/{community_id()}/manifest/", limit=20)
    for _ in range(4):
        ingest(session_factory, fr, [indicator() for _ in range(100)], communities=[COMMUNITY])
    large, first = cost(objects_url(), limit=20)
    assert large == small
    assert cost(f"{ROOT}/collections/{community_id()}/manifest/", limit=20)[0] == small_manifest
    nxt, page = cost(objects_url(), limit=20, next=first["next"])
    assert nxt == small and len(page["objects"]) == 20
    # added_after adds one statement, the index probe that turns T into a seq bound, whatever the size.
    assert cost(objects_url(), limit=20, added_after="2000-01-01T00:00:00Z")[0] == small + 1
