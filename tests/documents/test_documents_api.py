"""Documents through the API: TLP enforcement on every read path, sharing rules, editing, audit."""

from __future__ import annotations

import itertools

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.audit.models import AuditEvent
from cybercrisis.documents.models import Document
from tests.conftest import Actor, World, count


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    """FR and DE CSIRTs in the CSIRTs Network, an FR entity in CERT-FR's constituency, an outsider."""
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("FR-Entity", type_="entity", country="FR", parent="CERT-FR")
    world.org("Outsider", type_="partner", country=None)
    return {
        "fr": world.user("CERT-FR", roles=("analyst",)),
        "fr2": world.user("CERT-FR", roles=("analyst",)),
        "de": world.user("CERT-Bund", roles=("analyst",)),
        "entity": world.user("FR-Entity", roles=("analyst",)),
        "out": world.user("Outsider", roles=("platform-admin",)),
        "orgs": world.orgs,  # type: ignore[dict-item]
    }


def _create(client: TestClient, actor: Actor, **body: object) -> dict[str, object]:
    r = client.post("/api/v1/documents", json={"title": "t", "body": "b", **body}, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _visible(client: TestClient, actor: Actor) -> set[str]:
    r = client.get("/api/v1/documents?limit=200", headers=actor.headers)
    assert r.status_code == 200
    return {d["id"] for d in r.json()["items"]}


def test_created_document_has_a_stix_style_id_and_its_marking(client: TestClient, cast: dict[str, Actor]) -> None:
    doc = _create(client, cast["fr"], tlp="amber", share_with={"organisations": [cast["de"].org_id]})
    assert str(doc["id"]).startswith("document--")
    assert doc["tlp"] == "amber"
    assert doc["share_with"]["organisations"] == [cast["de"].org_id]  # type: ignore[index]


@pytest.mark.parametrize(
    ("tlp", "share", "readers"),
    [
        ("clear", {}, {"fr", "fr2", "de", "entity", "out"}),
        ("green", {}, {"fr", "fr2", "de"}),  # default: the owner's communities
        ("amber", {"organisations": ["CERT-Bund"]}, {"fr", "fr2", "de"}),
        ("amber", {"communities": ["csirts-network"]}, {"fr", "fr2", "de"}),
        ("amber+strict", {"organisations": ["CERT-Bund"]}, {"fr", "fr2", "de"}),
        ("amber+strict", {}, {"fr", "fr2"}),
        ("red", {"users": ["de"]}, {"fr", "de"}),  # the author and the named user, not the author's colleague
    ],
)
def test_each_tlp_reaches_exactly_its_audience_on_get_and_list(
    client: TestClient, cast: dict[str, Actor], tlp: str, share: dict[str, list[str]], readers: set[str]
) -> None:
    orgs: dict[str, str] = cast["orgs"]  # type: ignore[assignment]
    share_with = {
        "organisations": [orgs[o] for o in share.get("organisations", [])],
        "communities": share.get("communities", []),
        "users": [cast[u].email for u in share.get("users", [])],
    }
    doc = _create(client, cast["fr"], tlp=tlp, share_with=share_with)
    for name in ("fr", "fr2", "de", "entity", "out"):
        actor = cast[name]
        r = client.get(f"/api/v1/documents/{doc['id']}", headers=actor.headers)
        assert r.status_code == (200 if name in readers else 404), (name, r.text)
        assert (doc["id"] in _visible(client, actor)) == (name in readers), name
    anonymous = client.get(f"/api/v1/documents/{doc['id']}")
    assert anonymous.status_code == 401


def test_invisible_document_answers_404_like_a_missing_one(client: TestClient, cast: dict[str, Actor]) -> None:
    doc = _create(client, cast["fr"], tlp="red")
    hidden = client.get(f"/api/v1/documents/{doc['id']}", headers=cast["de"].headers)
    missing = client.get("/api/v1/documents/document--00000000-0000-4000-8000-000000000000", headers=cast["de"].headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.headers["content-type"] == "application/problem+json"


def test_platform_admin_does_not_bypass_red(client: TestClient, cast: dict[str, Actor], world: World) -> None:
    admin_in_owner_org = world.user("CERT-FR", roles=("platform-admin",))
    doc = _create(client, cast["fr"], tlp="red", share_with={"users": [cast["de"].user_id]})
    for admin in (admin_in_owner_org, cast["out"]):
        assert client.get(f"/api/v1/documents/{doc['id']}", headers=admin.headers).status_code == 404


@pytest.mark.parametrize(
    ("tlp", "share_with", "field"),
    [
        ("red", {"organisations": ["CERT-Bund"]}, "share_with.organisations"),
        ("red", {"communities": ["csirts-network"]}, "share_with.organisations"),
        ("amber+strict", {"communities": ["csirts-network"]}, "share_with.communities"),
        ("green", {"communities": ["no-such-community"]}, "share_with.communities"),
        ("green", {"users": ["nobody@nowhere.example"]}, "share_with.users"),
        ("white", {}, "tlp"),
        ("TLP:PURPLE", {}, "tlp"),
    ],
)
def test_invalid_marking_or_recipients_are_refused_and_nothing_is_written(
    client: TestClient,
    cast: dict[str, Actor],
    db: Session,
    tlp: str,
    share_with: dict[str, list[str]],
    field: str,
) -> None:
    orgs: dict[str, str] = cast["orgs"]  # type: ignore[assignment]
    share_with = {k: [orgs.get(v, v) for v in vs] for k, vs in share_with.items()}
    before = (count(db, Document), count(db, AuditEvent))
    r = client.post(
        "/api/v1/documents",
        json={"title": "t", "tlp": tlp, "share_with": share_with},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert problem["status"] == 422
    assert problem["errors"][0]["field"] == field
    after = (count(db, Document), count(db, AuditEvent))
    assert after == before


def test_only_the_originator_changes_marking_and_recipients(client: TestClient, cast: dict[str, Actor]) -> None:
    doc = _create(client, cast["fr"], tlp="amber+strict", share_with={"organisations": [cast["de"].org_id]})
    widen = {"tlp": "green", "share_with": {"communities": ["csirts-network"]}}
    r = client.put(f"/api/v1/documents/{doc['id']}/sharing", json=widen, headers=cast["de"].headers)
    assert r.status_code == 403
    r = client.put(f"/api/v1/documents/{doc['id']}/sharing", json=widen, headers=cast["fr"].headers)
    assert r.status_code == 200, r.text
    assert r.json()["tlp"] == "green"


def test_amber_recipient_passes_on_to_its_constituents_only(client: TestClient, cast: dict[str, Actor]) -> None:
    de_doc = _create(client, cast["de"], tlp="amber", share_with={"organisations": [cast["fr"].org_id]})
    assert client.get(f"/api/v1/documents/{de_doc['id']}", headers=cast["entity"].headers).status_code == 404
    # Not a constituent of CERT-FR: refused.
    r = client.post(
        f"/api/v1/documents/{de_doc['id']}/pass-on",
        json={"organisations": [cast["out"].org_id]},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/v1/documents/{de_doc['id']}/pass-on",
        json={"organisations": [cast["entity"].org_id]},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/documents/{de_doc['id']}", headers=cast["entity"].headers).status_code == 200


@pytest.mark.parametrize("tlp", ["amber+strict", "green"])
def test_only_amber_can_be_passed_on(client: TestClient, cast: dict[str, Actor], tlp: str) -> None:
    doc = _create(client, cast["de"], tlp=tlp, share_with={"organisations": [cast["fr"].org_id]})
    r = client.post(
        f"/api/v1/documents/{doc['id']}/pass-on",
        json={"organisations": [cast["entity"].org_id]},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 403
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=cast["entity"].headers).status_code == 404


def test_stale_edit_is_refused_with_409_and_does_not_overwrite(client: TestClient, cast: dict[str, Actor]) -> None:
    doc = _create(client, cast["fr"], tlp="green")
    first = client.patch(
        f"/api/v1/documents/{doc['id']}",
        json={"version": 1, "title": "first edit"},
        headers=cast["fr"].headers,
    )
    assert first.status_code == 200
    assert first.json()["version"] == 2
    stale = client.patch(
        f"/api/v1/documents/{doc['id']}",
        json={"version": 1, "title": "stale edit"},
        headers=cast["fr2"].headers,
    )
    assert stale.status_code == 409
    assert "reload" in stale.json()["detail"]
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=cast["fr"].headers).json()["title"] == "first edit"


def test_every_change_is_in_the_document_timeline(client: TestClient, cast: dict[str, Actor]) -> None:
    doc = _create(client, cast["fr"], tlp="amber", share_with={"organisations": [cast["de"].org_id]})
    client.patch(f"/api/v1/documents/{doc['id']}", json={"version": 1, "body": "new"}, headers=cast["fr"].headers)
    client.post(
        f"/api/v1/documents/{doc['id']}/pass-on",
        json={"organisations": [cast["entity"].org_id]},
        headers=cast["fr"].headers,
    )
    r = client.get(f"/api/v1/documents/{doc['id']}/timeline", headers=cast["de"].headers)
    assert r.status_code == 200
    tags = [e["tag"] for e in r.json()]
    assert tags == ["directory:document:create", "directory:document:update", "directory:document:pass-on"]
    assert all(e["actor_user_id"] == cast["fr"].user_id for e in r.json())


def test_list_paginates_with_a_cursor_without_gaps_or_repeats(client: TestClient, cast: dict[str, Actor]) -> None:
    made = {str(_create(client, cast["fr"], tlp="green")["id"]) for _ in range(7)}
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        url = "/api/v1/documents?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=cast["de"].headers).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == made


def test_forged_cursor_is_a_clear_422(client: TestClient, cast: dict[str, Actor]) -> None:
    r = client.get("/api/v1/documents?cursor=not-a-cursor", headers=cast["fr"].headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "cursor"


def test_delete_removes_the_document_and_its_share_list(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    doc = _create(client, cast["fr"], tlp="amber", share_with={"organisations": [cast["de"].org_id]})
    assert client.delete(f"/api/v1/documents/{doc['id']}", headers=cast["de"].headers).status_code == 403
    assert client.delete(f"/api/v1/documents/{doc['id']}", headers=cast["fr"].headers).status_code == 204
    assert count(db, Share, Share.object_id == doc["id"]) == 0
    assert client.get(f"/api/v1/documents/{doc['id']}", headers=cast["fr"].headers).status_code == 404


def test_random_documents_are_listed_exactly_as_single_reads_allow(client: TestClient, cast: dict[str, Actor]) -> None:
    """Every list a user gets equals the set of documents their single reads return."""
    authors = ["fr", "de", "entity"]
    ids = []
    for author, tlp, mode in itertools.product(authors, ["green", "amber", "amber+strict", "red"], ["none", "peer"]):
        peer = cast["de"] if author != "de" else cast["fr"]
        share: dict[str, list[str]] = {}
        if mode == "peer":
            share = {"users": [peer.user_id]} if tlp == "red" else {"organisations": [peer.org_id]}
        ids.append(str(_create(client, cast[author], tlp=tlp, share_with=share)["id"]))
    for name in ("fr", "fr2", "de", "entity", "out"):
        listed = _visible(client, cast[name]) & set(ids)
        single = {i for i in ids if client.get(f"/api/v1/documents/{i}", headers=cast[name].headers).status_code == 200}
        assert listed == single, name
