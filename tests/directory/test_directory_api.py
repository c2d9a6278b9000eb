"""The directory through the API: filters, paging, organisation pages, contacts under TLP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.directory.models import Contact, Organisation
from tests.conftest import Actor, World, count


@pytest.fixture
def reader(world: World) -> Actor:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org(
        "ANSSI-CRISIS",
        type_="crisis-authority",
        country="FR",
        communities=("eu-cyclone",),
        levels=("operational", "political"),
    )
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("BSI-SPOC", type_="spoc", country="DE", levels=("operational",))
    world.org(
        "ENISA",
        type_="eu-body",
        country=None,
        communities=("csirts-network", "eu-cyclone"),
        levels=("technical", "operational"),
    )
    world.org("Stadtwerke", type_="entity", country="DE", parent="CERT-Bund")
    return world.user("CERT-FR", roles=("org-admin",))


def _names(r: object) -> list[str]:
    return sorted(o["short_name"] for o in r.json()["items"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("country=DE&type=national-csirt", ["CERT-Bund"]),
        ("country=de", ["BSI-SPOC", "CERT-Bund", "Stadtwerke"]),
        ("level=political", ["ANSSI-CRISIS"]),
        ("community=csirts-network", ["CERT-Bund", "CERT-FR", "ENISA"]),
        ("type=eu-body", ["ENISA"]),
        ("q=bund", ["CERT-Bund"]),
    ],
)
def test_directory_filters(client: TestClient, reader: Actor, query: str, expected: list[str]) -> None:
    r = client.get(f"/api/v1/organisations?{query}", headers=reader.headers)
    assert r.status_code == 200, r.text
    assert _names(r) == expected


def test_greece_may_be_given_as_el_or_gr(client: TestClient, reader: Actor, world: World) -> None:
    world.org("GR-CSIRT", country="EL")
    assert _names(client.get("/api/v1/organisations?country=EL", headers=reader.headers)) == ["GR-CSIRT"]
    assert _names(client.get("/api/v1/organisations?country=GR", headers=reader.headers)) == ["GR-CSIRT"]


@pytest.mark.parametrize(
    ("query", "field"), [("country=XX", "country"), ("type=bank", "type"), ("level=strategic", "level")]
)
def test_invalid_filter_values_name_the_valid_ones(client: TestClient, reader: Actor, query: str, field: str) -> None:
    r = client.get(f"/api/v1/organisations?{query}", headers=reader.headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field


def test_directory_pages_with_a_cursor(client: TestClient, reader: Actor) -> None:
    seen: list[str] = []
    url = "/api/v1/organisations?limit=4"
    while url:
        page = client.get(url, headers=reader.headers).json()
        seen += [o["id"] for o in page["items"]]
        url = f"/api/v1/organisations?limit=4&cursor={page['next']}" if page["next"] else ""
    assert len(seen) == len(set(seen)) == 6


def test_directory_needs_authentication(client: TestClient, reader: Actor) -> None:
    r = client.get("/api/v1/organisations")
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


def test_organisation_page_lists_only_contacts_the_reader_may_see(
    client: TestClient, reader: Actor, world: World
) -> None:
    bund_admin = world.user("CERT-Bund", roles=("org-admin",))
    bund = world.orgs["CERT-Bund"]

    def add(tlp: str, label: str, share: dict[str, list[str]]) -> None:
        r = client.post(
            "/api/v1/contacts",
            headers=bund_admin.headers,
            json={
                "organisation": bund,
                "kind": "24x7-desk",
                "label": label,
                "value": f"+49 {label}",
                "tlp": tlp,
                "share_with": share,
            },
        )
        assert r.status_code == 201, r.text

    add("clear", "public", {})
    add("green", "network", {})  # default: CERT-Bund's communities, which include CERT-FR's
    add("amber+strict", "bilateral", {"organisations": [reader.org_id]})
    add("amber+strict", "national", {"organisations": [world.orgs["BSI-SPOC"]]})
    add("red", "named", {"users": [bund_admin.email]})
    r = client.get(f"/api/v1/organisations/{bund}", headers=reader.headers)
    assert r.status_code == 200
    assert sorted(c["label"] for c in r.json()["contacts"]) == ["bilateral", "network", "public"]
    assert [o["short_name"] for o in r.json()["constituents"]] == ["Stadtwerke"]


def test_only_the_organisations_admins_manage_its_contacts(
    client: TestClient, reader: Actor, world: World, db: Session
) -> None:
    r = client.post(
        "/api/v1/contacts",
        headers=reader.headers,
        json={
            "organisation": world.orgs["CERT-Bund"],
            "kind": "email",
            "label": "x",
            "value": "x@y.example",
            "tlp": "clear",
        },
    )
    assert r.status_code == 403
    assert count(db, Contact) == 0


@pytest.mark.parametrize(
    ("patch", "field"),
    [({"kind": "fax"}, "kind"), ({"pgp_fingerprint": "ABC"}, "pgp_fingerprint"), ({"tlp": "white"}, "tlp")],
)
def test_invalid_contacts_are_refused(client: TestClient, reader: Actor, patch: dict[str, str], field: str) -> None:
    body = {
        "organisation": reader.org_id,
        "kind": "email",
        "label": "x",
        "value": "x@y.example",
        "tlp": "clear",
        **patch,
    }
    r = client.post("/api/v1/contacts", headers=reader.headers, json=body)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == field


def test_platform_admin_creates_organisations_others_cannot(
    client: TestClient, reader: Actor, world: World, db: Session
) -> None:
    body = {
        "name": "CERT Polska",
        "short_name": "CERT-PL",
        "type": "national-csirt",
        "country": "PL",
        "levels": ["technical"],
        "communities": ["csirts-network"],
    }
    assert client.post("/api/v1/organisations", json=body, headers=reader.headers).status_code == 403
    operator = world.user("ENISA", roles=("platform-admin",))
    r = client.post("/api/v1/organisations", json=body, headers=operator.headers)
    assert r.status_code == 201, r.text
    assert r.json()["id"].startswith("identity--")
    dup = client.post("/api/v1/organisations", json=body, headers=operator.headers)
    assert dup.status_code == 409
    assert count(db, Organisation, Organisation.short_name == "CERT-PL") == 1
