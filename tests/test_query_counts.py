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
