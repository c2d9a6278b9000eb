"""Bad input that used to break things for everyone (issue 12, finding 9): a lone surrogate ("\\ud800") in a TAXII
object made its collection, the object store and the signer fail with 500 until someone deleted it; 100,000-deep
JSON on the import endpoints was a 500. Now every door refuses it (naming the field, writing nothing), a peer's
object with such text is rejected alone, and a bad row stored before (or around the doors) is skipped, not fatal."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.exchange import node, peer_client
from cybercrisis.exchange.models import StixObject, TaxiiStatus
from cybercrisis.exchange.signer import sign_pending
from tests.conftest import Actor, World, count
from tests.exchange.test_stix_import import bundle, indicator
from tests.exchange.test_store_federated import peer_node, receive, signed
from tests.exchange.test_taxii import COMMUNITY, ingest
from tests.exchange.test_taxii_errors import TAXII, error, objects_url, post

__all__ = ["peer_node"]  # a fixture used here


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_body_bytes": 1_048_576})  # the default: room for 100,000 brackets


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=(COMMUNITY,))
    world.org("CERT-Bund", country="DE", communities=(COMMUNITY,))
    return {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund")}


def written(db: Session) -> tuple[int, int, int]:
    return count(db, StixObject), count(db, TaxiiStatus), count(db, AuditEvent)


def everyone_reads(client: TestClient, cast: dict[str, Actor], *, store: bool = True) -> list[str]:
    """The collection (and the store) answer every member; the ids in the collection."""
    for actor in cast.values():
        page = client.get(objects_url(), headers={**actor.headers, "Accept": TAXII["Accept"]})
        assert page.status_code == 200, page.text
        assert not store or client.get("/api/v1/stix-objects", headers=actor.headers).status_code == 200
    return [o["id"] for o in page.json().get("objects", [])]


def test_a_taxii_envelope_with_one_lone_surrogate_is_refused_naming_it_and_the_collection_keeps_working(
    client: TestClient, cast: dict[str, Actor], db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    fr = cast["fr"]
    before = written(db)
    good, bad = indicator(), indicator(name="C2 \ud800 address")
    body = error(post(client, fr, {"objects": [good, bad]}), 422)
    assert body["details"]["errors"] == [
        {
            "field": "objects[1].name",
            "message": "is not valid Unicode: a lone surrogate (U+D800) at character 3; send UTF-8 text",
        }
    ]
    keyed = dict(indicator(), **{"x_\udfff": 1})
    body = error(post(client, fr, {"objects": [keyed]}), 422)
    assert body["details"]["errors"][0]["field"] == "objects[0].x_\\udfff"
    assert written(db) == before
    # The collection, the store and the signer go on for everyone.
    assert post(client, fr, {"objects": [good]}).status_code == 202
    assert everyone_reads(client, cast) == [good["id"]]
    assert sign_pending(session_factory, settings) == 1


def test_100000_deep_json_is_a_4xx_on_the_taxii_post_and_the_import(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    before = written(db)
    deep = '{"objects": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    body = error(post(client, cast["fr"], deep), 422)
    assert body["details"]["errors"] == [{"field": "body", "message": "is nested deeper than 64 levels"}]
    r = client.post("/api/v1/import/stix", content=deep, headers={**cast["fr"].headers, "Content-Type": "text/plain"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"
    assert written(db) == before


def test_the_import_api_refuses_a_bundle_with_invalid_text_whatever_its_media_type(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    raw = json.dumps(bundle(indicator(), indicator(description="\udc80")))
    for media in ("text/plain", "application/json"):
        r = client.post("/api/v1/import/stix", content=raw, headers={**cast["fr"].headers, "Content-Type": media})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "objects[1].description"
    assert count(db, StixObject) == 0


def test_cli_import_of_a_file_with_a_lone_surrogate_fails_clearly_and_stores_nothing(
    run: Any, cast: dict[str, Actor], db: Session, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bundle(indicator(), indicator(name="x\ud800"))))
    proc = run("import", "stix", str(path), "--as", cast["fr"].email, ok=False)
    assert proc.returncode == 1
    assert "objects[1].name: is not valid Unicode: a lone surrogate (U+D800)" in " ".join(proc.stderr.split())
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    proc = run("import", "stix", str(deep), "--as", cast["fr"].email, ok=False)
    assert proc.returncode == 1 and "nested deeper than 64 levels" in proc.stderr
    assert count(db, StixObject) == 0
    # A file name that is not UTF-8 (Linux allows any bytes) is recorded escaped, not a crash at the insert.
    odd = tmp_path / os.fsdecode(b"feed-\xff.json")
    odd.write_text(json.dumps(bundle(indicator())))
    run("import", "stix", str(odd), "--as", cast["fr"].email)
    db.rollback()
    assert db.scalars(select(StixObject.origin)).one() == "file:feed-\\udcff.json"


def test_a_peers_object_with_invalid_text_is_rejected_alone_with_the_reason(
    session_factory: sessionmaker[Session],
    settings: Settings,
    db: Session,
    cast: dict[str, Actor],
    peer_node: node.Node,
) -> None:
    fr = cast["fr"].org_id
    fine = signed(peer_node, indicator(), fr)
    text = {**signed(peer_node, indicator(), fr), "name": "x\ud800"}
    ident = {**signed(peer_node, indicator(), fr), "id": "indicator--\udc00"}  # even its id cannot be reported as is
    deep: Any = "x"
    for _ in range(100):
        deep = [deep]
    nested = {**signed(peer_node, indicator(), fr), "x_deep": deep}
    result = receive(session_factory, settings, [fine, text, ident, nested], peer_node)
    assert result.imported == 1
    reasons = {r.index: (r.id, r.reason) for r in result.rejected}
    assert sorted(reasons) == [1, 2, 3]
    assert reasons[1] == (
        text["id"],
        "name: is not valid Unicode: a lone surrogate (U+D800) at character 1; send UTF-8 text",
    )
    assert reasons[2][0] == "indicator--\\udc00" and reasons[2][1].startswith("id: is not valid Unicode")
    assert "nested deeper than 64 levels" in reasons[3][1]
    assert [r.id for r in db.scalars(select(StixObject))] == [fine["id"]]
    event = db.scalars(select(AuditEvent).where(AuditEvent.tag == "exchange:peer:receive")).one()
    summary = event.summary if isinstance(event.summary, dict) else json.loads(event.summary)
    assert "indicator--\\udc00" in [r["id"] for r in summary["first_rejections"]]  # the id, escaped


def _bad_row(factory: sessionmaker[Session], actor: Actor, **over: Any) -> dict[str, Any]:
    """A version holding a lone surrogate, written around the doors (as before these checks)."""
    obj = indicator(name="stored \ud800 before")
    with unit_of_work(factory) as s:
        values = {
            "id": obj["id"],
            "modified": utcnow(),
            "type": "indicator",
            "spec_version": "2.1",
            "data": obj,
            "tlp": "green",
            "owner_org_id": actor.org_id,
            "origin": "test",
            "share_id": obj["id"],
            "added_at": utcnow(),
            "latest": True,
            "signed": False,
            "custom": False,
            "revoked": False,
            "exercise": False,
        }
        s.execute(insert(StixObject.__table__), [values | over])  # type: ignore[arg-type]
    return obj


def test_a_bad_row_already_stored_is_skipped_by_taxii_and_the_signer_not_a_500_for_everyone(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    db: Session,
) -> None:
    before, after = indicator(), indicator()
    ingest(session_factory, cast["fr"], [before], communities=[COMMUNITY])
    bad = _bad_row(session_factory, cast["fr"])
    ingest(session_factory, cast["fr"], [after], communities=[COMMUNITY])
    from cybercrisis.access.models import Share

    with unit_of_work(session_factory) as s:
        s.add(Share(object_id=bad["id"], kind="community", target=COMMUNITY, added_by_org_id=cast["fr"].org_id))
    # TAXII serves the others (the bad one cannot be signed: it is left out and logged), to every member.
    assert everyone_reads(client, cast, store=False) == [before["id"], after["id"]]
    # The signer signs the others and returns, leaving the bad one for the repair (migration 0008).
    assert sign_pending(session_factory, settings, budget_seconds=5) == 2
    assert sign_pending(session_factory, settings, budget_seconds=5) == 0
    db.rollback()
    assert db.scalars(select(StixObject.signed).where(StixObject.id == bad["id"])).one() is False
    # A peer's version is served as received: its text goes out with U+FFFD rather than failing the page.
    peer = _bad_row(
        session_factory, cast["fr"], origin_node="identity--peer", signed=True, signature={"node": "identity--peer"}
    )
    with unit_of_work(session_factory) as s:
        s.add(Share(object_id=peer["id"], kind="community", target=COMMUNITY, added_by_org_id=cast["fr"].org_id))
    page = client.get(objects_url(), headers={**cast["de"].headers, "Accept": TAXII["Accept"]})
    assert page.status_code == 200
    names = {o["id"]: o["name"] for o in page.json()["objects"]}
    assert names[peer["id"]] == "stored \ufffd before"


class _Discovery:
    """A connection that answers every GET with one discovery document, as taxii2-client reads it."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def get(self, url: str, headers: Any = None, params: Any = None) -> dict[str, Any]:
        return self.body

    def close(self) -> None:
        """Nothing to release: the answer is held in memory."""


