"""NIS2 Art. 23(9): the SPOC's quarterly, anonymised and aggregated summary to ENISA, from what the SPOC may read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.incidents.flow_models import QuarterlySummary
from cybercrisis.incidents.models import Incident
from tests.conftest import Actor, World, count

NOW = datetime.now(UTC).replace(microsecond=0)
QUARTER = f"{NOW.year}-Q{(NOW.month - 1) // 3 + 1}"
QUARTER_START = datetime(NOW.year, 3 * ((NOW.month - 1) // 3) + 1, 1, tzinfo=UTC)
SECRET_TITLE = "Zebra-7731 wiper at Northwind"
SECRET_ENTITY = "Northwind Grid SAS"
SECRET_OBSERVABLE = "c2.zebra7731.example"


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR")
    world.org("ANSSI-CA", type_="competent-authority", country="FR")
    world.org("FR-SPOC", type_="spoc", country="FR")
    world.org("DE-SPOC", type_="spoc", country="DE")
    world.org("ENISA", type_="eu-body", country=None)
    return {
        "fr": world.user("CERT-FR"),
        "ca": world.user("ANSSI-CA"),
        "spoc": world.user("FR-SPOC"),
        "de_spoc": world.user("DE-SPOC"),
        "enisa": world.user("ENISA"),
    }


def incident(client: TestClient, db: Session, actor: Actor, *, share: list[str], significance: str, **over: Any) -> str:
    body: dict[str, Any] = {
        "title": SECRET_TITLE,
        "description": f"{SECRET_ENTITY} lost its SCADA historians.",
        "entity_name": SECRET_ENTITY,
        "tlp": "amber",
        "aware_at": (NOW - timedelta(hours=1)).isoformat(),
        "countries": ["FR"],
        "sectors": ["energy"],
        "tags": ['rsit:malicious-code="infected-system"'],
        "root_cause": "malicious-actions",
        "observables": [{"type": "domain-name", "value": SECRET_OBSERVABLE}],
        "share_with": {"organisations": share},
    }
    body.update(over)
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    incident_id: str = r.json()["id"]
    db.execute(update(Incident).where(Incident.id == incident_id).values(significance=significance))
    db.commit()
    return incident_id


def preview(client: TestClient, actor: Actor) -> Any:
    return client.get(f"/api/v1/nis2/quarterly-summary?quarter={QUARTER}", headers=actor.headers)


def test_quarterly_summary_counts_readable_non_exercise_incidents_of_the_quarter_without_names(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    spoc = cast["spoc"].org_id
    incident(client, db, cast["fr"], share=[spoc], significance="significant")
    incident(
        client,
        db,
        cast["fr"],
        share=[spoc],
        significance="near-miss",
        countries=["FR", "DE"],
        sectors=["health"],
        tags=[],
        root_cause=None,
    )
    drill = incident(client, db, cast["fr"], share=[spoc], significance="significant")
    older = incident(client, db, cast["fr"], share=[spoc], significance="significant")
    db.execute(update(Incident).where(Incident.id == drill).values(exercise=True))
    db.execute(update(Incident).where(Incident.id == older).values(created_at=QUARTER_START - timedelta(days=1)))
    db.commit()

    r = preview(client, cast["spoc"])
    assert r.status_code == 200, r.text
    figures = r.json()
    assert figures["quarter"] == QUARTER and figures["country"] == "FR"
    assert figures["total"] == 2
    assert figures["by_significance"] == {"near-miss": 1, "significant": 1}
    assert figures["by_sector"] == {"energy": 1, "health": 1}
    assert figures["by_rsit_class"] == {"malicious-code": 1, "unclassified": 1}
    assert figures["by_root_cause"] == {"malicious-actions": 1, "unknown": 1}
    assert figures["cross_border"] == {"cross-border": 1, "national": 1}
    for secret in (SECRET_TITLE, SECRET_ENTITY, SECRET_OBSERVABLE, "SCADA", "incident--"):
        assert secret not in r.text


def test_a_hidden_incident_of_another_organisation_does_not_change_the_figures(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    incident(client, db, cast["fr"], share=[cast["spoc"].org_id], significance="significant")
    before = preview(client, cast["spoc"]).json()
    # The competent authority's own incident, not shared with the SPOC, and one marked RED: neither is read.
    incident(client, db, cast["ca"], share=[], significance="significant", sectors=["banking"])
    incident(client, db, cast["fr"], share=[], significance="near-miss", tlp="red")
    after = preview(client, cast["spoc"]).json()
    assert after == before and after["total"] == 1


def test_spoc_submits_the_summary_to_enisa_and_a_resubmission_supersedes_it(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    incident(client, db, cast["fr"], share=[cast["spoc"].org_id], significance="significant")
    r = client.post("/api/v1/nis2/quarterly-summaries", json={"quarter": QUARTER}, headers=cast["spoc"].headers)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["id"].startswith("x-nis2-quarterly-summary--") and first["supersedes"] is None
    assert first["share_with"]["organisations"] == [cast["enisa"].org_id] and first["tlp"] == "amber+strict"
    assert first["figures"]["total"] == 1 and SECRET_TITLE not in r.text
    seen = client.get("/api/v1/nis2/quarterly-summaries", headers=cast["enisa"].headers).json()
    assert [s["id"] for s in seen] == [first["id"]]
    assert client.get("/api/v1/nis2/quarterly-summaries", headers=cast["de_spoc"].headers).json() == []
    again = client.post("/api/v1/nis2/quarterly-summaries", json={"quarter": QUARTER}, headers=cast["spoc"].headers)
    assert again.status_code == 201 and again.json()["supersedes"] == first["id"]
    assert count(db, AuditEvent, AuditEvent.tag == "incidents:nis2-summary:submit") == 2


def test_only_a_spoc_previews_or_submits_the_quarterly_summary(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    r = preview(client, cast["fr"])
    assert r.status_code == 403 and "Art. 23(9)" in r.json()["detail"]
    sub = client.post("/api/v1/nis2/quarterly-summaries", json={"quarter": QUARTER}, headers=cast["fr"].headers)
    assert sub.status_code == 403
    assert count(db, QuarterlySummary) == 0


@pytest.mark.parametrize("quarter", ["2026-Q5", "2026Q1", "26-Q1"])
def test_a_malformed_quarter_is_refused_naming_the_field(
    client: TestClient, cast: dict[str, Actor], quarter: str
) -> None:
    r = client.post("/api/v1/nis2/quarterly-summaries", json={"quarter": quarter}, headers=cast["spoc"].headers)
    assert r.status_code == 422 and "quarter" in r.text
