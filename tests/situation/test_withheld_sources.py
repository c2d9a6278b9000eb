"""A report says nothing about the sources a reader may not see, not even how many (issue 12, finding 10)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Actor, World
from tests.web.conftest import HTML, sign_in

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = {
    "period_start": (NOW - timedelta(hours=12)).isoformat(),
    "period_end": (NOW + timedelta(hours=12)).isoformat(),
}
NEUTRAL = "Figures are computed from the sources you may see."


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network",))
    return {
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "enisa2": world.user("ENISA", roles=("coordinator",)),
    }


def _incident(client: TestClient, actor: Actor, **over: Any) -> None:
    body = {
        "title": "Ransomware at a grid operator",
        "tlp": "green",
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "countries": ["FR"],
        "sectors": ["energy"],
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "share_with": {"communities": ["csirts-network"]},
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text


def _published(client: TestClient, cast: dict[str, Actor], sitrep_id: str, version: int) -> None:
    r = client.post(f"/api/v1/sitreps/{sitrep_id}/approve", json={"version": version}, headers=cast["enisa2"].headers)
    assert r.status_code == 200, r.text
    r = client.post(f"/api/v1/sitreps/{sitrep_id}/publish", json={"version": version}, headers=cast["enisa"].headers)
    assert r.status_code == 200, r.text


def _figures_text(html: str) -> str:
    """The words of the page from the note on sources on: the figures, tables and text, without markup."""
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert NEUTRAL in words
    return words.split(NEUTRAL, 1)[1]


def test_report_reads_the_same_whatever_the_number_of_hidden_red_sources(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    _incident(client, cast["fr"])
    _incident(client, cast["fr"], title="Phishing at a hospital", sectors=["health"])
    rep = client.post("/api/v1/sitreps", json={"level": "technical", **PERIOD}, headers=cast["enisa"].headers)
    assert rep.status_code == 201, rep.text
    sid = rep.json()["id"]
    _published(client, cast, sid, 1)
    # Three RED incidents naming the drafter: the rebuilt version has three sources CERT-Bund may not see.
    for n in range(3):
        _incident(client, cast["fr"], title=f"Insider {n}", tlp="red", share_with={"users": [cast["enisa"].email]})
    r = client.post(f"/api/v1/sitreps/{sid}/rebuild", json={"version": 1}, headers=cast["enisa"].headers)
    assert r.status_code == 200, r.text
    assert r.json()["sources"] == 5  # the drafter sees them all
    _published(client, cast, sid, 2)

    answers = [client.get(f"/api/v1/sitreps/{sid}?version={v}", headers=cast["de"].headers).json() for v in (1, 2)]
    assert "withheld" not in answers[0] and "withheld" not in answers[1]
    varying = {"version", "published_version", "published_at", "modified", "state"}
    assert {k: v for k, v in answers[0].items() if k not in varying} == {
        k: v for k, v in answers[1].items() if k not in varying
    }

    sign_in(client, cast["de"].email)
    pages = [client.get(f"/sitreps/{sid}?version={v}", headers=HTML) for v in (1, 2)]
    assert all(p.status_code == 200 for p in pages)
    assert NEUTRAL in pages[1].text and "not shown" not in pages[1].text
    assert _figures_text(pages[0].text).replace("version=1", "version=2") == _figures_text(pages[1].text)
    pdfs = [client.get(f"/api/v1/sitreps/{sid}/pdf?version={v}", headers=cast["de"].headers) for v in (1, 2)]
    assert all(p.status_code == 200 for p in pdfs)
