"""Contributions, situation reports and the live picture through the API, under the access layer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.situation.models import ClosedPeriod, Contribution, ContributionVersion, Sitrep
from tests.conftest import Actor, World, count

NOW = datetime.now(UTC).replace(microsecond=0)
START = (NOW - timedelta(hours=12)).isoformat()
END = (NOW + timedelta(hours=12)).isoformat()


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.community("eu-cyclone", "operational")
    world.community("ipcr", "political")
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("ANSSI-CRISIS", type_="crisis-authority", country="FR", communities=("eu-cyclone",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("BSI-CRISIS", type_="crisis-authority", country="DE", communities=("eu-cyclone",))
    world.org("CERT-EE", country="EE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    world.org("Hospital", type_="entity", country="FR", parent="CERT-FR")
    return {
        "fr": world.user("CERT-FR"),
        "fr_crisis": world.user("ANSSI-CRISIS"),
        "de": world.user("CERT-Bund"),
        "de_crisis": world.user("BSI-CRISIS"),
        "ee": world.user("CERT-EE"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "enisa2": world.user("ENISA", roles=("coordinator",)),
        "hospital": world.user("Hospital"),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
    }


def contribution(**over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "country": "FR",
        "period_start": START,
        "period_end": END,
        "status": "degraded",
        "sectors": [{"sector": "energy", "impact": "red"}, {"sector": "health", "impact": "yellow"}],
        "services_disrupted": ["electricity distribution (regional)"],
        "entities_affected": 3,
        "outlook": "worsening",
        "narrative": "Ransomware at two grid operators.",
        "needs": "Forensic support for OT networks.",
        "measures": "Isolated SCADA networks.",
        "assistance_requested": True,
        "incidents": [],
        "tlp": "green",
        "share_with": {"communities": ["csirts-network", "eu-cyclone"]},
    }
    b.update(over)
    return b


def post_contribution(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/contributions", json=contribution(**over), headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def incident(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "title": "Ransomware at a grid operator",
        "tlp": "green",
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "countries": ["FR"],
        "sectors": ["energy"],
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "impact_severity": "red",
        "observables": [{"type": "ipv4-addr", "value": "198.51.100.7"}],
        "share_with": {"communities": ["csirts-network"]},
    }
    b.update(over)
    r = client.post("/api/v1/incidents", json=b, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


# --- contributions --------------------------------------------------------------------------------------------


def test_contribution_is_created_versioned_and_audited(client: TestClient, cast: dict[str, Actor], db: Session) -> None:
    c = post_contribution(client, cast["fr_crisis"])
    assert c["id"].startswith("contribution--") and c["state"] == "submitted" and c["country"] == "FR"
    assert c["sectors"] == [{"sector": "energy", "impact": "red"}, {"sector": "health", "impact": "yellow"}]
    change = {"version": c["version"], "status": "crisis", "narrative": "Ransomware at three grid operators."}
    r = client.patch(f"/api/v1/contributions/{c['id']}", json=change, headers=cast["fr_crisis"].headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "crisis" and r.json()["version"] == 2
    listed = client.get("/api/v1/contributions?country=FR", headers=cast["de"].headers).json()["items"]
    assert [(i["id"], i["share_with"]["communities"]) for i in listed] == [(c["id"], ["csirts-network", "eu-cyclone"])]
    versions = client.get(f"/api/v1/contributions/{c['id']}/versions", headers=cast["fr"].headers).json()
    assert [v["version"] for v in versions] == [1, 2]
    diff = client.get(f"/api/v1/contributions/{c['id']}/diff?from=1&to=2", headers=cast["fr"].headers).json()
    fields = {ch["field"]: ch for ch in diff["changes"]}
    assert set(fields) == {"status", "narrative"}
    assert fields["status"]["before"] == "degraded" and fields["status"]["after"] == "crisis"
    assert "+Ransomware at three grid operators." in fields["narrative"]["diff"]
    # A stale version is refused and changes nothing.
    r = client.patch(
        f"/api/v1/contributions/{c['id']}", json={"version": 1, "status": "normal"}, headers=cast["fr_crisis"].headers
    )
    assert r.status_code == 409
    assert count(db, ContributionVersion, ContributionVersion.contribution_id == c["id"]) == 2
    assert count(db, AuditEvent, AuditEvent.object_id == c["id"]) == 2


@pytest.mark.parametrize(
    ("who", "over", "status", "needle"),
    [
        ("de_crisis", {}, 403, "only the national"),  # a German authority speaking for France
        ("hospital", {}, 403, "only the national"),  # an entity is not a national authority
        ("enisa", {}, 403, "only the national"),
        ("fr_viewer", {}, 403, "situation:contribution:write"),
        ("fr_crisis", {"sectors": [{"sector": "aviation-ish", "impact": "red"}]}, 422, "not a NIS2 sector"),
        ("fr_crisis", {"sectors": [{"sector": "energy", "impact": "purple"}]}, 422, "NIS impact severity"),
        ("fr_crisis", {"status": "defcon-1"}, 422, "not valid for status"),
        ("fr_crisis", {"outlook": "sunny"}, 422, "not valid for outlook"),
        ("fr_crisis", {"tlp": "white"}, 422, "TLP 1.0"),
        ("fr_crisis", {"period_end": START}, 422, "must end after"),
        (
            "fr_crisis",
            {
                "period_start": (NOW - timedelta(days=60)).isoformat(),
                "period_end": (NOW - timedelta(days=40)).isoformat(),
            },
            409,
            "closed",
        ),
        (
            "fr_crisis",
            {
                "period_start": (NOW + timedelta(days=2)).isoformat(),
                "period_end": (NOW + timedelta(days=3)).isoformat(),
            },
            422,
            "not started",
        ),
        ("fr_crisis", {"incidents": ["incident--00000000-0000-4000-8000-000000000000"]}, 422, "no incident"),
        ("fr_crisis", {"country": "XX"}, 422, "alpha-2"),
        ("fr_crisis", {"unknown": 1}, 422, "unknown"),
    ],
)
def test_bad_contributions_are_refused_and_write_nothing(
    client: TestClient, cast: dict[str, Actor], db: Session, who: str, over: dict[str, Any], status: int, needle: str
) -> None:
    before = count(db, AuditEvent)
    r = client.post("/api/v1/contributions", json=contribution(**over), headers=cast[who].headers)
    assert r.status_code == status, r.text
    assert needle in r.text
    assert count(db, Contribution) == 0
    assert count(db, AuditEvent) == before


def test_contribution_cannot_be_wider_than_its_incidents(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    amber = incident(client, cast["fr"], tlp="amber", share_with={"organisations": [cast["fr_crisis"].org_id]})
    r = client.post(
        "/api/v1/contributions",
        json=contribution(incidents=[amber["id"]], tlp="green"),
        headers=cast["fr_crisis"].headers,
    )
    assert r.status_code == 422 and "wider than the linked incidents" in r.text
    assert count(db, Contribution) == 0
    ok = post_contribution(client, cast["fr_crisis"], incidents=[amber["id"]], tlp="amber")
    assert ok["incidents"] == [amber["id"]]


def test_greek_code_el_is_greece(client: TestClient, cast: dict[str, Actor], world: World) -> None:
    world.org("GR-CSIRT", country="GR", communities=("csirts-network",))
    gr = world.user("GR-CSIRT")
    c = post_contribution(client, gr, country="EL")
    assert c["country"] == "GR"


def test_closed_period_refuses_contributions(client: TestClient, cast: dict[str, Actor], db: Session) -> None:
    r = client.post(
        "/api/v1/periods/close", json={"period_start": START, "period_end": END}, headers=cast["enisa"].headers
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/contributions", json=contribution(), headers=cast["fr_crisis"].headers)
    assert r.status_code == 409 and "closed" in r.text
    assert count(db, Contribution) == 0
    # an analyst may not close periods
    r = client.post(
        "/api/v1/periods/close", json={"period_start": START, "period_end": END}, headers=cast["fr"].headers
    )
    assert r.status_code == 403
    assert count(db, ClosedPeriod) == 1


def test_draft_contribution_stays_out_of_the_picture_until_submitted(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    c = post_contribution(client, cast["fr_crisis"], draft=True)
    assert c["state"] == "draft"
    assert "FR" not in client.get("/api/v1/situation", headers=cast["enisa"].headers).json()["countries"]
    r = client.post(
        f"/api/v1/contributions/{c['id']}/submit", json={"version": c["version"]}, headers=cast["fr_crisis"].headers
    )
    assert r.status_code == 200, r.text
    fr = client.get("/api/v1/situation", headers=cast["enisa"].headers).json()["countries"]["FR"]
    assert fr["status"] == "degraded" and fr["contribution"] == c["id"]


# --- situation reports ----------------------------------------------------------------------------------------


def test_operational_report_is_drafted_from_visible_contributions(client: TestClient, cast: dict[str, Actor]) -> None:
    fr = post_contribution(client, cast["fr_crisis"])
    de = post_contribution(
        client,
        cast["de_crisis"],
        country="DE",
        status="elevated",
        outlook="stable",
        sectors=[{"sector": "transport", "impact": "green"}],
        assistance_requested=False,
        needs="",
    )
    # A contribution ENISA may not see (shared with nobody but its author's organisation)
    hidden = post_contribution(client, cast["fr"], status="crisis", tlp="amber", share_with={})
    r = client.post(
        "/api/v1/sitreps",
        json={"level": "operational", "period_start": START, "period_end": END},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 201, r.text
    rep = r.json()
    assert rep["state"] == "draft" and rep["version"] == 1 and rep["sources"] == 2 and "withheld" not in rep
    # The draft's answer (from the inputs just gathered) is what reading the frozen sources gives.
    again = client.get(f"/api/v1/sitreps/{rep['id']}", headers=cast["enisa"].headers).json()
    assert again["figures"] == rep["figures"] and again["sources"] == rep["sources"]
    status = next(t for t in rep["figures"]["tables"] if t["key"] == "country-status")
    rows = {row["cells"]["country"]: row for row in status["rows"]}
    assert set(rows) == {"FR", "DE"}
    assert rows["FR"]["cells"]["status"] == "degraded" and rows["FR"]["sources"] == [fr["id"]]
    assert rows["DE"]["sources"] == [de["id"]]
    assert hidden["id"] not in str(rep)
    headline = {n["key"]: n for n in rep["figures"]["headline"]}
    assert headline["assistance"]["value"] == 1 and headline["assistance"]["sources"] == [fr["id"]]
    assert rep["marking"] == "green"


def test_report_shows_each_reader_only_what_they_may_see(client: TestClient, cast: dict[str, Actor]) -> None:
    """The German CSIRT reads the published technical report but not the French AMBER incident in it."""
    shared = incident(client, cast["fr"])
    private = incident(
        client,
        cast["fr"],
        tlp="amber",
        title="Insider at a hospital",
        share_with={"organisations": [cast["enisa"].org_id]},
        rsit_class="intrusions",
        rsit_type="system-compromise",
        countries=["FR", "DE"],
    )
    de_inc = incident(client, cast["de"], countries=["DE"])
    rep = client.post(
        "/api/v1/sitreps",
        json={"level": "technical", "period_start": START, "period_end": END},
        headers=cast["enisa"].headers,
    ).json()
    assert rep["sources"] == 3 and rep["marking"] == "amber"  # the drafter sees the AMBER incident
    # Publish: approval by a second person, then publication to the CSIRTs Network.
    r = client.post(f"/api/v1/sitreps/{rep['id']}/approve", json={"version": 1}, headers=cast["enisa"].headers)
    assert r.status_code == 403 and "four eyes" in r.text
    assert (
        client.post(
            f"/api/v1/sitreps/{rep['id']}/approve", json={"version": 1}, headers=cast["enisa2"].headers
        ).status_code
        == 200
    )
    r = client.post(f"/api/v1/sitreps/{rep['id']}/publish", json={"version": 1}, headers=cast["enisa"].headers)
    assert r.status_code == 200, r.text
    seen = client.get(f"/api/v1/sitreps/{rep['id']}", headers=cast["de"].headers).json()
    assert seen["sources"] == 2 and "withheld" not in seen and seen["marking"] == "green"
    assert private["id"] not in str(seen) and "Insider" not in str(seen)
    by_class = next(t for t in seen["figures"]["tables"] if t["key"] == "incidents-by-class")
    assert [(r["cells"]["class"], r["cells"]["incidents"]) for r in by_class["rows"]] == [("malicious-code", 2)]
    # the shared observable links FR and DE only through visible incidents
    shared_obs = next(t for t in seen["figures"]["tables"] if t["key"] == "shared-observables")
    assert [r["cells"]["countries"] for r in shared_obs["rows"]] == [["DE", "FR"]]
    assert set(shared_obs["rows"][0]["sources"]) >= {shared["id"], de_inc["id"]}
    # A reader outside the audience does not find it at all.
    assert client.get(f"/api/v1/sitreps/{rep['id']}", headers=cast["fr_crisis"].headers).status_code == 404


def test_draft_report_is_not_visible_to_its_audience(client: TestClient, cast: dict[str, Actor]) -> None:
    rep = client.post(
        "/api/v1/sitreps",
        json={"level": "technical", "period_start": START, "period_end": END},
        headers=cast["enisa"].headers,
    ).json()
    assert client.get(f"/api/v1/sitreps/{rep['id']}", headers=cast["de"].headers).status_code == 404
    assert rep["id"] not in client.get("/api/v1/sitreps", headers=cast["de"].headers).text
    # publishing an unapproved version is refused
    r = client.post(f"/api/v1/sitreps/{rep['id']}/publish", json={"version": 1}, headers=cast["enisa"].headers)
    assert r.status_code == 409


def test_report_versions_edit_rebuild_diff_and_period_closing(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    post_contribution(client, cast["fr_crisis"])
    rep = client.post(
        "/api/v1/sitreps",
        json={"level": "operational", "period_start": START, "period_end": END},
        headers=cast["enisa"].headers,
    ).json()
    r = client.patch(
        f"/api/v1/sitreps/{rep['id']}",
        json={"version": 1, "summary": "France is degraded.", "decisions_needed": "None yet."},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    post_contribution(client, cast["de_crisis"], country="DE", status="crisis")
    r = client.post(f"/api/v1/sitreps/{rep['id']}/rebuild", json={"version": 2}, headers=cast["enisa"].headers)
    assert r.status_code == 200 and r.json()["version"] == 3 and r.json()["text"]["summary"] == "France is degraded."
    diff = client.get(f"/api/v1/sitreps/{rep['id']}/diff?from=1&to=3", headers=cast["enisa"].headers).json()
    fields = {c["field"] for c in diff["changes"]}
    assert {"summary", "decisions_needed", "headline.contributions"} <= fields
    stale = client.patch(
        f"/api/v1/sitreps/{rep['id']}", json={"version": 2, "notes": "x"}, headers=cast["enisa"].headers
    )
    assert stale.status_code == 409
    client.post(f"/api/v1/sitreps/{rep['id']}/approve", json={"version": 3}, headers=cast["enisa2"].headers)
    assert (
        client.post(
            f"/api/v1/sitreps/{rep['id']}/publish", json={"version": 3}, headers=cast["enisa"].headers
        ).status_code
        == 200
    )
    # Publication closed the period: a late contribution goes to the next period.
    r = client.post("/api/v1/contributions", json=contribution(country="EE"), headers=cast["ee"].headers)
    assert r.status_code == 409 and "closed" in r.text
    assert count(db, Sitrep) == 1


@pytest.mark.parametrize(
    ("who", "body", "status"),
    [
        ("fr", {"level": "technical"}, 403),  # analysts do not draft EU reports
        ("enisa", {"level": "strategic"}, 422),
        ("enisa", {"level": "technical", "period_end": START}, 422),
        ("enisa", {"level": "technical", "tlp": "white"}, 422),
        ("enisa", {"level": "technical", "share_with": {"communities": ["no-such"]}}, 422),
    ],
)
def test_bad_report_requests(
    client: TestClient, cast: dict[str, Actor], db: Session, who: str, body: dict[str, Any], status: int
) -> None:
    payload = {"period_start": START, "period_end": END, **body}
    r = client.post("/api/v1/sitreps", json=payload, headers=cast[who].headers)
    assert r.status_code == status, r.text
    assert count(db, Sitrep) == 0


# --- the live picture -----------------------------------------------------------------------------------------


def test_situation_is_filtered_per_reader_and_follows_changes(client: TestClient, cast: dict[str, Actor]) -> None:
    incident(client, cast["fr"], tlp="amber", share_with={"organisations": [cast["enisa"].org_id]})
    before = client.get("/api/v1/situation", headers=cast["de"].headers).json()
    assert "FR" not in before["countries"] and before["open_incidents"]["total"] == 0
    enisa = client.get("/api/v1/situation", headers=cast["enisa"].headers).json()
    assert enisa["countries"]["FR"]["open_incidents"] == 1 and enisa["open_incidents"]["by_severity"]["red"] == 1
    post_contribution(client, cast["fr_crisis"])
    after = client.get("/api/v1/situation", headers=cast["de"].headers).json()
    assert after["countries"]["FR"]["status"] == "degraded"
    assert after["heat"]["FR"]["energy"] == "red"
    assert client.get("/api/v1/situation").status_code == 401
