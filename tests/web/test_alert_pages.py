"""Early-warning pages: sending through the form, the badge, acknowledging with the button, the sender's view."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.alerts import views as alert_views
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.notify.models import OutboxMessage
from tests.conftest import Actor, count
from tests.test_query_counts import count_queries
from tests.web.conftest import HTML, csrf_on, sign_in
from tests.web.test_incident_pages import record

BADGE = re.compile(r'<a href="/alerts"[^>]*>Early warnings <span class="badge">(\d+)<span class="visually-hidden">')


def send(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    """An alert sent through the API by `actor`, to the CSIRTs Network unless told otherwise."""
    body = {
        "title": "Wiper hitting grid operators",
        "body": "Check your SCADA jump hosts.",
        "tlp": "amber",
        "recipients": {"communities": ["csirts-network"]},
        **over,
    }
    r = client.post("/api/v1/alerts", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def form(client: TestClient, **over: Any) -> dict[str, Any]:
    return {
        "csrf_token": csrf_on(client, "/alerts"),
        "title": "Wiper hitting grid operators",
        "body": "Check your SCADA jump hosts.",
        "tlp": "amber",
        "communities": ["csirts-network"],
        "remind_after_minutes": "60",
        "escalate_after_minutes": "240",
        **over,
    }


def post_form(client: TestClient, data: dict[str, Any]) -> Any:
    return client.post("/alerts", data=data, headers=HTML, follow_redirects=False)


def acknowledge(client: TestClient, alert_id: str, token: str | None, back: str = "") -> Any:
    data = {"back": back} | ({"csrf_token": token} if token is not None else {})
    return client.post(f"/alerts/{alert_id}/acknowledge", data=data, headers=HTML, follow_redirects=False)


def badge(page: str) -> int:
    found = BADGE.search(page)
    return int(found.group(1)) if found else 0


def written(db: Session) -> tuple[int, ...]:
    return (
        count(db, Alert),
        count(db, AlertRecipient),
        count(db, OutboxMessage),
        count(db, AuditEvent, AuditEvent.tag.like("alerts:%")),
    )


# --- sending ----------------------------------------------------------------------------------------------


def test_new_alert_form_proposes_amber_to_the_csirts_network_and_does_not_offer_red(
    signed_in: TestClient, cast: dict[str, Actor]
) -> None:
    page = signed_in.get("/alerts/new", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert re.search(r'name="tlp" value="amber" required aria-describedby="[^"]+" checked', text)
    assert 'name="tlp" value="amber+strict"' in text and 'name="tlp" value="red"' not in text
    assert "The recipient organisation and its clients (constituents)" in text  # the TLP one-liners
    assert 'name="communities" value="csirts-network" checked' in text
    assert f'<option value="{cast["de"].org_id}">CERT-XB' in text
    assert f'<option value="{cast["fr"].org_id}"' not in text  # never a recipient of its own alert
    assert 'name="remind_after_minutes" type="number" value="60"' in text
    assert 'name="escalate_after_minutes" type="number" value="240"' in text
    assert "content-security-policy" in page.headers and "<script>" not in text and "style=" not in text


def test_alert_form_from_an_incident_is_about_it_and_offers_only_incidents_the_sender_may_read(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    mine = record(client, cast["fr"], title="Ransomware at a regional hospital")
    secret = record(
        client, cast["de"], title="Strictly German matter", tlp="amber+strict", share_with={}, countries=["DE"]
    )
    sign_in(client, cast["fr"].email)
    incident_page = client.get(f"/incidents/{mine['id']}", headers=HTML).text
    assert f'href="/alerts/new?incident={mine["id"]}">Send an early warning about this incident</a>' in incident_page

    text = client.get(f"/alerts/new?incident={mine['id']}", headers=HTML).text
    assert f'<option value="{mine["id"]}" selected>Ransomware at a regional hospital (TLP:AMBER)</option>' in text
    assert 'name="title" type="text" value="Ransomware at a regional hospital"' in text
    hidden = client.get(f"/alerts/new?incident={secret['id']}", headers=HTML)
    assert hidden.status_code == 200
    assert "Strictly German matter" not in hidden.text and secret["id"] not in hidden.text


def test_alert_sent_through_the_form_to_a_community_reaches_its_members_but_not_the_sender(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = record(client, cast["fr"])
    sign_in(client, cast["fr"].email)
    r = post_form(client, form(client, incident=inc["id"], remind_after_minutes="30", exercise="yes"))
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert re.fullmatch(r"/alerts/alert--[0-9a-f-]{36}", location)

    got = client.get(f"/api/v1{location}", headers=cast["fr"].headers).json()
    assert sorted(got["pending"]) == sorted([cast["de"].org_id, cast["ee"].org_id])
    assert got["share_with"]["communities"] == ["csirts-network"]
    assert (got["incident"], got["remind_after_minutes"], got["escalate_after_minutes"]) == (inc["id"], 30, 240)
    assert got["exercise"] is True
    page = client.get(location, headers=HTML).text
    assert 'class="tlp-banner tlp-amber"' in page and "Check your SCADA jump hosts." in page
    assert f'<a href="/incidents/{inc["id"]}">Ransomware at a regional hospital</a>' in page
    assert f"({cast['fr'].email})" in page  # the sender's colleagues see who sent it
    assert "Your organisation" not in page  # the sender is no recipient: no button
    # The incident page lists the alert and links to it.
    assert f'<a href="{location}">Wiper hitting grid operators</a>' in client.get(f"/incidents/{inc['id']}").text


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"title": "  "}, "title", "The early warning needs a title"),
        ({"tlp": ""}, "tlp", "Choose a TLP label"),
        ({"tlp": "red"}, "tlp", "alerts go to organisations"),
        ({"tlp": "amber+strict"}, "communities", "TLP:AMBER+STRICT is shared with named organisations only"),
        ({"communities": []}, "recipients", "name at least one organisation or community"),
        ({"communities": ["no-such-community"]}, "communities", "no-such-community"),
        ({"remind_after_minutes": "soon"}, "remind_after_minutes", "is not a whole number of minutes"),
        ({"remind_after_minutes": "0"}, "remind_after_minutes", "must be at least 1"),
        ({"escalate_after_minutes": "30"}, "escalate_after_minutes", "escalation comes after the reminder"),
        ({"escalate_after_minutes": "99999"}, "escalate_after_minutes", "must be at most 10080"),
        ({"incident": "incident--00000000-0000-4000-8000-000000000000"}, "incident", "that you may read"),
    ],
)
def test_a_bad_alert_form_is_re_rendered_with_422_keeps_the_input_and_writes_nothing(
    client: TestClient, cast: dict[str, Actor], db: Session, over: dict[str, Any], field: str, message: str
) -> None:
    sign_in(client, cast["fr"].email)
    data = form(client, body="Kept body", organisations=[cast["out"].org_id], **over)
    if field == "recipients":
        data["organisations"] = []
    r = post_form(client, data)
    assert r.status_code == 422, r.text
    assert f'id="f-{field}-error"' in r.text
    assert message.lower() in r.text.lower()
    assert "This could not be saved" in r.text
    assert "Kept body" in r.text
    if field != "title":
        assert 'value="Wiper hitting grid operators"' in r.text
    if field != "recipients":
        assert f'<option value="{cast["out"].org_id}" selected>' in r.text
    assert written(db) == (0, 0, 0, 0)


def test_a_viewer_cannot_open_or_post_the_alert_form(client: TestClient, cast: dict[str, Actor], db: Session) -> None:
    sign_in(client, cast["viewer"].email)
    assert client.get("/alerts/new", headers=HTML).status_code == 403
    assert "Send an early warning" not in client.get("/alerts", headers=HTML).text
    r = post_form(client, form(client))
    assert r.status_code == 403
    assert written(db) == (0, 0, 0, 0)


# --- acknowledging ----------------------------------------------------------------------------------------


def test_recipient_sees_the_badge_and_acknowledges_with_the_button(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    first = send(client, cast["fr"], title="First warning")
    second = send(client, cast["fr"], title="Second warning")
    sign_in(client, cast["de"].email)
    overview = client.get("/", headers=HTML).text
    assert badge(overview) == 2
    assert '2<span class="visually-hidden"> not acknowledged by your organisation</span>' in overview

    listed = client.get("/alerts?pending=yes", headers=HTML).text
    assert "First warning" in listed and "Second warning" in listed
    assert listed.count('<tr class="awaiting">') == 2 and "0/2" in listed
    assert 'Acknowledge<span class="visually-hidden"> “First warning”</span>' in listed

    r = acknowledge(client, first["id"], csrf_on(client, "/alerts"), back="/alerts?pending=yes")
    assert r.status_code == 303 and r.headers["location"] == "/alerts?pending=yes"
    after = client.get("/alerts?pending=yes", headers=HTML).text
    assert badge(after) == 1
    assert "Second warning" in after and "First warning" not in after
    everything = client.get("/alerts", headers=HTML).text
    assert "1/2" in everything and '<span class="ack-state ack-done">Acknowledged</span>' in everything
    row = client.get(f"/api/v1/alerts/{first['id']}", headers=cast["de"].headers).json()["acknowledged"]
    assert [(a["organisation"], a["by"]) for a in row] == [(cast["de"].org_id, cast["de"].user_id)]

    # A viewer sees that its organisation is awaited, but acknowledging is an act for it: no button, and a post is
    # refused with nothing written.
    sign_in(client, cast["de_viewer"].email)
    page = client.get(f"/alerts/{second['id']}", headers=HTML).text
    assert "is waiting for your organisation to acknowledge" in page and 'action="/alerts/' not in page
    assert acknowledge(client, second["id"], csrf_on(client, "/alerts")).status_code == 403
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 1
    # An analyst colleague acknowledges for the organisation from the alert's page.
    sign_in(client, cast["de"].email)
    r = acknowledge(client, second["id"], csrf_on(client, "/alerts"), back="https://evil.example/")
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{second['id']}"  # never off-site
    page = client.get(f"/alerts/{second['id']}", headers=HTML).text
    assert badge(page) == 0 and f"by {cast['de'].email}" in page
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 2


def test_several_early_warnings_are_acknowledged_at_once_all_or_none(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    """Issue 19: bulk acknowledgement, on the list and over the API; one that may not be acknowledged refuses the
    batch, naming it, and nothing is written."""
    alerts = [send(client, cast["fr"], title=f"Warning {n}") for n in range(3)]
    own = send(client, cast["de"], title="CERT-Bund's own warning")
    url = "/api/v1/alerts/acknowledge"
    refused = client.post(url, json={"alerts": [alerts[0]["id"], own["id"]]}, headers=cast["de"].headers)
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "alerts[1]"
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 0
    unknown = client.post(
        url, json={"alerts": ["alert--00000000-0000-4000-8000-000000000000"]}, headers=cast["de"].headers
    )
    assert unknown.status_code == 404
    assert client.post(url, json={"alerts": []}, headers=cast["de"].headers).status_code == 422

    sign_in(client, cast["de"].email)
    listed = client.get("/alerts?pending=yes", headers=HTML).text
    assert 'id="bulk-ack"' in listed and listed.count('form="bulk-ack"') == 3  # not on its own warning
    token = csrf_on(client, "/alerts")
    r = client.post(
        "/alerts/acknowledge",
        data={"csrf_token": token, "alerts": [alerts[0]["id"], alerts[2]["id"]], "back": "/alerts?pending=yes"},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/alerts?pending=yes&acknowledged=2"
    after = client.get(r.headers["location"], headers=HTML).text
    assert "2 early warnings acknowledged for your organisation." in after
    assert "Warning 1" in after and "Warning 0" not in after and "Warning 2" not in after
    assert 'id="bulk-ack"' not in after  # one left: its own button is enough
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 2
    done = client.post(url, json={"alerts": [alerts[1]["id"], alerts[0]["id"]]}, headers=cast["de"].headers)
    assert done.status_code == 200 and done.json() == {"acknowledged": [alerts[1]["id"], alerts[0]["id"]]}
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 3  # again is harmless


def test_acknowledging_without_the_csrf_token_is_refused_and_writes_nothing(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    alert = send(client, cast["fr"])
    sign_in(client, cast["de"].email)
    for token in (None, "forged"):
        r = acknowledge(client, alert["id"], token)
        assert r.status_code == 403
        assert "did not come from this site" in r.text
    assert count(db, AlertRecipient, AlertRecipient.acknowledged_at.is_not(None)) == 0
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 0
    assert badge(client.get("/alerts", headers=HTML).text) == 1


def test_the_sender_cannot_acknowledge_its_own_alert(client: TestClient, cast: dict[str, Actor], db: Session) -> None:
    alert = send(client, cast["fr"])
    sign_in(client, cast["fr"].email)
    r = acknowledge(client, alert["id"], csrf_on(client, "/alerts"))
    assert r.status_code == 403
    assert "only a recipient organisation acknowledges" in r.text.lower()
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 0


# --- the sender's view ------------------------------------------------------------------------------------


def test_sender_page_shows_acknowledged_and_pending_organisations_reminders_and_figures(
    client: TestClient, cast: dict[str, Actor], session_factory: sessionmaker[Session]
) -> None:
    alert = send(client, cast["fr"])
    client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=cast["de"].headers)
    sent = utcnow() - timedelta(minutes=90)
    with unit_of_work(session_factory) as s:
        # Sent 90 minutes ago; CERT-XB answered after 12 minutes; CERT-XE was reminded and is still silent.
        s.execute(update(Alert).where(Alert.id == alert["id"]).values(created_at=sent))
        s.execute(
            update(AlertRecipient)
            .where(AlertRecipient.org_id == cast["de"].org_id)
            .values(acknowledged_at=sent + timedelta(minutes=12))
        )
        s.execute(
            update(AlertRecipient)
            .where(AlertRecipient.org_id == cast["ee"].org_id)
            .values(reminded_at=sent + timedelta(minutes=60))
        )
    sign_in(client, cast["fr"].email)
    page = client.get(f"/alerts/{alert['id']}", headers=HTML).text
    table = page.split('aria-label="Recipient organisations"')[1].split("</table>")[0]
    pending_row, acked_row = table.split("<tbody>")[1].split("</tr>")[:2]
    assert 'class="awaiting"' in pending_row and "CERT-XE" in pending_row and "Not yet" in pending_row
    reminded, acked = sent + timedelta(minutes=60), sent + timedelta(minutes=12)
    assert f"{reminded:%Y-%m-%d} <span>{reminded:%H:%M} UTC</span>" in pending_row
    assert 'class="acked"' in acked_row and "CERT-XB" in acked_row and "12 min" in acked_row
    assert f"{acked:%Y-%m-%d} <span>{acked:%H:%M} UTC</span>" in acked_row
    assert cast["de"].email not in page  # another organisation's staff are named by organisation only
    assert 'Acknowledgements <span class="muted">(1 of 2)</span>' in page
    assert "<dt>Median time to acknowledge</dt><dd>12 min</dd>" in page and "<dt>Slowest</dt><dd>12 min</dd>" in page
    timeline = page.split('id="h-timeline"')[1]
    assert "<strong>Sent</strong>" in timeline and "<strong>Acknowledged</strong>" in timeline
    assert "org: CERT-XB" in timeline  # by name, not by id

    listed = client.get("/alerts", headers=HTML).text
    assert "1/2" in listed and "Sent by us" in listed and badge(listed) == 0


def test_alert_not_shared_with_the_reader_gives_the_404_page_and_is_in_no_list(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    alert = send(client, cast["de"], title="Network-only warning")
    sign_in(client, cast["out"].email)
    page = client.get(f"/alerts/{alert['id']}", headers=HTML)
    assert page.status_code == 404
    assert "Not found" in page.text and "Network-only warning" not in page.text
    assert "Network-only warning" not in client.get("/alerts", headers=HTML).text
    assert acknowledge(client, alert["id"], csrf_on(client, "/alerts")).status_code == 404


def test_recipient_who_may_not_read_the_incident_sees_its_id_only(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = record(client, cast["fr"], title="French-only incident", tlp="amber+strict", share_with={})
    alert = send(client, cast["fr"], incident=inc["id"])
    sign_in(client, cast["de"].email)
    page = client.get(f"/alerts/{alert['id']}", headers=HTML).text
    assert inc["id"] in page and "(not shared with you)" in page
    assert "French-only incident" not in page


def test_alert_list_costs_the_same_queries_for_few_or_many_alerts(
    app: FastAPI, client: TestClient, cast: dict[str, Actor]
) -> None:
    def queries() -> int:
        with count_queries(app) as statements:
            assert client.get("/alerts", headers=HTML).status_code == 200
        return len(statements)

    send(client, cast["fr"])
    sign_in(client, cast["de"].email)
    few = queries()
    for i in range(6):
        send(
            client,
            cast["ee"] if i % 2 else cast["fr"],
            title=f"Warning {i}",
            recipients={"communities": ["csirts-network"], "organisations": [cast["out"].org_id]},
        )
    assert queries() == few


def test_alert_list_pages_with_a_cursor_keeping_the_filter_and_shows_a_bad_cursor_as_a_message(
    client: TestClient, cast: dict[str, Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alert_views, "PAGE_SIZE", 2)
    for i in range(3):
        send(client, cast["fr"], title=f"Warning number {i}")
    sign_in(client, cast["de"].email)
    first = client.get("/alerts?pending=yes", headers=HTML).text
    assert "Warning number 2" in first and "Warning number 1" in first and "Warning number 0" not in first
    found = re.search(r'href="(/alerts\?pending=yes&amp;cursor=[^"]+)" rel="next"', first)
    assert found, first
    second = client.get(found.group(1).replace("&amp;", "&"), headers=HTML).text
    assert "Warning number 0" in second and "Warning number 1" not in second
    assert '<a href="/alerts?pending=yes">First page</a>' in second
    assert 'name="back" value="/alerts?pending=yes&amp;cursor=' in second  # acknowledging stays on this page

    bad = client.get("/alerts?cursor=not-one-of-ours", headers=HTML)
    assert bad.status_code == 422
    assert "The cursor is not one this server issued." in bad.text


def test_navigation_offers_early_warnings_without_a_badge_when_nothing_waits(signed_in: TestClient) -> None:
    page = signed_in.get("/alerts", headers=HTML).text
    assert '<a href="/alerts" aria-current="page">Early warnings</a>' in page
    assert "No early warning yet." in page
