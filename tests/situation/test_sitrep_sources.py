"""The inputs of a report as the database gives them (situation/sources.py), and their frozen and JSON forms.

The selection was rewritten for speed (docs/performance.md, "Report drafts"): these tests pin what it selects, the
frozen form of an incident, and the plain form of a picture, against independent statements of each.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.accounts.service import principal_from_token
from cybercrisis.situation import aggregate, sources
from cybercrisis.situation.aggregate import ContributionInput, IncidentInput, Inputs, ObservableInput
from tests.conftest import Actor, World

NOW = datetime.now(UTC).replace(microsecond=0)
START, END = NOW - timedelta(days=2), NOW - timedelta(hours=1)


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("CERT-EE", country="EE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network",))
    return {
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "ee": world.user("CERT-EE"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
    }


def incident(client: TestClient, actor: Actor, countries: list[str], values: list[str], **over: Any) -> str:
    body: dict[str, Any] = {
        "title": "Phishing wave",
        "tlp": "green",
        "aware_at": (NOW - timedelta(hours=5)).isoformat(),
        "countries": countries,
        "sectors": ["health", "energy"],
        "rsit_class": "fraud",
        "observables": [{"type": "domain-name", "value": v} for v in values],
        "share_with": {"communities": ["csirts-network"]},
    }
    body.update(over)
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_gather_keeps_values_seen_across_member_states_through_visible_incidents_of_the_period(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    fr = incident(client, cast["fr"], ["FR"], ["both.example", "hidden.example", "home.example", "late.example"])
    de = incident(client, cast["de"], ["DE", "EE"], ["both.example"])
    # Shared with nobody but its owner: ENISA does not see it, so its sighting links nothing for ENISA.
    incident(client, cast["ee"], ["EE"], ["hidden.example"], tlp="amber+strict", share_with={})
    incident(client, cast["fr"], ["FR"], ["home.example"])  # a second sighting, but in the same Member State
    incident(client, cast["de"], ["DE"], ["late.example"], aware_at=(NOW - timedelta(minutes=30)).isoformat())
    enisa = principal_from_token(db, cast["enisa"].token)
    assert enisa is not None

    inputs = sources.gather(db, enisa, START, END)

    by_id = {i.id: i for i in inputs.incidents}
    assert by_id[de].countries == ("DE", "EE") and by_id[de].sectors == ("energy", "health")
    assert by_id[fr].countries == ("FR",)
    assert len(inputs.incidents) == 3  # FR's two and DE's first; the hidden one and the late one are not inputs
    assert [(o.value, o.incidents) for o in inputs.observables] == [("both.example", tuple(sorted([fr, de])))]
    assert inputs.observables[0].id.startswith("observable--")


def _asdict_picture(p: aggregate.Picture) -> dict[str, Any]:
    """What `Picture.as_dict` gave when it was written with `dataclasses.asdict`."""
    return {
        "level": p.level,
        "marking": p.marking,
        "headline": [dataclasses.asdict(n) for n in p.headline],
        "tables": [
            {
                "key": t.key,
                "title": t.title,
                "columns": [{"key": k, "label": label} for k, label in t.columns],
                "rows": [dataclasses.asdict(r) for r in t.rows],
            }
            for t in p.tables
        ],
        "countries": {c: dataclasses.asdict(cell) for c, cell in sorted(p.countries.items())},
        "heat": p.heat,
    }


def _inputs() -> Inputs:
    t0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    incidents = tuple(
        IncidentInput(
            f"incident--{n}",
            "green" if n % 3 else "amber",
            f"Incident {n}",
            ("ongoing", "closed", "new")[n % 3],
            t0 - timedelta(hours=n),
            (("FR", "DE"), ("DE",), ("EE",))[n % 3],
            ("energy",) if n % 2 else ("health", "energy"),
            ("malicious-code", "fraud", None)[n % 3],
            "infected-system",
            ("red", "yellow", None)[n % 3],
            n % 3 == 0,
        )
        for n in range(9)
    )
    contributions = tuple(
        ContributionInput(
            f"contribution--{cc}",
            "green",
            cc,
            t0 - timedelta(days=1),
            t0,
            status,
            "worsening",
            t0,
            (("energy", "red"), ("health", "yellow")),
            ("grid",),
            4,
            "monitoring",
            "forensics",
            status == "crisis",
            "text",
            ("incident--1",),
        )
        for cc, status in (("FR", "crisis"), ("DE", "degraded"))
    )
    observables = (
        ObservableInput("observable--1", "domain-name", "a.example", ("incident--0", "incident--1")),
        ObservableInput("observable--2", "cve", "CVE-2026-0001", ("incident--1", "incident--2")),
    )
    return Inputs(contributions, incidents, observables)


@pytest.mark.parametrize("level", aggregate.LEVELS)
def test_picture_as_dict_is_what_dataclasses_asdict_gives(level: str) -> None:
    picture = aggregate.build(level, _inputs(), ("normal", "elevated", "degraded", "crisis"))
    plain = picture.as_dict()
    assert plain == _asdict_picture(picture)
    assert plain["tables"] and plain["countries"]  # the inputs above fill every part
    # A copy: what a caller does with the plain form does not change the picture.
    plain["tables"][0]["rows"][0]["sources"].append("changed")
    assert picture.tables[0].rows[0].sources[-1] != "changed"


def test_a_frozen_incident_holds_every_field_and_reads_back_as_itself() -> None:
    for item in _inputs().incidents:
        data = sources._encode(sources.INCIDENT, item)
        assert list(data) == list(IncidentInput.__slots__)
        assert sources.thaw_one(sources.INCIDENT, data) == item
