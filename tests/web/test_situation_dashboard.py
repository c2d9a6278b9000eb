"""The situation dashboard and its live fragment: what each reader may see, as charts and as tables."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Actor, World
from tests.web.conftest import HTML, sign_in
from tests.web.test_situation_pages import incident as record

APOS = "\N{RIGHT SINGLE QUOTATION MARK}"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def people(world: World) -> dict[str, Actor]:
    """National CSIRTs and crisis authorities of FR and DE, ENISA, as in tests/situation/test_situation_api.py."""
    world.community("eu-cyclone", "operational")
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("ANSSI-CRISIS", type_="crisis-authority", country="FR", communities=("eu-cyclone",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("BSI-CRISIS", type_="crisis-authority", country="DE", communities=("eu-cyclone",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    return {
        "fr": world.user("CERT-FR"),
        "fr_crisis": world.user("ANSSI-CRISIS"),
        "de": world.user("CERT-Bund"),
        "de_crisis": world.user("BSI-CRISIS"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
    }


def contribute(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "country": "FR",
        "period_start": (now() - timedelta(hours=12)).isoformat(),
        "period_end": (now() + timedelta(hours=12)).isoformat(),
        "status": "crisis",
        "outlook": "worsening",
        "sectors": [{"sector": "energy", "impact": "red"}, {"sector": "health", "impact": "yellow"}],
        "services_disrupted": ["electricity distribution (regional)"],
        "entities_affected": 3,
        "narrative": "Ransomware at two grid operators.",
        "tlp": "green",
        "share_with": {"communities": ["csirts-network", "eu-cyclone"]},
        **over,
    }
    r = client.post("/api/v1/contributions", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def headline(page: str) -> str:
    found = re.search(r'<p class="sit-headline"[^>]*>(.*?)</p>', page, re.S)
    assert found, page
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1))).strip()


def map_svg(page: str) -> str:
    found = re.search(r'<figure class="chart"><svg[^>]*>.*?</svg>', page, re.S)
    assert found, page
    return found.group(0)


def dashboard(client: TestClient, path: str = "/situation") -> str:
    r = client.get(path, headers=HTML)
    assert r.status_code == 200, r.text
    return r.text


# --- the page --------------------------------------------------------------------------------------------------


def test_dashboard_shows_a_member_states_status_once_it_contributes(
    client: TestClient, people: dict[str, Actor]
) -> None:
    sign_in(client, people["de"].email)
    before = dashboard(client)
    assert headline(before) == (
        "0 Member States report a degraded or worse status; 0 open incidents, 0 cross-border; "
        f"0 NIS2 reports overdue; 0 early warnings await your organisation{APOS}s acknowledgement."
    )
    assert "FR: no report" in map_svg(before)
    assert "No open crisis you may see." in before
    assert "This status scale is the deployment's own; the EU publishes no official alert scale." in unescape(before)

    contribute(client, people["fr_crisis"])
    after = dashboard(client)
    assert headline(after).startswith("1 Member State reports a degraded or worse status; ")
    assert "FR: crisis, outlook worsening, worst impact red, 0 open incidents" in map_svg(after)
    assert "crisis: FR." in map_svg(after)  # the description lists the Member States by status
    assert "<strong>TLP:GREEN</strong>" in after  # the marking of the contribution the figures come from
    # The figures as tables: the map's and the heat map's, with the same numbers.
    assert re.search(r">France</a></th>\s*<td>crisis</td><td>worsening</td>", after)
    assert re.search(
        r"France <span class=\"muted\">FR</span></th><td>Energy</td><td><span class=\"impact "
        r"impact-red\">Red</span>",
        after,
    )
    assert after.count("<summary>Show as a table</summary>") == 3

    # Coloured by worst impact instead: the same Member State, another scale and a way back.
    impact = dashboard(client, "/situation?map=impact")
    assert "Member States by worst impact reported" in impact and '<a href="/situation">' in impact
    assert "red: FR." in map_svg(impact)
    assert dashboard(client, "/situation?map=bogus").count("Member States by reported status") >= 1


def test_dashboard_agrees_with_the_api_and_lists_what_needs_attention(
    client: TestClient, people: dict[str, Actor]
) -> None:
    late = record(
        client,
        people["fr"],
        title="Wiper across FR and DE grid operators",
        countries=["FR", "DE"],
        aware_at=(now() - timedelta(hours=30)).isoformat(),
        significance="significant",
        significance_reason="grid operations disrupted",
    )
    record(
        client,
        people["de"],
        title="Phishing wave at DE hospitals",
        countries=["DE"],
        sectors=["health"],
        impact_severity="yellow",
        rsit_class="fraud",
        rsit_type="phishing",
    )
    r = client.post(
        "/api/v1/alerts",
        headers=people["fr"].headers,
        json={
            "title": "Wiper hitting grid operators",
            "body": "Check your SCADA jump hosts.",
            "tlp": "amber",
            "recipients": {"organisations": [people["de"].org_id]},
        },
    )
    assert r.status_code == 201, r.text
    alert = r.json()

    sign_in(client, people["de"].email)
    page = dashboard(client)
    api = client.get("/api/v1/situation", headers=people["de"].headers).json()
    assert api["open_incidents"]["total"] == 2 and api["overdue_reports"] >= 1
    overdue = api["overdue_reports"]
    assert headline(page) == (
        f"0 Member States report a degraded or worse status; 2 open incidents, 1 cross-border; "
        f"{overdue} NIS2 report{'s' if overdue > 1 else ''} overdue; "
        f"1 early warning awaits your organisation{APOS}s acknowledgement."
    )
    assert f'<a href="/alerts/{alert["id"]}">Wiper hitting grid operators</a>' in page
    assert f'<a href="/incidents/{late["id"]}">Wiper across FR and DE grid operators</a>' in page
    assert 'href="/deadlines?status=overdue#h-overdue"' in page
    for cls in ("malicious-code", "fraud"):
        assert f'<a href="/incidents?rsit_class={cls}">' in page
    assert re.search(r'impact-red">Red</span></th><td class="num">1</td>', page)
    assert re.search(r'impact-yellow">Yellow</span></th><td class="num">1</td>', page)
    today = now().date().isoformat()
    assert re.search(rf'<time datetime="{today}">{today}</time></th><td class="num">\d</td>', page)
    assert "Incidents detected per day, last 14 days" in page


def test_dashboard_leaves_out_what_the_reader_may_not_see(client: TestClient, people: dict[str, Actor]) -> None:
    secret = "Quiet intrusion at a DE ministry"
    record(
        client,
        people["fr"],
        title=secret,
        tlp="amber",
        countries=["FR", "DE"],
        cross_border=True,
        aware_at=(now() - timedelta(hours=30)).isoformat(),
        share_with={"organisations": [people["enisa"].org_id]},
    )
    contribute(
        client,
        people["de_crisis"],
        country="DE",
        status="degraded",
        tlp="amber",
        share_with={"organisations": [people["enisa"].org_id]},
    )

    sign_in(client, people["de"].email)  # CERT-Bund: neither is shared with it
    page = dashboard(client)
    assert headline(page).startswith("0 Member States report a degraded or worse status; 0 open incidents, 0 cross")
    assert "0 NIS2 reports overdue" in headline(page)
    assert secret not in page and "DE: degraded" not in map_svg(page)
    assert "FR: no report" in map_svg(page) and "DE: no report" in map_svg(page)
    assert "TLP:AMBER" not in page and "<strong>TLP:CLEAR</strong>" in page
    assert "No impact reported" in page

    client.cookies.clear()
    sign_in(client, people["enisa"].email)  # ENISA may see both
    page = dashboard(client)
    assert headline(page).startswith("1 Member State reports a degraded or worse status; 1 open incident, 1 cross")
    assert secret in page and "DE: degraded" in map_svg(page)
    assert "<strong>TLP:AMBER</strong>" in page


def test_live_fragment_is_the_changing_part_of_the_page(client: TestClient, people: dict[str, Actor]) -> None:
    contribute(client, people["fr_crisis"])
    sign_in(client, people["de"].email)
    r = client.get("/situation/live", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["x-situation-fragment"] == "1" and r.headers["cache-control"] == "no-store"
    fragment = r.text
    assert "<html" not in fragment and "<header" not in fragment and "<nav" not in fragment
    assert 'class="tlp-banner' in fragment and "FR: crisis" in map_svg(fragment)
    page = dashboard(client)
    live = page.split('<div id="situation-live" class="sit-live" data-live-src="/situation/live">', 1)[1]
    # The same include in both: the page holds the fragment (the time of the cached picture is the same too).
    assert live.strip().startswith(fragment.strip())
    assert "Member States by worst impact reported" in client.get("/situation/live?map=impact", headers=HTML).text
    # The wall display holds the same live fragment, without the chrome; the dashboard links to it.
    assert 'href="/situation/wall"' in page
    wall = client.get("/situation/wall", headers=HTML).text
    assert '<body class="wall">' in wall and "Leave the wall display" in wall
    assert wall.split('data-live-src="/situation/live">', 1)[1].strip().startswith(fragment.strip())


def test_pages_need_a_signed_in_user(client: TestClient) -> None:
    for path in ("/situation", "/situation/live", "/situation/wall"):
        r = client.get(path, headers=HTML, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"


def test_charts_are_accessible_svg_and_the_page_passes_the_csp(client: TestClient, people: dict[str, Actor]) -> None:
    contribute(client, people["fr_crisis"])
    record(client, people["fr"])
    sign_in(client, people["de"].email)
    r = client.get("/situation", headers=HTML)
    page = r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    svgs = re.findall(r"<svg[^>]*>.*?</svg>", page, re.S)
    assert len(svgs) == 3  # map, heat map, timeline
    for chart in svgs:
        labelled = re.search(r'role="img" aria-labelledby="([^" ]+) ([^"]+)"', chart)
        assert labelled, chart[:200]
        assert f'<title id="{labelled.group(1)}">' in chart and f'<desc id="{labelled.group(2)}">' in chart
    # Nothing inline that the CSP would block: no style attribute or element, no inline script.
    assert not re.search(r"\sstyle=", page) and "<style" not in page
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/app.js" defer>',
        '<script src="/static/situation.js" defer>',
    ]
    assert 'id="live-status" role="status" aria-live="polite" hidden' in page
    assert client.get("/static/situation.js").status_code == 200
    # Only the dashboard loads the script.
    assert "situation.js" not in client.get("/incidents", headers=HTML).text
