"""Search and the observable pivot (issue 19) on the demo: what each reader finds is what the read policy lets them
read, checked against each object's own API as the same reader, and a value only hidden incidents have answers
like a value nobody saw."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import demo
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.demo.incidents import C2_HOST, NORDLICHT, RANSOMWARE
from cybercrisis.incidents.models import Incident, Observable, Sighting
from tests.conftest import bearer_of
from tests.web.conftest import HTML, sign_in

FR, DE = "analyst@cert-fr.example", "analyst@cert-bund.example"
ONLY_HIDDEN = "198.51.100.77"  # only in CERT-Bund's AMBER+STRICT incident (demo/incidents.py)


@pytest.fixture
def demo_db(session_factory: sessionmaker[Session], settings: Settings) -> demo.DemoResult:
    with unit_of_work(session_factory) as s:
        return demo.load(s, data_dir=settings.data_dir)


bearer = bearer_of


def with_value(db: Session, value: str) -> tuple[dict[str, str], set[str]]:
    """The pivot's query parameters of the observable, and every incident that has it, readable or not."""
    oid, type_ = db.execute(select(Observable.id, Observable.type).where(Observable.value == value)).one()
    return {"type": type_, "value": value}, set(
        db.scalars(select(Sighting.incident_id).where(Sighting.observable_id == oid))
    )


def test_an_observable_is_found_with_exactly_the_incidents_the_reader_may_read(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session], db: Session
) -> None:
    oid, having = with_value(db, C2_HOST)
    for email in (FR, DE):
        headers = bearer(session_factory, email)
        readable = {i for i in having if client.get(f"/api/v1/incidents/{i}", headers=headers).status_code == 200}
        for q in (C2_HOST, C2_HOST.replace(".", "[.]"), "203.0.113"):
            got = client.get("/api/v1/search", params={"q": q}, headers=headers)
            assert got.status_code == 200, got.text
            hits = [o for o in got.json()["observables"] if o["value"] == C2_HOST]
            assert len(hits) == 1 and "id" not in hits[0], (email, q)  # no row id: it would date the value
            assert {i["id"] for i in hits[0]["incidents"]} == readable, (email, q)
        pivot = client.get("/api/v1/observables", params=oid, headers=headers)
        assert pivot.status_code == 200 and {i["id"] for i in pivot.json()["incidents"]} == readable
        if email == FR:
            assert readable < having  # the AMBER+STRICT incident of CERT-Bund has it too, hidden from CERT-FR
            titles = {i["title"] for i in pivot.json()["incidents"]}
            assert titles == {RANSOMWARE, NORDLICHT}
        else:
            assert readable == having


def test_a_value_only_hidden_incidents_have_is_not_found_and_its_pivot_is_a_404(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session], db: Session
) -> None:
    oid, having = with_value(db, ONLY_HIDDEN)
    fr, de = bearer(session_factory, FR), bearer(session_factory, DE)
    assert all(client.get(f"/api/v1/incidents/{i}", headers=fr).status_code == 404 for i in having)
    assert client.get("/api/v1/search", params={"q": ONLY_HIDDEN}, headers=fr).json()["observables"] == []
    assert client.get("/api/v1/observables", params=oid, headers=fr).status_code == 404
    never = client.get("/api/v1/observables", params={"type": "ipv4-addr", "value": "192.0.2.254"}, headers=fr)
    assert (
        never.status_code == 404
        and never.json()["detail"] == client.get("/api/v1/observables", params=oid, headers=fr).json()["detail"]
    )  # the same answer as a value nobody saw
    bad = client.get("/api/v1/observables", params={"type": "ipv4-addr", "value": "not an address"}, headers=fr)
    assert bad.status_code == 422
    assert [
        o["value"] for o in client.get("/api/v1/search", params={"q": ONLY_HIDDEN}, headers=de).json()["observables"]
    ] == [ONLY_HIDDEN]
    assert client.get("/api/v1/observables", params=oid, headers=de).status_code == 200


def test_titles_names_and_bad_queries(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session], db: Session
) -> None:
    fr = bearer(session_factory, FR)
    assert client.get("/api/v1/search", params={"q": "ransomware"}).status_code == 401
    found = client.get("/api/v1/search", params={"q": "RANSOMWARE"}, headers=fr).json()
    ransomware = db.scalars(select(Incident.id).where(Incident.title == RANSOMWARE)).one()
    assert ransomware in {i["id"] for i in found["incidents"]}
    assert any("ransomware" in c["title"].lower() for c in found["crises"])
    orgs = client.get("/api/v1/search", params={"q": "cert-bund"}, headers=fr).json()["organisations"]
    assert "CERT-Bund" in {o["short_name"] for o in orgs}
    # Case folds beyond ASCII on both databases (SQLite's own lower() does not).
    for q in ("núkib", "NÚKIB"):
        named = client.get("/api/v1/search", params={"q": q}, headers=fr).json()["organisations"]
        assert any("NÚKIB" in o["short_name"] or "NÚKIB" in o["name"] for o in named), q
    # LIKE's wildcards are text: "%" finds what contains a per cent sign, not everything.
    assert client.get("/api/v1/search", params={"q": "%%"}, headers=fr).json()["incidents"] == []
    for bad in ("x", " x ", "y" * 201):
        refused = client.get("/api/v1/search", params={"q": bad}, headers=fr)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "q", refused.text


def test_the_pages_search_and_pivot(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session], db: Session
) -> None:
    oid, _ = with_value(db, C2_HOST)
    hidden, _ = with_value(db, ONLY_HIDDEN)
    assert sign_in(client, FR, demo_db.password or "").status_code == 303
    page = client.get("/search", params={"q": C2_HOST}, headers=HTML)
    assert page.status_code == 200 and f'href="/observables?type={oid["type"]}&amp;value={C2_HOST}"' in page.text
    assert "seen in 2 incidents you may see" in page.text
    pivot = client.get("/observables", params=oid, headers=HTML)
    assert RANSOMWARE in pivot.text and NORDLICHT in pivot.text
    assert client.get("/observables", params=hidden, headers=HTML).status_code == 404
    short = client.get("/search", params={"q": "x"}, headers=HTML)
    assert short.status_code == 200 and "2 to 200 characters" in short.text
