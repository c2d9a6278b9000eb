"""SELECTs of the incident page (page chrome included) and of `GET /api/v1/incidents/{id}`.

Issue 14 aims at <= 10 and <= 4, and both hold: the incident is loaded once, with its countries, sectors and share
list in the same statement (the page adds its significance decisions); the cluster is one recursive statement; the
observables come with their correlations; the alerts with their recipients; the timeline's objects are passed to
the disclosure check as already read; and every name the page shows is read in one statement at the end.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Actor
from tests.test_query_counts import count_queries
from tests.web.conftest import HTML, sign_in
from tests.web.test_incident_pages import SIG, record

# `incidents.id = ?` on SQLite, `incidents.id = %(id_1)s` on PostgreSQL: the load of one incident.
ONE_ID = re.compile(r"incidents\.id = (\?|%\(\w+\)s)")
# The busy incident below was 48 / 7 before the incident was loaded once, then 28 / 5.
PAGE_AIM, API_AIM = 10, 4


def _selects(app: FastAPI, client: TestClient, url: str, headers: dict[str, str]) -> list[str]:
    with count_queries(app) as statements:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text
    return [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def _busy_incident(client: TestClient, cast: dict[str, Actor]) -> dict[str, Any]:
    """An incident with what the page shows: reports, observables, a correlated incident, an alert, a timeline."""
    aware = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    obs = [{"type": "ipv4-addr", "value": "203.0.113.7"}, {"type": "domain-name", "value": "evil.example"}]
    incident = record(client, cast["fr"], aware_at=aware, observables=obs, **SIG)
    record(client, cast["de"], title="Same attacker", observables=obs[:1])
    report = {"kind": "early-warning", "suspected_malicious": True, "cross_border": False}
    r = client.post(f"/api/v1/incidents/{incident['id']}/reports", json=report, headers=cast["fr"].headers)
    assert r.status_code == 201, r.text
    alert = {
        "title": "Heads up",
        "tlp": "amber",
        "recipients": {"organisations": [cast["de"].org_id]},
        "incident": incident["id"],
    }
    r = client.post("/api/v1/alerts", json=alert, headers=cast["fr"].headers)
    assert r.status_code == 201, r.text
    return incident


def _counts(app: FastAPI, client: TestClient, cast: dict[str, Actor]) -> tuple[list[str], list[str]]:
    incident = _busy_incident(client, cast)
    api = _selects(app, client, f"/api/v1/incidents/{incident['id']}", cast["fr"].headers)
    sign_in(client, cast["fr"].email)
    page = _selects(app, client, f"/incidents/{incident['id']}", HTML)
    return page, api


def test_the_incident_page_and_its_api_load_the_incident_once_within_the_aims(
    app: FastAPI, client: TestClient, cast: dict[str, Actor]
) -> None:
    page, api = _counts(app, client, cast)
    for statements in (page, api):
        loads = [s for s in statements if s.lstrip().startswith("SELECT incidents.title") and ONE_ID.search(s)]
        assert len(loads) == 1, "\n\n".join(loads)
        assert not any(s.lstrip().startswith("SELECT incident_countries") for s in statements)
    assert len(page) <= PAGE_AIM, "\n\n".join(page)
    assert len(api) <= API_AIM, "\n\n".join(api)