def test_a_peer_discovery_holding_invalid_text_is_refused_before_anything_of_it_is_kept() -> None:
    """Its title, node id and relayed keys are stored and served again in our own discovery."""
    body = {
        "title": "Node",
        "api_roots": ["https://peer.example/taxii2/cybercrisis/"],
        "x_cybercrisis_node": {"id": "identity--x", "peers": {"identity--\udc00": {}}},
    }
    with pytest.raises(
        peer_client.PeerError, match=r"x_cybercrisis_node\.peers\.identity--\\udc00 the property name is not"
    ):
        peer_client.discover(_Discovery(body), "https://peer.example/taxii2/")
    with pytest.raises(peer_client.PeerError, match="discovery: title is not valid Unicode"):
        peer_client.discover(_Discovery({**body, "title": "Node \ud800"}), "https://peer.example/taxii2/")


def test_a_second_content_type_does_not_take_a_body_round_the_check(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    """Found in review: the door read the last Content-Type, the route the first, so a text/plain second header let
    an object with a lone surrogate into the store (and then every read of it failed)."""
    fr = cast["fr"]
    before = written(db)
    raw = json.dumps({"objects": [indicator(name="C2 \ud800 address")]}).encode()
    headers = [(k.encode(), v.encode()) for k, v in {**fr.headers, **TAXII}.items()] + [
        (b"content-type", b"text/plain")
    ]
    r = client.post(objects_url(), content=raw, headers=headers)
    assert r.status_code in (400, 422), r.text
    assert written(db) == before
    assert everyone_reads(client, cast) == []
