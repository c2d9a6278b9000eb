"""NIS2 significance as a decision with a record (incidents/significance.py): who decides, what the clocks do, the
entity's category apart from its type, and migration 0011 for incidents recorded before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis import migrate
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import make_engine
from cybercrisis.incidents.models import Incident, SignificanceDecision
from tests.conftest import Actor, World, count


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Grid-FR", type_="entity", country="FR", parent="CERT-FR")
    return {
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "grid": world.user("Grid-FR"),
        "viewer": world.user("CERT-FR", roles=("viewer",)),
    }


def _incident(client: TestClient, actor: Actor, *, hours_ago: int = 2, **over: Any) -> dict[str, Any]:
    body = {
        "title": "Outage at a grid operator",
        "tlp": "amber",
        "aware_at": (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(),
        "countries": ["FR"],
        "share_with": {"communities": ["csirts-network"]},
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _decide(client: TestClient, actor: Actor, incident_id: str, value: str, reason: str = "assessed") -> Any:
    return client.post(
        f"/api/v1/incidents/{incident_id}/significance", json={"value": value, "reason": reason}, headers=actor.headers
    )


def _due(incident: dict[str, Any]) -> dict[str, str | None]:
    return {r["kind"]: r["due_at"] for r in incident["reports"]}


def test_a_new_incident_is_reported_and_no_clock_runs(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = _incident(client, cast["fr"])
    assert inc["significance"] == "reported"
    assert set(_due(inc).values()) == {None}
    got = client.get(f"/api/v1/incidents/{inc['id']}/significance", headers=cast["fr"].headers).json()
    assert got["clocks_run"] is False and got["decisions"] == [] and "no NIS2 clock runs" in got["meaning"]
    assert "suggestion" in got["suggestion"] or "significant" in got["suggestion"]


def test_deciding_significant_starts_the_clocks_from_awareness_and_records_who_why_and_the_suggestion(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    inc = _incident(client, cast["fr"], hours_ago=30)
    r = _decide(client, cast["fr"], inc["id"], "significant", "grid down for 3 hours in two regions")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["significance"] == "significant" and body["clocks_run"] is True
    [decision] = body["decisions"]
    assert (decision["previous"], decision["value"]) == ("reported", "significant")
    assert decision["reason"] == "grid down for 3 hours in two regions"
    assert decision["decided_by"] == cast["fr"].user_id and decision["suggestion"]
    got = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    aware = datetime.fromisoformat(got["aware_at"])
    reports = {r["kind"]: r for r in got["reports"]}
    assert datetime.fromisoformat(reports["early-warning"]["due_at"]) == aware + timedelta(hours=24)
    assert reports["early-warning"]["status"] == "overdue"  # decided after 30 h: the deadline was already past
    assert datetime.fromisoformat(reports["notification"]["due_at"]) == aware + timedelta(hours=72)
    assert count(db, AuditEvent, AuditEvent.tag == "incidents:significance:decide") == 1


def test_the_affected_entity_decides_too_but_a_recipient_or_a_viewer_does_not(
    client: TestClient, cast: dict[str, Actor], world: World, db: Session
) -> None:
    grid = world.orgs["Grid-FR"]
    inc = _incident(
        client, cast["fr"], entity=grid, share_with={"communities": ["csirts-network"], "organisations": [grid]}
    )
    other = _decide(client, cast["de"], inc["id"], "significant")
    assert other.status_code == 403, other.text
    assert "decide whether the incident is significant" in other.json()["detail"]
    assert _decide(client, cast["viewer"], inc["id"], "significant").status_code == 403
    assert count(db, SignificanceDecision) == 0
    assert _decide(client, cast["grid"], inc["id"], "near-miss", "blocked at the gateway").status_code == 200


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"value": "major", "reason": "x"}, "value"),
        ({"value": "reported", "reason": "x"}, "value"),
        ({"value": "significant", "reason": ""}, "reason"),
        ({"value": "significant"}, "reason"),
    ],
)
def test_a_bad_decision_names_the_field_and_changes_nothing(
    client: TestClient, cast: dict[str, Actor], db: Session, payload: dict[str, str], field: str
) -> None:
    inc = _incident(client, cast["fr"])
    r = client.post(f"/api/v1/incidents/{inc['id']}/significance", json=payload, headers=cast["fr"].headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert count(db, SignificanceDecision) == 0
    assert db.get(Incident, inc["id"]).significance == "reported"  # type: ignore[union-attr]


def test_the_same_decision_twice_is_a_conflict(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = _incident(client, cast["fr"])
    assert _decide(client, cast["fr"], inc["id"], "not-significant").status_code == 200
    again = _decide(client, cast["fr"], inc["id"], "not-significant")
    assert again.status_code == 409 and "already not-significant" in again.json()["detail"]


def test_significance_given_at_recording_needs_a_reason(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    r = client.post(
        "/api/v1/incidents",
        json={
            "title": "Outage",
            "tlp": "amber",
            "aware_at": datetime.now(UTC).isoformat(),
            "significance": "significant",
        },
        headers=cast["fr"].headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "significance_reason"
    assert count(db, Incident) == 0
    inc = _incident(client, cast["fr"], significance="significant", significance_reason="the entity says so")
    assert inc["significance"] == "significant" and _due(inc)["early-warning"] is not None


def test_an_intermediate_report_is_asked_only_for_a_significant_incident(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = _incident(client, cast["fr"])
    url = f"/api/v1/incidents/{inc['id']}/reports/intermediate-request"
    due = {"due_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}
    refused = client.post(url, json=due, headers=cast["fr"].headers)
    assert refused.status_code == 409 and "Art. 23(4)(c)" in refused.json()["detail"]
    _decide(client, cast["fr"], inc["id"], "significant")
    assert client.post(url, json=due, headers=cast["fr"].headers).status_code == 201


def test_an_early_warning_on_an_undecided_incident_starts_no_feedback_clock(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = _incident(client, cast["fr"])
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/reports",
        json={"kind": "early-warning", "summary": "s"},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 201
    got = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    assert _due(got)["feedback"] is None
    _decide(client, cast["fr"], inc["id"], "significant")
    got = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    assert _due(got)["feedback"] is not None  # 24 h after the early warning (Art. 23(5)), now that it is significant


def test_the_entity_category_is_kept_apart_from_the_kind_of_provider(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    qtsp = _incident(client, cast["fr"], entity_type="qualified-trust-service-provider", entity_category="essential")
    assert (qtsp["entity_type"], qtsp["entity_category"]) == ("qualified-trust-service-provider", "essential")
    old_form = _incident(client, cast["fr"], entity_type="important")
    assert (old_form["entity_type"], old_form["entity_category"]) == (None, "important")
    r = client.post(
        "/api/v1/incidents",
        json={
            "title": "Outage",
            "tlp": "amber",
            "aware_at": datetime.now(UTC).isoformat(),
            "entity_type": "essential",
            "entity_category": "important",
        },
        headers=cast["fr"].headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "entity_category"


def test_migration_0011_treats_incidents_with_a_submitted_warning_as_significant_and_stops_the_other_clocks(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool=False)
    migrate.upgrade(engine, "0010")
    meta = sa.MetaData()
    meta.reflect(engine, only=["organisations", "incidents", "incident_reports"])
    orgs, incidents, reports = meta.tables["organisations"], meta.tables["incidents"], meta.tables["incident_reports"]
    now = datetime.now(UTC)
    org = "identity--00000000-0000-4000-8000-000000000001"
    with engine.begin() as conn:
        values = {
            "id": org,
            "name": "CERT-FR",
            "short_name": "CERT-FR",
            "type": "national-csirt",
            "country": "FR",
            "description": "",
            "website": "",
            "created_at": now,
            "modified_at": now,
            "levels": [],
        }
        conn.execute(orgs.insert().values(**{k: v for k, v in values.items() if k in orgs.c}))
        for n, (kind_type, warned, exercise) in enumerate(
            (("essential", True, False), ("qualified-trust-service-provider", False, False), (None, True, True))
        ):
            iid = f"incident--00000000-0000-4000-8000-00000000000{n}"
            conn.execute(
                incidents.insert().values(
                    id=iid,
                    owner_org_id=org,
                    tlp="amber",
                    title=f"Incident {n}",
                    description="",
                    status="new",
                    entity_name="",
                    entity_type=kind_type,
                    aware_at=now - timedelta(days=3),
                    suspected_malicious=False,
                    cross_border=False,
                    exceeds_national_capacity=False,
                    pap="amber",
                    tags=[],
                    facts={},
                    created_at=now,
                    modified_at=now,
                    version=1,
                    exercise=exercise,
                )
            )
            for kind, hours in (("early-warning", 24), ("notification", 72)):
                submitted = now - timedelta(days=2) if warned and kind == "early-warning" else None
                conn.execute(
                    reports.insert().values(
                        id=f"report--{n}-{kind}",
                        incident_id=iid,
                        kind=kind,
                        due_at=now - timedelta(days=3, hours=-hours),
                        submitted_at=submitted,
                        version=1 if submitted else 0,
                        content={},
                        created_at=now,
                    )
                )
    migrate.upgrade(engine, "0011")
    with engine.connect() as conn:
        rows = {
            r.id[-1]: r
            for r in conn.execute(sa.text("SELECT id, significance, entity_type, entity_category FROM incidents"))
        }
        due = dict(conn.execute(sa.text("SELECT id, due_at FROM incident_reports")).all())
        decisions = conn.execute(
            sa.text("SELECT incident_id, value, decided_by_id, reason FROM significance_decisions")
        )
        decided = {d.incident_id[-1]: d for d in decisions}
    assert rows["0"].significance == "significant" and (rows["0"].entity_type, rows["0"].entity_category) == (
        None,
        "essential",
    )
    assert decided["0"].decided_by_id is None and "migration 0011" in decided["0"].reason
    assert due["report--0-notification"] is not None  # its clock keeps running
    assert rows["1"].significance == "reported" and rows["1"].entity_type == "qualified-trust-service-provider"
    assert due["report--1-early-warning"] is None and due["report--1-notification"] is None
    assert rows["2"].significance == "significant" and due["report--2-notification"] is None  # exercise: no clock
    assert set(decided) == {"0", "2"}
    migrate.upgrade(engine, "head")
    engine.dispose()


def test_the_list_filters_by_significance_and_names_a_bad_value(client: TestClient, cast: dict[str, Actor]) -> None:
    undecided = _incident(client, cast["fr"], title="Scan of the perimeter")
    decided = _incident(client, cast["fr"], title="Outage of the control centre")
    _decide(client, cast["fr"], decided["id"], "significant")
    listed = client.get("/api/v1/incidents?significance=reported", headers=cast["fr"].headers).json()["items"]
    assert [(i["id"], i["significance"]) for i in listed] == [(undecided["id"], "reported")]
    bad = client.get("/api/v1/incidents?significance=major", headers=cast["fr"].headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "significance"
