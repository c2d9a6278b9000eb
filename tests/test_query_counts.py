"""List pages cost a fixed number of queries, whatever the number of rows (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.conftest import World


@contextmanager
def count_queries(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(app.state.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(app.state.engine, "before_cursor_execute", before)


def _queries(app: FastAPI, client: TestClient, url: str, headers: dict[str, str]) -> int:
    with count_queries(app) as statements:
        assert client.get(url, headers=headers).status_code == 200
    return len(statements)


def test_directory_list_and_organisation_page_do_not_grow_with_rows(
    app: FastAPI, client: TestClient, world: World
) -> None:
    world.org("HUB", country="BE", communities=("csirts-network", "eu-cyclone"))
    reader = world.user("HUB")
    world.org("ENT-first", type_="entity", country="BE", parent="HUB")
    small = _queries(app, client, "/api/v1/organisations?limit=200", reader.headers)
    page_small = _queries(app, client, f"/api/v1/organisations/{reader.org_id}", reader.headers)
    for i in range(25):
        world.org(f"ENT-{i}", type_="entity", country="BE", parent="HUB", communities=("csirts-network",))
    large = _queries(app, client, "/api/v1/organisations?limit=200", reader.headers)
    page_large = _queries(app, client, f"/api/v1/organisations/{reader.org_id}", reader.headers)
    assert large == small
    assert page_large == page_small


def _add_contacts(client: TestClient, admin_headers: dict[str, str], org_id: str, n: int, start: int) -> None:
    for i in range(start, start + n):
        body = {"organisation": org_id, "kind": "phone", "label": f"desk {i}", "value": f"+32 {i}", "tlp": "green"}
        assert client.post("/api/v1/contacts", headers=admin_headers, json=body).status_code == 201


def _selects(app: FastAPI, client: TestClient, url: str, headers: dict[str, str]) -> int:
    with count_queries(app) as statements:
        assert client.get(url, headers=headers).status_code == 200
    return sum(1 for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH")))


def test_organisation_read_costs_four_selects_whatever_its_contacts_and_constituents(
    app: FastAPI, client: TestClient, world: World
) -> None:
    """Credentials, the organisation with its constituents, their levels and roles, the readable contacts."""
    world.org("HUB", country="BE", communities=("csirts-network", "eu-cyclone"), levels=("technical", "political"))
    admin = world.user("HUB", roles=("org-admin",))
    hub = world.orgs["HUB"]
    url = f"/api/v1/organisations/{hub}"
    world.org("ENT-first", type_="entity", country="BE", parent="HUB", communities=("csirts-network",))
    _add_contacts(client, admin.headers, hub, 1, 0)
    assert _selects(app, client, url, admin.headers) == 4
    for i in range(12):
        world.org(f"ENT-{i}", type_="entity", country="BE", parent="HUB", communities=("csirts-network",))
    _add_contacts(client, admin.headers, hub, 12, 1)
    assert _selects(app, client, url, admin.headers) == 4
    body = client.get(url, headers=admin.headers).json()
    assert len(body["constituents"]) == 13
    assert len(body["contacts"]) == 13
    assert body["levels"] == ["technical", "political"]
    assert body["memberships"] == [
        {"community": "csirts-network", "role": "member"},
        {"community": "eu-cyclone", "role": "member"},
    ]
    assert all(c["communities"] == ["csirts-network"] for c in body["constituents"])


def test_organisation_list_costs_three_selects_whatever_its_length(
    app: FastAPI, client: TestClient, world: World
) -> None:
    """Credentials, one page of organisations, the levels and roles of all of them: no query per organisation."""
    world.org("HUB", country="BE", communities=("csirts-network",))
    reader = world.user("HUB")
    assert _selects(app, client, "/api/v1/organisations?limit=200", reader.headers) == 3
    for i in range(20):
        world.org(f"ENT-{i}", type_="entity", country="BE", communities=("csirts-network", "eu-cyclone"))
    assert _selects(app, client, "/api/v1/organisations?limit=200", reader.headers) == 3
    assert _selects(app, client, "/api/v1/organisations?limit=5", reader.headers) == 3


def test_document_list_does_not_grow_with_rows(app: FastAPI, client: TestClient, world: World) -> None:
    world.org("HUB", country="BE", communities=("csirts-network",))
    author = world.user("HUB")

    def make(n: int) -> None:
        for _ in range(n):
            client.post("/api/v1/documents", json={"title": "t", "tlp": "green"}, headers=author.headers)

    make(2)
    small = _queries(app, client, "/api/v1/documents?limit=200", author.headers)
    make(20)
    assert _queries(app, client, "/api/v1/documents?limit=200", author.headers) == small
