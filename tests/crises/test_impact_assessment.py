"""EU-CyCLONe's impact assessment and proposed response options, handed to and decided by the political level
(NIS2 Art. 16(3)(c), (d))."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.crises.assessment_models import ImpactAssessment
from cybercrisis.db import unit_of_work
from cybercrisis.directory.models import CommunityMembership
from tests.conftest import Actor, World, count


@pytest.fixture
def cast(world: World, settings: Settings, tmp_path: Path, session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    world.community("csirts-network")
    world.community("eu-cyclone", "operational")
    world.community("ipcr", "political")
    world.org("ANSSI-CRISIS", type_="crisis-authority", country="FR", communities=("eu-cyclone",))
    world.org("BSI-CRISIS", type_="crisis-authority", country="DE", communities=("eu-cyclone",))
    world.org("ENISA", type_="eu-body", country=None, communities=("eu-cyclone",))
    world.org("PRESIDENCY", type_="eu-body", country=None, communities=("ipcr",))
    world.org("FR-IPCR", type_="competent-authority", country="FR", communities=("ipcr",))
    world.org("OUTSIDER", type_="partner", country=None)
    # ENISA provides EU-CyCLONe's secretariat (NIS2 Art. 16(2)): it supports, it does not author.
    with unit_of_work(session_factory) as s:
        s.execute(
            update(CommunityMembership)
            .where(CommunityMembership.org_id == world.orgs["ENISA"])
            .values(role="secretariat")
        )
    settings.political_deciders = world.orgs["PRESIDENCY"]
    model = {
        "note": "test model",
        "stages": [
            {"key": "eu-cyclone", "label": "EU-CyCLONe", "level": "operational", "community": "eu-cyclone"},
            {
                "key": "ipcr",
                "label": "IPCR",
                "level": "political",
                "community": "ipcr",
                "approvers": [world.orgs["PRESIDENCY"]],
            },
        ],
    }
    path = tmp_path / "escalation.json"
    path.write_text(json.dumps(model))
    settings.escalation_model = path
    return {
        "fr": world.user("ANSSI-CRISIS", roles=("coordinator",)),
        "de": world.user("BSI-CRISIS", roles=("coordinator",)),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "presidency": world.user("PRESIDENCY", roles=("coordinator",)),
        "fr_ipcr": world.user("FR-IPCR", roles=("coordinator",)),
        "outsider": world.user("OUTSIDER", roles=("coordinator",)),
    }


@pytest.fixture
def crisis(client: TestClient, cast: dict[str, Actor]) -> str:
    r = client.post(
        "/api/v1/crises",
        json={
            "title": "Wiper campaign against energy",
            "justification": "Significant impact in two Member States",
            "tlp": "amber",
            "share_with": {"communities": ["eu-cyclone"]},
        },
        headers=cast["fr"].headers,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def assessment_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Impact of the wiper campaign",
        "summary": "Two Member States report disruption of electricity distribution.",
        "impacts": [
            {"sector": "energy", "country": "FR", "impact": "red", "consequences": "Regional outage."},
            {"sector": "energy", "country": "DE", "impact": "yellow", "consequences": "Degraded monitoring."},
        ],
        "options": [
            {
                "title": "Request the EU Cybersecurity Reserve",
                "description": "OT forensics for FR and DE.",
                "pros": ["capacity within days"],
                "cons": ["clearances needed"],
            },
            {
                "title": "Joint public statement",
                "description": "Reassure the public.",
                "pros": ["trust"],
                "cons": ["may tip off the actor"],
            },
        ],
    }
    body.update(over)
    return body


def _create(client: TestClient, actor: Actor, crisis: str, **over: Any) -> dict[str, Any]:
    r = client.post(f"/api/v1/crises/{crisis}/assessments", json=assessment_body(**over), headers=actor.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_assessment_goes_from_eu_cyclone_to_the_political_level_which_chooses_an_option(
    client: TestClient, cast: dict[str, Actor], crisis: str, db: Session
) -> None:
    a = _create(client, cast["fr"], crisis)
    assert a["state"] == "draft" and [o["key"] for o in a["options"]] == ["option-1", "option-2"]
    assert a["allowed_actions"] == ["edit", "submit"]
    # EU-CyCLONe reads the draft; the political level does not, yet.
    assert client.get(f"/api/v1/assessments/{a['id']}", headers=cast["de"].headers).status_code == 200
    assert client.get(f"/api/v1/assessments/{a['id']}", headers=cast["presidency"].headers).status_code == 404

    r = client.post(f"/api/v1/assessments/{a['id']}/submit", json={"version": a["version"]}, headers=cast["fr"].headers)
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["state"] == "submitted" and a["deciders"] == [cast["presidency"].org_id]
    seen = client.get(f"/api/v1/assessments/{a['id']}", headers=cast["presidency"].headers)
    assert seen.status_code == 200 and seen.json()["allowed_actions"] == ["discuss"]
    # A Member State's IPCR representative reads it too (the IPCR community), but the Presidency decides.
    rep = client.get(f"/api/v1/assessments/{a['id']}", headers=cast["fr_ipcr"].headers)
    assert rep.status_code == 200 and rep.json()["allowed_actions"] == []

    r = client.post(
        f"/api/v1/assessments/{a['id']}/discuss",
        json={"version": a["version"], "notes": "IPCR roundtable: option-1 preferred."},
        headers=cast["presidency"].headers,
    )
    assert r.status_code == 200 and r.json()["state"] == "discussed", r.text
    a = r.json()
    r = client.post(
        f"/api/v1/assessments/{a['id']}/decide",
        json={"version": a["version"], "option": "option-1", "rationale": "Fastest relief for the operators."},
        headers=cast["presidency"].headers,
    )
    assert r.status_code == 200, r.text
    decided = r.json()
    assert (decided["state"], decided["chosen_option"], decided["decided_by"]) == (
        "decided",
        "option-1",
        cast["presidency"].org_id,
    )
    # The authors see the political level's choice.
    assert client.get(f"/api/v1/assessments/{a['id']}", headers=cast["fr"].headers).json()["chosen_option"] == (
        "option-1"
    )
    db.rollback()
    tags = [e.tag for e in db.query(AuditEvent).filter(AuditEvent.object_id == a["id"]).order_by(AuditEvent.seq)]
    assert tags == [
        "crises:assessment:create",
        "crises:assessment:submit",
        "crises:assessment:discuss",
        "crises:assessment:decide",
    ]


@pytest.mark.parametrize("who", ["enisa", "presidency", "outsider"])
def test_only_eu_cyclone_members_author_an_assessment(
    client: TestClient, cast: dict[str, Actor], crisis: str, db: Session, who: str
) -> None:
    if who != "enisa":  # they must read the crisis first, or it is simply not found
        r = client.put(
            f"/api/v1/crises/{crisis}/sharing",
            json={"tlp": "amber", "share_with": {"communities": ["eu-cyclone"], "organisations": [cast[who].org_id]}},
            headers=cast["fr"].headers,
        )
        assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/crises/{crisis}/assessments", json=assessment_body(), headers=cast[who].headers)
    assert r.status_code == 403, r.text
    assert count(db, ImpactAssessment) == 0


def test_eu_cyclone_does_not_decide_and_the_presidency_does_not_edit(
    client: TestClient, cast: dict[str, Actor], crisis: str
) -> None:
    a = _create(client, cast["fr"], crisis)
    assert (
        client.patch(
            f"/api/v1/assessments/{a['id']}",
            json={"version": a["version"], "title": "Mine"},
            headers=cast["de"].headers,
        ).status_code
        == 403
    )
    a = client.post(
        f"/api/v1/assessments/{a['id']}/submit", json={"version": a["version"]}, headers=cast["fr"].headers
    ).json()
    for who in ("fr", "de", "fr_ipcr"):
        r = client.post(
            f"/api/v1/assessments/{a['id']}/discuss",
            json={"version": a["version"], "notes": "x"},
            headers=cast[who].headers,
        )
        assert r.status_code == 403, (who, r.text)
    assert (
        client.patch(
            f"/api/v1/assessments/{a['id']}",
            json={"version": a["version"], "title": "Changed"},
            headers=cast["presidency"].headers,
        ).status_code
        == 403
    )
    # Deciding comes after the discussion is recorded.
    r = client.post(
        f"/api/v1/assessments/{a['id']}/decide",
        json={"version": a["version"], "option": "option-1", "rationale": "r"},
        headers=cast["presidency"].headers,
    )
    assert r.status_code == 409


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"impacts": [{"sector": "lunar-mining", "country": "FR", "impact": "red"}]}, "impacts.0.sector"),
        ({"impacts": [{"sector": "energy", "country": "XX", "impact": "red"}]}, "impacts.0.country"),
        ({"impacts": [{"sector": "energy", "country": "FR", "impact": "purple"}]}, "impacts.0.impact"),
        ({"tlp": "red"}, "tlp"),
        ({"title": "   "}, "title"),
    ],
)
def test_bad_assessments_are_refused_naming_the_field(
    client: TestClient, cast: dict[str, Actor], crisis: str, db: Session, over: dict[str, Any], field: str
) -> None:
    r = client.post(f"/api/v1/crises/{crisis}/assessments", json=assessment_body(**over), headers=cast["fr"].headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == field
    assert count(db, ImpactAssessment) == 0


def test_submitting_needs_options_and_deciding_needs_one_of_them(
    client: TestClient, cast: dict[str, Actor], crisis: str
) -> None:
    bare = _create(client, cast["fr"], crisis, options=[])
    r = client.post(
        f"/api/v1/assessments/{bare['id']}/submit", json={"version": bare["version"]}, headers=cast["fr"].headers
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "options"
    a = _create(client, cast["fr"], crisis)
    a = client.post(
        f"/api/v1/assessments/{a['id']}/submit", json={"version": a["version"]}, headers=cast["fr"].headers
    ).json()
    a = client.post(
        f"/api/v1/assessments/{a['id']}/discuss",
        json={"version": a["version"], "notes": "Discussed."},
        headers=cast["presidency"].headers,
    ).json()
    r = client.post(
        f"/api/v1/assessments/{a['id']}/decide",
        json={"version": a["version"], "option": "option-9", "rationale": "r"},
        headers=cast["presidency"].headers,
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "option"
    stale = client.post(
        f"/api/v1/assessments/{a['id']}/decide",
        json={"version": a["version"] - 1, "option": "option-1", "rationale": "r"},
        headers=cast["presidency"].headers,
    )
    assert stale.status_code == 409


def test_assessment_endpoints_are_documented_with_examples(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {
        "create_impact_assessment",
        "submit_impact_assessment",
        "discuss_impact_assessment",
        "decide_impact_assessment",
        "preview_sitrep",
    } <= ops
    assert spec["components"]["schemas"]["AssessmentIn"]["examples"]
    assert spec["components"]["schemas"]["SitrepPreviewOut"]["examples"]
