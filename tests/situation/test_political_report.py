"""Political-level reports (ISAA): authored by Commission services and the EEAS, previewed as their audience will
see them, and published with exactly those figures (issue 13: the hand-over to the political level)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.situation.models import Sitrep, SitrepVersion
from tests.conftest import Actor, World, count

NOW = datetime.now(UTC).replace(microsecond=0)
START = (NOW - timedelta(hours=12)).isoformat()
END = (NOW + timedelta(hours=12)).isoformat()


@pytest.fixture
def cast(world: World, settings: Settings) -> dict[str, Actor]:
    world.community("eu-cyclone", "operational")
    world.community("ipcr", "political")
    world.org("ENISA", type_="eu-body", country=None, communities=("eu-cyclone",))
    world.org("DG-CONNECT", type_="eu-body", country=None, communities=("eu-cyclone", "ipcr"))
    world.org("EEAS", type_="eu-body", country=None, communities=("ipcr",))
    world.org("PRESIDENCY", type_="eu-body", country=None, communities=("ipcr",))
    world.org("ANSSI-CRISIS", type_="crisis-authority", country="FR", communities=("eu-cyclone",))
    # A Member State's representative in the IPCR (the political level), not an EU body.
    world.org("FR-IPCR", type_="competent-authority", country="FR", communities=("ipcr",))
    # The deployment names its ISAA authors: Commission services and the EEAS (C/2025/3445, recital 3).
    settings.isaa_authors = f"{world.orgs['DG-CONNECT']},{world.orgs['EEAS']}"
    return {
        "author": world.user("DG-CONNECT", roles=("coordinator",)),
        "approver": world.user("DG-CONNECT", roles=("coordinator",)),
        "eeas": world.user("EEAS", roles=("coordinator",)),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "fr_crisis": world.user("ANSSI-CRISIS"),
        "presidency": world.user("PRESIDENCY", roles=("viewer",)),
        "fr_ipcr": world.user("FR-IPCR", roles=("viewer",)),
    }


def _contribution(client: TestClient, actor: Actor) -> str:
    body = {
        "country": "FR",
        "period_start": START,
        "period_end": END,
        "status": "degraded",
        "outlook": "worsening",
        "sectors": [{"sector": "energy", "impact": "red"}],
        "tlp": "green",
        "share_with": {"communities": ["eu-cyclone", "ipcr"]},
    }
    r = client.post("/api/v1/contributions", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _incident(client: TestClient, actor: Actor, *, title: str, tlp: str, share_with: dict[str, Any]) -> str:
    body = {
        "title": title,
        "tlp": tlp,
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "countries": ["FR", "DE"],
        "sectors": ["energy"],
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "impact_severity": "red",
        "share_with": share_with,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _headline(figures: dict[str, Any]) -> dict[str, Any]:
    return {n["key"]: n["value"] for n in figures["headline"]}


def _sources_named(figures: dict[str, Any]) -> set[str]:
    named = {s for n in figures["headline"] for s in n["sources"]}
    for table in figures["tables"]:
        named |= {s for row in table["rows"] for s in row["sources"]}
    return named


def _approved_report(client: TestClient, cast: dict[str, Actor]) -> dict[str, Any]:
    rep = client.post(
        "/api/v1/sitreps",
        json={"level": "political", "period_start": START, "period_end": END, "tlp": "amber"},
        headers=cast["author"].headers,
    )
    assert rep.status_code == 201, rep.text
    r = client.post(
        f"/api/v1/sitreps/{rep.json()['id']}/approve", json={"version": 1}, headers=cast["approver"].headers
    )
    assert r.status_code == 200, r.text
    return rep.json()  # type: ignore[no-any-return]


def test_presidency_and_member_state_representative_read_the_figures_the_approver_previewed(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    contribution = _contribution(client, cast["fr_crisis"])
    shared = _incident(
        client, cast["author"], title="Wiper at a grid operator", tlp="green", share_with={"communities": ["ipcr"]}
    )
    # Only the author's organisation reads this one: it must not be counted in what the audience is told.
    own = _incident(client, cast["author"], title="Internal lead, not shared", tlp="amber", share_with={})
    rep = _approved_report(client, cast)
    author_view = _headline(rep["figures"])
    assert author_view["incidents"] == 2  # the author sees both while drafting

    preview = client.get(f"/api/v1/sitreps/{rep['id']}/preview?version=1", headers=cast["approver"].headers)
    assert preview.status_code == 200, preview.text
    seen = preview.json()
    assert _headline(seen["figures"])["incidents"] == 1 and _headline(seen["figures"])["contributions"] == 1
    assert own not in _sources_named(seen["figures"]) and {shared, contribution} <= _sources_named(seen["figures"])
    assert {cast["presidency"].org_id, cast["fr_ipcr"].org_id} <= set(seen["audience"])

    r = client.post(
        f"/api/v1/sitreps/{rep['id']}/publish",
        json={"version": 1, "previewed": seen["digest"]},
        headers=cast["approver"].headers,
    )
    assert r.status_code == 200, r.text
    for who in ("presidency", "fr_ipcr", "eeas"):
        got = client.get(f"/api/v1/sitreps/{rep['id']}", headers=cast[who].headers)
        assert got.status_code == 200, (who, got.text)
        assert got.json()["figures"] == seen["figures"], who
        assert got.json()["sources"] == seen["sources"] == 2
    # The author's organisation, too, now reads the published version as it was published.
    assert (
        client.get(f"/api/v1/sitreps/{rep['id']}", headers=cast["author"].headers).json()["figures"]
        == (seen["figures"])
    )
    db.rollback()
    stored = db.get(SitrepVersion, (rep["id"], 1))
    assert (
        stored is not None and stored.audience_figures == seen["figures"] and stored.audience_digest == seen["digest"]
    )
    assert own not in (stored.audience_sources or [])
    published = db.query(AuditEvent).filter(AuditEvent.tag == "situation:sitrep:publish").one()
    assert json.loads(published.summary)["digest"] == seen["digest"]


def test_publishing_refuses_when_what_the_audience_may_read_changed_since_the_preview(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    incident = _incident(client, cast["author"], title="Shared later", tlp="amber", share_with={})
    rep = _approved_report(client, cast)
    digest = client.get(f"/api/v1/sitreps/{rep['id']}/preview?version=1", headers=cast["approver"].headers).json()[
        "digest"
    ]
    # The originator now shares the incident with the IPCR (arranged directly: the sharing paths are tested apart).
    db.add(Share(object_id=incident, kind="community", target="ipcr", added_by_org_id=cast["author"].org_id))
    db.commit()
    refused = client.post(
        f"/api/v1/sitreps/{rep['id']}/publish",
        json={"version": 1, "previewed": digest},
        headers=cast["approver"].headers,
    )
    assert refused.status_code == 409 and "preview" in refused.json()["detail"]
    assert count(db, Sitrep, Sitrep.published_version.is_not(None)) == 0


def test_preview_is_the_approvers_and_for_political_reports_only(client: TestClient, cast: dict[str, Actor]) -> None:
    rep = _approved_report(client, cast)
    r = client.post(f"/api/v1/sitreps/{rep['id']}/publish", json={"version": 1}, headers=cast["approver"].headers)
    assert r.status_code == 200
    # A reader of the published report is not its approver.
    assert (
        client.get(f"/api/v1/sitreps/{rep['id']}/preview?version=1", headers=cast["presidency"].headers).status_code
        == 403
    )
    other = client.post(
        "/api/v1/sitreps",
        json={"level": "operational", "period_start": START, "period_end": END},
        headers=cast["enisa"].headers,
    ).json()
    bad = client.get(f"/api/v1/sitreps/{other['id']}/preview?version=1", headers=cast["enisa"].headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "level"


@pytest.mark.parametrize("who", ["enisa", "fr_crisis", "presidency"])
def test_only_commission_services_and_the_eeas_draft_a_political_report(
    client: TestClient, cast: dict[str, Actor], db: Session, who: str
) -> None:
    r = client.post(
        "/api/v1/sitreps",
        json={"level": "political", "period_start": START, "period_end": END},
        headers=cast[who].headers,
    )
    assert r.status_code == 403, r.text
    assert count(db, Sitrep) == 0


def test_the_eeas_drafts_a_political_report_titled_isaa(client: TestClient, cast: dict[str, Actor]) -> None:
    r = client.post(
        "/api/v1/sitreps",
        json={"level": "political", "period_start": START, "period_end": END},
        headers=cast["eeas"].headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "Integrated Situational Awareness and Analysis (ISAA) report"


def test_approver_page_shows_the_audience_figures_and_publishes_them(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    from tests.web.conftest import HTML, csrf_on, sign_in

    _incident(client, cast["author"], title="Internal lead, not shared", tlp="amber", share_with={})
    rep = _approved_report(client, cast)
    assert sign_in(client, cast["approver"].email).status_code == 303
    page = client.get(f"/sitreps/{rep['id']}", headers=HTML)
    assert page.status_code == 200 and "As its audience will see it" in page.text
    digest = client.get(f"/api/v1/sitreps/{rep['id']}/preview?version=1", headers=cast["approver"].headers).json()[
        "digest"
    ]
    assert f'name="previewed" value="{digest}"' in page.text
    token = csrf_on(client, f"/sitreps/{rep['id']}")
    done = client.post(
        f"/sitreps/{rep['id']}/publish",
        data={"csrf_token": token, "version": "1", "previewed": digest},
        headers=HTML,
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    db.rollback()
    stored = db.get(SitrepVersion, (rep["id"], 1))
    assert stored is not None and stored.audience_digest == digest and stored.audience_sources == []
