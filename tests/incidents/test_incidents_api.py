"""Incidents through the API: recording, classification, NIS2 reports, correlation under TLP, search."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.incidents.models import Incident, Report, Sighting
from tests.conftest import Actor, World, count

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("CERT-EE", country="EE", communities=("csirts-network",))
    world.org("Outsider", type_="partner", country=None)
    world.org("EDF-ish", type_="entity", country="FR", parent="CERT-FR")
    return {
        "fr": world.user("CERT-FR"),
        "fr2": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "ee": world.user("CERT-EE"),
        "out": world.user("Outsider"),
        "viewer": world.user("CERT-FR", roles=("viewer",)),
    }


def body(**over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "title": "Ransomware at a regional grid operator",
        "description": "Encrypted SCADA historians.",
        "tlp": "amber",
        "pap": "amber",
        "aware_at": (NOW - timedelta(hours=2)).isoformat(),
        "countries": ["FR"],
        "sectors": ["energy"],
        "tags": ['rsit:malicious-code="infected-system"', 'nis:impact-severity="red"'],
        "observables": [
            {"type": "domain-name", "value": "c2[.]evil.example"},
            {"type": "ipv4-addr", "value": "198.51.100.7"},
        ],
        "share_with": {"communities": ["csirts-network"]},
    }
    b.update(over)
    return b


def create(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/incidents", json=body(**over), headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


SIGNIFICANT = {"significance": "significant", "significance_reason": "the entity's early warning says so"}


def test_analyst_records_a_significant_incident_and_the_nis2_clock_starts(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = create(client, cast["fr"], **SIGNIFICANT)
    assert inc["id"].startswith("incident--")
    assert inc["rsit_class"] == "malicious-code" and inc["impact_severity"] == "red"
    assert 'rsit:malicious-code="infected-system"' in inc["tags"] and "tlp:amber" in inc["tags"]
    reports = {r["kind"]: r for r in inc["reports"]}
    aware = datetime.fromisoformat(inc["aware_at"])
    assert datetime.fromisoformat(reports["early-warning"]["due_at"]) == aware + timedelta(hours=24)
    assert datetime.fromisoformat(reports["notification"]["due_at"]) == aware + timedelta(hours=72)
    assert reports["early-warning"]["status"] == "due" and reports["final"]["due_at"] is None
    assert {o["value"] for o in inc["observables"]} == {"c2.evil.example", "198.51.100.7"}
    assert inc["assessment"]["significant"] is True
    assert any(f["rule"] == "impact-severity-red" and f["fired"] for f in inc["assessment"]["findings"])


def test_trust_service_provider_notification_is_due_in_24_hours(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = create(client, cast["fr"], entity_type="trust-service-provider", **SIGNIFICANT)
    note = next(r for r in inc["reports"] if r["kind"] == "notification")
    assert datetime.fromisoformat(note["due_at"]) == datetime.fromisoformat(inc["aware_at"]) + timedelta(hours=24)


@pytest.mark.parametrize(
    ("over", "field", "hint"),
    [
        ({"tags": ['rsit:intrusions="teleportation"']}, "tags", "system-compromise"),
        ({"rsit_class": "hacking"}, "rsit_class", "intrusions"),
        ({"impact_severity": "purple"}, "impact_severity", "red, yellow, green, white"),
        ({"sectors": ["casinos"]}, "sectors", "energy"),
        ({"countries": ["XX"]}, "countries", "ISO 3166"),
        ({"tlp": "white"}, "tlp", "CLEAR"),
        ({"pap": "purple"}, "pap", "clear, green, amber, red"),
        ({"aware_at": (NOW + timedelta(days=2)).isoformat()}, "aware_at", "future"),
        ({"observables": [{"type": "ipv4-addr", "value": "300.1.1.1"}]}, "observables[0]", "IPv4"),
        ({"observables": [{"type": "mac-addr", "value": "aa"}]}, "observables[0]", "valid:"),
        ({"title": "x"}, "title", "at least 3"),
    ],
)
def test_bad_incidents_name_the_field_and_the_valid_form_and_write_nothing(
    client: TestClient, cast: dict[str, Actor], db: Session, over: dict[str, Any], field: str, hint: str
) -> None:
    r = client.post("/api/v1/incidents", json=body(**over), headers=cast["fr"].headers)
    assert r.status_code in (400, 413, 422), r.text
    problem = r.json()
    assert problem["errors"][0]["field"] == field
    assert hint in problem["detail"] or hint in str(problem["errors"])
    assert count(db, Incident) == 0
    assert count(db, Sighting) == 0
    assert count(db, AuditEvent, AuditEvent.tag.like("incidents:%")) == 0


def test_viewer_cannot_record_incidents(client: TestClient, cast: dict[str, Actor]) -> None:
    r = client.post("/api/v1/incidents", json=body(), headers=cast["viewer"].headers)
    assert r.status_code == 403


def test_reports_are_versioned_and_late_ones_are_marked_late(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    aware = NOW - timedelta(days=5)
    inc = create(client, cast["fr"], aware_at=aware.isoformat(), **SIGNIFICANT)
    url = f"/api/v1/incidents/{inc['id']}/reports"
    late = client.post(
        url,
        json={
            "kind": "early-warning",
            "summary": "ransomware",
            "suspected_malicious": True,
            "cross_border": True,
            "submitted_at": (aware + timedelta(hours=30)).isoformat(),
        },
        headers=cast["fr"].headers,
    )
    assert late.status_code == 201, late.text
    assert late.json()["status"] == "late" and late.json()["version"] == 1
    again = client.post(url, json={"kind": "early-warning", "summary": "update"}, headers=cast["fr"].headers)
    assert again.json()["version"] == 2 and again.json()["status"] == "late"
    note = client.post(
        url,
        json={
            "kind": "notification",
            "summary": "assessment",
            "severity_and_impact": "high",
            "submitted_at": (aware + timedelta(hours=40)).isoformat(),
            "indicators": [{"type": "sha256", "value": "A" * 64}],
        },
        headers=cast["fr"].headers,
    )
    assert note.json()["status"] == "on-time"
    got = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    reports = {r["kind"]: r for r in got["reports"]}
    # The final report is due one month after the notification; the CSIRT's answer 24 h after the early warning.
    assert reports["final"]["due_at"] is not None
    assert reports["feedback"]["status"] == "overdue"
    assert got["cross_border"] is True and got["suspected_malicious"] is True
    assert "a" * 64 in {o["value"] for o in got["observables"]}


@pytest.mark.parametrize(
    ("report", "field"),
    [
        ({"kind": "early-warning", "root_cause": "x"}, "root_cause"),
        ({"kind": "final-ish"}, "kind"),
        ({"kind": "notification", "submitted_at": "2000-01-01T00:00:00Z"}, "submitted_at"),
        ({"kind": "notification", "submitted_at": "2999-01-01T00:00:00Z"}, "submitted_at"),
    ],
)
def test_impossible_reports_are_refused(
    client: TestClient, cast: dict[str, Actor], db: Session, report: dict[str, str], field: str
) -> None:
    inc = create(client, cast["fr"])
    r = client.post(f"/api/v1/incidents/{inc['id']}/reports", json=report, headers=cast["fr"].headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert count(db, Report, Report.submitted_at.is_not(None)) == 0


def test_intermediate_report_on_request(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = create(client, cast["fr"], **SIGNIFICANT)
    due = (NOW + timedelta(days=2)).isoformat()
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/reports/intermediate-request", json={"due_at": due}, headers=cast["fr"].headers
    )
    assert r.status_code == 201 and r.json()["kind"] == "intermediate" and r.json()["status"] == "due"
    s = client.post(
        f"/api/v1/incidents/{inc['id']}/reports",
        json={"kind": "intermediate", "summary": "contained"},
        headers=cast["fr"].headers,
    )
    assert s.json()["id"] == r.json()["id"] and s.json()["status"] == "on-time"


def test_overdue_reports_show_in_the_deadlines_view_for_those_who_may_see_them(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    inc = create(client, cast["fr"], aware_at=(NOW - timedelta(hours=30)).isoformat(), **SIGNIFICANT)
    hidden = create(
        client,
        cast["fr"],
        tlp="amber+strict",
        share_with={},
        aware_at=(NOW - timedelta(hours=30)).isoformat(),
        **SIGNIFICANT,
    )
    mine = client.get("/api/v1/deadlines?status=overdue", headers=cast["fr"].headers).json()
    assert {(d["incident"], d["kind"]) for d in mine} == {(inc["id"], "early-warning"), (hidden["id"], "early-warning")}
    theirs = client.get("/api/v1/deadlines?status=overdue", headers=cast["de"].headers).json()
    assert [d["incident"] for d in theirs] == [inc["id"]]
    assert client.get("/api/v1/deadlines?status=overdue", headers=cast["out"].headers).json() == []
    listed = client.get("/api/v1/incidents?overdue=true", headers=cast["de"].headers).json()["items"]
    assert [i["id"] for i in listed] == [inc["id"]] and listed[0]["overdue_reports"] == 1
    soon = client.get("/api/v1/deadlines?status=due-soon&hours=48", headers=cast["fr"].headers).json()
    assert {d["kind"] for d in soon} == {"notification"}


def test_correlation_links_fr_and_de_and_reveals_nothing_hidden(client: TestClient, cast: dict[str, Actor]) -> None:
    shared_obs = [{"type": "domain-name", "value": "c2.evil.example"}, {"type": "ipv4-addr", "value": "203.0.113.9"}]
    fr = create(client, cast["fr"], observables=shared_obs)
    de = create(
        client,
        cast["de"],
        countries=["DE"],
        observables=[
            {"type": "url", "value": "hxxp://c2[.]evil.example"},
            {"type": "domain-name", "value": "C2.EVIL.example"},
        ],
    )
    secret = create(
        client,
        cast["ee"],
        countries=["EE"],
        tlp="amber+strict",
        share_with={},
        observables=[{"type": "ipv4-addr", "value": "203.0.113.9"}],
    )
    for actor, other in (("fr", de), ("de", fr)):
        got = client.get(
            f"/api/v1/incidents/{(fr if actor == 'fr' else de)['id']}/correlations", headers=cast[actor].headers
        ).json()
        assert [c["incident"] for c in got["items"]] == [other["id"]]
        assert got["items"][0]["observables"] == ["c2.evil.example"]
        assert got["cluster"]["countries"] == ["DE", "FR"] and got["cluster"]["cross_border"] is True
        assert secret["id"] not in got["cluster"]["incidents"]
    # The EE analyst sees their own link to FR (FR's incident is shared with the network) but not DE's values.
    ee = client.get(f"/api/v1/incidents/{secret['id']}/correlations", headers=cast["ee"].headers).json()
    assert [c["incident"] for c in ee["items"]] == [fr["id"]] and ee["items"][0]["observables"] == ["203.0.113.9"]
    # The outsider sees none of these incidents, so no correlation either.
    assert client.get(f"/api/v1/incidents/{fr['id']}/correlations", headers=cast["out"].headers).status_code == 404


def test_stale_incident_edit_gets_409(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = create(client, cast["fr"])
    url = f"/api/v1/incidents/{inc['id']}"
    ok = client.patch(url, json={"version": inc["version"], "status": "triage"}, headers=cast["fr"].headers)
    assert ok.status_code == 200 and ok.json()["status"] == "triage"
    stale = client.patch(url, json={"version": inc["version"], "title": "overwrite"}, headers=cast["fr2"].headers)
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]


def test_lifecycle_moves_and_reopen(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = create(client, cast["fr"])
    url = f"/api/v1/incidents/{inc['id']}"
    v = inc["version"]
    for status in ("ongoing", "contained", "resolved", "closed", "ongoing"):
        r = client.patch(url, json={"version": v, "status": status}, headers=cast["fr"].headers)
        assert r.status_code == 200, (status, r.text)
        v = r.json()["version"]
        assert (r.json()["handled_at"] is not None) == (status in ("resolved", "closed"))
    bad = client.patch(url, json={"version": v, "status": "new"}, headers=cast["fr"].headers)
    assert bad.status_code == 409 and "can move to" in bad.json()["detail"]


def test_other_organisations_cannot_edit(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = create(client, cast["fr"])
    r = client.patch(
        f"/api/v1/incidents/{inc['id']}", json={"version": 1, "title": "mine now"}, headers=cast["de"].headers
    )
    assert r.status_code == 403


def test_search_finds_by_text_and_by_observable_within_what_the_reader_sees(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    a = create(client, cast["fr"], title="Wiper at a water utility", sectors=["drinking-water"])
    create(client, cast["fr"], title="Wiper at a secret place", tlp="amber+strict", share_with={})
    by_text = client.get("/api/v1/incidents?q=wiper", headers=cast["de"].headers).json()["items"]
    assert [i["id"] for i in by_text] == [a["id"]]
    by_obs = client.get("/api/v1/incidents?q=198.51.100.7", headers=cast["de"].headers).json()["items"]
    assert a["id"] in {i["id"] for i in by_obs}
    by_sector = client.get("/api/v1/incidents?sector=drinking-water", headers=cast["de"].headers).json()["items"]
    assert [i["id"] for i in by_sector] == [a["id"]]


def test_escalation_shares_with_the_csirts_network(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = create(
        client,
        cast["fr"],
        tlp="amber",
        share_with={"organisations": []},
        countries=["FR", "DE"],
        facts={"member_states_significantly_affected": ["FR", "DE"]},  # large-scale: NIS2 Art. 6(7)
    )
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).status_code == 404
    assert inc["assessment"]["suggest_escalation"] is True
    r = client.post(f"/api/v1/incidents/{inc['id']}/escalate", json={}, headers=cast["fr"].headers)
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).status_code == 200


def test_timeline_collects_incident_and_report_events(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = create(client, cast["fr"])
    client.post(
        f"/api/v1/incidents/{inc['id']}/reports",
        json={"kind": "early-warning", "summary": "s"},
        headers=cast["fr"].headers,
    )
    tags = [e["tag"] for e in client.get(f"/api/v1/incidents/{inc['id']}/timeline", headers=cast["de"].headers).json()]
    assert tags[0] == "incidents:incident:create" and "incidents:report:submit" in tags


def test_taxonomies_endpoint_lists_the_namespaces(client: TestClient, cast: dict[str, Actor]) -> None:
    data = client.get("/api/v1/taxonomies", headers=cast["fr"].headers).json()
    assert {ns["namespace"] for ns in data} >= {"rsit", "nis", "nis2", "tlp", "PAP"}


def test_correlation_storage_is_one_row_per_value_and_sighting(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    from cybercrisis.incidents.models import Observable

    obs = [{"type": "ipv4-addr", "value": f"192.0.2.{i}"} for i in range(20)]
    for _ in range(5):
        create(client, cast["fr"], observables=obs)
    assert count(db, Observable) == 20
    assert count(db, Sighting) == 100
    db.execute(update(Incident).values(title="x"))  # the tables hold no pairwise correlation rows to keep in step
    db.rollback()
