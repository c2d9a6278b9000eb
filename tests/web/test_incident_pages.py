"""Incident pages: the list and its filters, the 3 a.m. form, the incident page, deadlines, and what stays hidden."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access import sharing
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work
from cybercrisis.incidents.models import Incident, Sighting
from tests.conftest import Actor, World, count
from tests.test_query_counts import count_queries
from tests.web.conftest import HTML, csrf_on, sign_in


def now() -> datetime:
    # Read at each use: a module-level constant drifts by minutes in a long parallel run.
    return datetime.now(UTC).replace(microsecond=0)


SIG = {"significance": "significant", "significance_reason": "the hospital's care is disrupted"}


def record(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    """An incident recorded through the API by `actor`."""
    body: dict[str, Any] = {
        "title": "Ransomware at a regional hospital",
        "tlp": "amber",
        "aware_at": (now() - timedelta(hours=2)).isoformat(),
        "countries": ["FR"],
        "sectors": ["health"],
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "impact_severity": "red",
        "share_with": {"communities": ["csirts-network"]},
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def form_defaults(client: TestClient) -> dict[str, Any]:
    """What the new-incident form posts when the analyst only types a title."""
    page = client.get("/incidents/new", headers=HTML).text
    aware = re.search(r'name="aware_at" value="([^"]+)"', page)
    assert aware, page
    return {
        "csrf_token": csrf_on(client, "/incidents/new"),
        "aware_at": aware.group(1),
        "tlp": "amber",
        "pap": "amber",
        "countries": re.findall(r'name="countries" value="([A-Z]{2})" checked', page),
        "communities": re.findall(r'name="communities" value="([^"]+)" checked', page),
    }


def post_form(client: TestClient, data: dict[str, Any]) -> Any:
    return client.post("/incidents", data=data, headers=HTML, follow_redirects=False)


# --- the list ---------------------------------------------------------------------------------------------


def test_incident_list_filters_by_status_country_sector_class_marking_overdue_and_observable(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    old = record(
        client,
        cast["fr"],
        title="Overdue wiper at a water utility",
        sectors=["drinking-water"],
        aware_at=(now() - timedelta(hours=30)).isoformat(),
        rsit_class="availability",
        rsit_type="sabotage",
        observables=[{"type": "ipv4-addr", "value": "198.51.100.7"}],
        **SIG,
    )
    de = record(
        client,
        cast["de"],
        title="DDoS on a German DNS provider",
        countries=["DE"],
        tlp="green",
        sectors=["digital-infrastructure"],
        rsit_class="availability",
        rsit_type="ddos",
    )
    client.patch(
        f"/api/v1/incidents/{de['id']}",
        json={"version": de["version"], "status": "ongoing"},
        headers=cast["de"].headers,
    )
    sign_in(client, cast["fr"].email)

    everything = client.get("/incidents", headers=HTML)
    assert everything.status_code == 200
    assert old["title"] in everything.text and de["title"] in everything.text
    assert "TLP:GREEN" in everything.text and '<span class="impact impact-red">Red</span>' in everything.text

    def titles(query: str) -> set[str]:
        page = client.get(f"/incidents?{query}", headers=HTML)
        assert page.status_code == 200, page.text
        return {t for t in (old["title"], de["title"]) if t in page.text}

    assert titles("status=ongoing") == {de["title"]}
    assert titles("country=DE") == {de["title"]}
    assert titles("sector=drinking-water") == {old["title"]}
    assert titles("rsit_class=availability") == {old["title"], de["title"]}
    assert titles("tlp=green") == {de["title"]}
    assert titles("overdue=yes") == {old["title"]}
    assert titles("q=198.51.100.7") == {old["title"]}
    assert titles("q=198.51.100%5B.%5D7") == {old["title"]}  # pasted defanged
    assert titles("q=dns+provider") == {de["title"]}
    overdue_row = client.get("/incidents?overdue=yes", headers=HTML).text
    assert 'class="has-overdue"' in overdue_row and '1<span class="visually-hidden"> overdue</span>' in overdue_row


def test_a_bad_filter_is_shown_as_a_message_with_422(signed_in: TestClient) -> None:
    r = signed_in.get("/incidents?sector=casinos", headers=HTML)
    assert r.status_code == 422
    assert "is not valid for sector" in r.text


def test_incident_list_costs_the_same_queries_for_few_or_many_incidents(
    app: FastAPI, client: TestClient, cast: dict[str, Actor]
) -> None:
    def queries() -> int:
        with count_queries(app) as statements:
            assert client.get("/incidents", headers=HTML).status_code == 200
        return len(statements)

    record(client, cast["fr"], aware_at=(now() - timedelta(hours=30)).isoformat())
    sign_in(client, cast["fr"].email)
    client.get("/", headers=HTML)  # the chrome's alert badge is counted once per reader, then cached
    few = queries()
    for i in range(8):
        record(client, cast["de"], title=f"Incident {i}", countries=["DE", "FR"], sectors=["energy", "health"])
    assert queries() == few


# --- the 3 a.m. form --------------------------------------------------------------------------------------


def test_new_incident_form_offers_defaults_and_taxonomy_pickers_in_words(signed_in: TestClient) -> None:
    page = signed_in.get("/incidents/new", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert 'type="datetime-local"' in text and "Entity became aware (UTC)" in text
    aware = re.search(r'name="aware_at" value="([^"]+)"', text)
    assert aware and abs(datetime.fromisoformat(aware.group(1)).replace(tzinfo=UTC) - now()) < timedelta(minutes=2)
    assert re.search(r'name="tlp" value="amber" required aria-describedby="[^"]+" checked', text)
    assert re.search(r'name="pap" value="amber" checked', text)
    assert 'name="countries" value="FR" checked' in text
    assert 'name="communities" value="csirts-network" checked' in text
    assert "The recipient organisation and its clients (constituents)" in text  # the TLP one-liners
    assert '<optgroup label="Intrusions">' in text and ">Intrusions / System Compromise</option>" in text
    assert "Very large impact" in text and "Severity of impact is expected to increase" in text
    assert ">Drinking water</label>" in text and ">Malicious actions</label>" in text
    assert 'value="trust-service-provider">Trust service provider (notification due in 24 h)</option>' in text
    assert "Suspected unlawful or malicious" in text and "Exceeds national capacity to respond" in text
    assert "content-security-policy" in page.headers and "<script>" not in text and "style=" not in text


def test_new_incident_form_creates_an_incident_with_defaults_and_detected_observables(
    client: TestClient, cast: dict[str, Actor], world: World
) -> None:
    hospital = world.org("Hospital", type_="entity", parent="CERT-XF")
    sign_in(client, cast["fr"].email)
    lines = [
        "198.51.100[.]7",
        "hxxps://evil[.]example/login",
        "CVE-2024-3400",
        "AS64500",
        "d41d8cd98f00b204e9800998ecf8427e",
        "phish@evil.example",
        "2001:db8::1",
        "192.0.2.0/24",
        "c2.evil.example",
        "domain-name typed.example",
        "",
    ]
    data = {
        **form_defaults(client),
        "title": "Ransomware at CH Test",
        "observables": "\n".join(lines),
        "rsit": "intrusions/system-compromise",
        "impact_severity": "yellow",
        "sectors": ["health"],
        "entity": hospital,
        "entity_type": "essential",
        "suspected_malicious": "yes",
    }
    r = post_form(client, data)
    assert r.status_code == 303, r.text
    incident_id = r.headers["location"].removeprefix("/incidents/")

    got = client.get(f"/api/v1/incidents/{incident_id}", headers=cast["fr"].headers).json()
    assert got["tlp"] == "amber" and got["pap"] == "amber" and got["countries"] == ["FR"]
    assert got["share_with"]["communities"] == ["csirts-network"]
    assert abs(datetime.fromisoformat(got["aware_at"]) - now()) < timedelta(minutes=2)
    assert (got["rsit_class"], got["rsit_type"], got["impact_severity"]) == (
        "intrusions",
        "system-compromise",
        "yellow",
    )
    assert got["entity"] == hospital and got["suspected_malicious"] is True and got["cross_border"] is False
    assert {(o["type"], o["value"]) for o in got["observables"]} == {
        ("ipv4-addr", "198.51.100.7"),
        ("url", "https://evil.example/login"),
        ("cve", "CVE-2024-3400"),
        ("autonomous-system", "AS64500"),
        ("md5", "d41d8cd98f00b204e9800998ecf8427e"),
        ("email-addr", "phish@evil.example"),
        ("ipv6-addr", "2001:db8::1"),
        ("ipv4-addr", "192.0.2.0/24"),
        ("domain-name", "c2.evil.example"),
        ("domain-name", "typed.example"),
    }
    page = client.get(f"/incidents/{incident_id}", headers=HTML).text
    # Recorded as reported: no NIS2 deadline until someone decides it is significant.
    assert "No reporting deadline runs: significance not decided yet" in page and "due in" not in page


def test_the_form_records_a_significance_already_known_and_asks_why(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    sign_in(client, cast["fr"].email)
    data = {**form_defaults(client), "title": "Outage at a TLD registry", "significance": "significant"}
    missing = post_form(client, data)
    assert missing.status_code == 422 and 'id="f-significance_reason-error"' in missing.text
    assert count(db, Incident) == 0
    r = post_form(client, {**data, "significance_reason": "the TLD was unavailable for 2 hours (Art. 6)"})
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"], headers=HTML).text
    assert "the TLD was unavailable for 2 hours (Art. 6)" in page and "due in" in page


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        (
            {"observables": "192.0.2.1\n300.1.1.1"},
            "observables",
            "Line 2: &#39;300.1.1.1&#39; is not a valid ipv4-addr",
        ),
        ({"aware_at": "2999-01-01T00:00"}, "aware_at", "cannot have become aware in the future"),
        ({"aware_at": "yesterday"}, "aware_at", "is not a date and time"),
        ({"tlp": "amber+strict"}, "communities", "TLP:AMBER+STRICT is shared with named organisations only"),
        ({"rsit": "intrusions/teleportation"}, "rsit", "is not valid for rsit_type"),
        ({"other_countries": "XX"}, "countries", "is not an ISO 3166-1 alpha-2 country code"),
        ({"title": ""}, "title", "The incident needs a title"),
        ({"financial_loss_eur": "lots"}, "financial_loss_eur", "is not a number"),
    ],
)
def test_a_bad_value_re_renders_the_form_with_422_keeps_the_input_and_writes_nothing(
    client: TestClient, cast: dict[str, Actor], db: Session, over: dict[str, str], field: str, message: str
) -> None:
    sign_in(client, cast["fr"].email)
    data = {**form_defaults(client), "title": "Kept title", "description": "Kept description", **over}
    r = post_form(client, data)
    assert r.status_code == 422, r.text
    assert f'id="f-{field}-error"' in r.text
    assert message.lower() in r.text.lower()
    assert "This could not be saved" in r.text
    if over.get("title") != "":
        assert 'value="Kept title"' in r.text
    assert "Kept description" in r.text
    assert count(db, Incident) == 0
    assert count(db, Sighting) == 0
    assert count(db, AuditEvent, AuditEvent.tag.like("incidents:%")) == 0


def test_every_mistake_the_form_can_see_is_shown_at_once(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    """Issue 19: errors came one at a time (fix the title, submit, then learn that the figure was wrong too)."""
    sign_in(client, cast["fr"].email)
    data = {**form_defaults(client), "title": "", "aware_at": "yesterday", "financial_loss_eur": "lots"}
    data.pop("tlp", None)
    r = post_form(client, data)
    assert r.status_code == 422
    for field in ("title", "tlp", "aware_at", "financial_loss_eur"):
        assert f'id="f-{field}-error"' in r.text, field
    assert count(db, Incident) == 0


def test_a_viewer_cannot_open_or_post_the_incident_form(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    sign_in(client, cast["viewer"].email)
    assert client.get("/incidents/new", headers=HTML).status_code == 403
    assert "Record an incident" not in client.get("/incidents", headers=HTML).text
    token = csrf_on(client, "/incidents")
    r = post_form(client, {"csrf_token": token, "title": "Nope", "tlp": "amber", "aware_at": "2026-01-01T00:00"})
    assert r.status_code == 403
    assert count(db, Incident) == 0


# --- one incident ---------------------------------------------------------------------------------------


def test_incident_page_shows_the_clocks_the_fired_rules_and_offers_escalation(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = record(
        client,
        cast["fr"],
        aware_at=(now() - timedelta(hours=30)).isoformat(),
        countries=["FR", "DE"],
        facts={"member_states_significantly_affected": ["FR", "DE"]},
        share_with={},
        impact_severity="yellow",
        **SIG,
    )
    sign_in(client, cast["fr"].email)
    page = client.get(f"/incidents/{inc['id']}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert 'class="tlp-banner tlp-amber"' in text
    assert '<span class="clock clock-overdue">overdue by 6 h' in text  # the early warning, due 24 h after awareness
    assert re.search(r'<span class="clock clock-due">due in 4[12] h</span>', text)  # the notification, 72 h
    assert "no deadline yet: due one month after the incident notification" in text
    assert "Looks large-scale" in text
    assert "an incident with a significant impact on at least two Member States is a large-scale" in text
    assert "NIS2 Art. 6(7)" in text
    assert "Malicious Code / Infected System" in text and "Large impact." in text
    assert "Escalate to the CSIRTs Network" in text
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).status_code == 404

    r = client.post(
        f"/incidents/{inc['id']}/escalate",
        data={"csrf_token": csrf_on(client, "/incidents")},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303
    after = client.get(f"/incidents/{inc['id']}", headers=HTML).text
    assert "Shared with the CSIRTs Network." in after and "Escalate to the CSIRTs Network" not in after
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).status_code == 200


def test_significance_is_decided_through_the_form_with_a_reason_and_starts_the_clocks(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    inc = record(client, cast["fr"], aware_at=(now() - timedelta(hours=30)).isoformat())
    sign_in(client, cast["fr"].email)
    url = f"/incidents/{inc['id']}"
    page = client.get(url, headers=HTML).text
    assert "Not decided yet" in page and "No reporting deadline runs: significance not decided yet" in page
    assert "clock-overdue" not in page
    token = csrf_on(client, url)
    bad = client.post(
        f"{url}/significance", data={"csrf_token": token, "value": "significant", "reason": " "}, headers=HTML
    )
    assert bad.status_code == 422 and "Say why (the rule, the fact or the judgement" in bad.text
    assert db.get(Incident, inc["id"]).significance == "reported"  # type: ignore[union-attr]
    ok = client.post(
        f"{url}/significance",
        data={"csrf_token": token, "value": "significant", "reason": "care disrupted for 6 hours"},
        headers=HTML,
        follow_redirects=False,
    )
    assert ok.status_code == 303
    after = client.get(url, headers=HTML).text
    assert "care disrupted for 6 hours" in after and "Significance decided" in after
    assert '<span class="clock clock-overdue">overdue by 6 h' in after  # decided late: the clock ran from awareness
    # CERT-Bund reads it (CSIRTs Network) but neither recorded it nor is the entity: it does not decide.
    other = client.post(
        f"/api/v1/incidents/{inc['id']}/significance",
        json={"value": "near-miss", "reason": "x"},
        headers=cast["de"].headers,
    )
    assert other.status_code == 403 and "decide whether the incident is significant" in other.json()["detail"]
    db.rollback()  # a fresh snapshot
    assert db.get(Incident, inc["id"]).significance == "significant"  # type: ignore[union-attr]


def test_status_change_through_the_form_and_a_stale_form_gets_409(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = record(client, cast["fr"])
    sign_in(client, cast["fr"].email)
    url = f"/incidents/{inc['id']}"
    page = client.get(url, headers=HTML).text
    assert '<option value="triage">Triage</option>' in page and '<option value="new">' not in page
    token = csrf_on(client, url)
    form = {"csrf_token": token, "version": str(inc["version"]), "status": "triage"}
    first = client.post(f"{url}/status", data=form, headers=HTML, follow_redirects=False)
    assert first.status_code == 303
    assert '<span class="status status-triage">Triage</span>' in client.get(url, headers=HTML).text

    stale_form = {"csrf_token": token, "version": str(inc["version"]), "status": "ongoing"}
    stale = client.post(f"{url}/status", data=stale_form, headers=HTML)
    assert stale.status_code == 409
    assert "changed since you opened it" in stale.text and "reload" in stale.text
    assert '<span class="status status-triage">Triage</span>' in stale.text


def test_report_submitted_through_the_form_shows_submitted_on_time_and_a_bad_one_is_kept(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    inc = record(client, cast["fr"])
    sign_in(client, cast["fr"].email)
    url = f"/incidents/{inc['id']}"
    page = client.get(url, headers=HTML).text
    assert "Submit the early warning" in page and "Suspected unlawful or malicious?" in page
    token = csrf_on(client, url)
    bad = client.post(
        f"{url}/reports",
        data={
            "csrf_token": token,
            "kind": "notification",
            "summary": "Kept summary",
            "submitted_at": "2999-01-01T00:00",
        },
        headers=HTML,
    )
    assert bad.status_code == 422
    assert "cannot be submitted in the future" in bad.text and "Kept summary" in bad.text
    assert re.search(r'<details class="card form-card report-form" id="submit-notification" open>', bad.text)

    ok = client.post(
        f"{url}/reports",
        data={
            "csrf_token": token,
            "kind": "early-warning",
            "summary": "Encrypted",
            "suspected_malicious": "yes",
            "cross_border": "no",
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert ok.status_code == 303
    after = client.get(url, headers=HTML).text
    assert '<span class="clock clock-on-time">submitted on time</span>' in after
    assert f"by {cast['fr'].email}" in after
    assert "Submit a new version of the early warning" in after
    assert "Submit the CSIRT feedback" in after  # the owner CSIRT answers the early warning
    got = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    assert got["suspected_malicious"] is True and got["cross_border"] is False


def test_owner_requests_an_intermediate_report_which_then_has_a_clock(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = record(client, cast["fr"], **SIG)
    sign_in(client, cast["fr"].email)
    url = f"/incidents/{inc['id']}"
    due = (now() + timedelta(hours=50)).strftime("%Y-%m-%dT%H:%M")
    r = client.post(
        f"{url}/intermediate-request",
        data={"csrf_token": csrf_on(client, url), "due_at": due},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(url, headers=HTML).text
    assert "Intermediate report" in page and "due in 2 d" in page and "Submit the intermediate report" in page


def test_hidden_incident_gives_a_404_page_and_is_in_no_list_or_deadline_of_another_org(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    secret = record(
        client,
        cast["de"],
        title="Strictly German matter",
        tlp="amber+strict",
        share_with={},
        countries=["DE"],
        aware_at=(now() - timedelta(hours=30)).isoformat(),
        **SIG,
    )
    shared = record(
        client,
        cast["de"],
        title="Shared German matter",
        countries=["DE"],
        aware_at=(now() - timedelta(hours=30)).isoformat(),
        **SIG,
    )
    sign_in(client, cast["fr"].email)
    page = client.get(f"/incidents/{secret['id']}", headers=HTML)
    assert page.status_code == 404
    assert "Not found" in page.text and "Strictly German matter" not in page.text
    for path in ("/incidents", "/incidents?overdue=yes", "/incidents?q=Strictly", "/deadlines"):
        text = client.get(path, headers=HTML).text
        assert "Strictly German matter" not in text, path
    deadlines = client.get("/deadlines", headers=HTML).text
    assert "Shared German matter" in deadlines and "overdue by 6 h" in deadlines
    overdue = deadlines.split('id="h-overdue"')[1].split('id="h-soon"')[0]
    assert "Shared German matter" in overdue and shared["id"] in overdue
    assert (
        client.post(
            f"/incidents/{secret['id']}/status",
            headers=HTML,
            data={"csrf_token": csrf_on(client, "/incidents"), "version": "1", "status": "triage"},
        ).status_code
        == 404
    )


def test_correlations_show_only_incidents_the_reader_may_see(client: TestClient, cast: dict[str, Actor]) -> None:
    shared_value = [{"type": "ipv4-addr", "value": "203.0.113.9"}]
    mine = record(client, cast["fr"], observables=shared_value)
    german = record(client, cast["de"], title="German sighting", countries=["DE"], observables=shared_value)
    record(
        client,
        cast["ee"],
        title="Estonian secret",
        countries=["EE"],
        tlp="amber+strict",
        share_with={},
        observables=shared_value,
    )
    sign_in(client, cast["fr"].email)
    page = client.get(f"/incidents/{mine['id']}", headers=HTML).text
    section = page.split('id="h-correlations"')[1].split("</section>")[0]
    assert "German sighting" in section and german["id"] in section and "203.0.113.9" in section
    assert "Estonian secret" not in page
    assert "Cross-border cluster" in section and "2 incidents across France, Germany" in section


def test_alerts_about_the_incident_show_who_acknowledged_and_hide_alerts_the_reader_may_not_see(
    client: TestClient, cast: dict[str, Actor], session_factory: sessionmaker[Session]
) -> None:
    inc = record(client, cast["fr"])
    with unit_of_work(session_factory) as s:
        for alert_id, title, tlp, shares in (
            (
                "alert--00000000-0000-4000-8000-000000000001",
                "Visible alert",
                "amber",
                [("organisation", cast["fr"].org_id), ("organisation", cast["de"].org_id)],
            ),
            (
                "alert--00000000-0000-4000-8000-000000000002",
                "Hidden alert",
                "amber+strict",
                [("organisation", cast["de"].org_id)],
            ),
        ):
            s.add(
                Alert(
                    id=alert_id,
                    title=title,
                    tlp=tlp,
                    owner_org_id=cast["ee"].org_id,
                    incident_id=inc["id"],
                    recipients=[
                        AlertRecipient(org_id=cast["fr"].org_id, acknowledged_at=now()),
                        AlertRecipient(org_id=cast["de"].org_id),
                    ],
                )
            )
            s.flush()
            sharing.write(s, object_id=alert_id, entries=shares, added_by=cast["ee"].org_id)
    sign_in(client, cast["fr"].email)
    page = client.get(f"/incidents/{inc['id']}", headers=HTML).text
    section = page.split('id="h-alerts"')[1].split("</section>")[0]
    assert "Visible alert" in section and "Hidden alert" not in page
    assert '<span class="tag ack">CERT-XF' in section and '<span class="tag pending">CERT-XB</span>' in section


def test_navigation_offers_incidents_and_deadlines(signed_in: TestClient) -> None:
    page = signed_in.get("/deadlines", headers=HTML).text
    assert '<a href="/incidents">Incidents</a>' in page
    assert '<a href="/deadlines" aria-current="page">Deadlines</a>' in page
    assert "0 overdue, 0 due in the next 24 hours, 0 later." in page
