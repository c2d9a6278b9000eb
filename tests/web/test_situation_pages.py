"""Contribution and situation report pages: forms through the services, per-reader figures, versions, four eyes."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.situation.models import Contribution, ContributionVersion, Sitrep, SitrepVersion
from tests.conftest import Actor, World, count
from tests.web.conftest import HTML, csrf_on, sign_in


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def people(world: World) -> dict[str, Actor]:
    """A French CSIRT and crisis authority, a German CSIRT, ENISA with two coordinators, and an outsider."""
    world.community("eu-cyclone", "operational")
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("ANSSI-CRISIS", type_="crisis-authority", country="FR", communities=("eu-cyclone",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    world.org("Outsider", type_="partner", country=None)
    return {
        "fr": world.user("CERT-FR", roles=("org-admin",)),
        "fr_crisis": world.user("ANSSI-CRISIS"),
        "de": world.user("CERT-Bund"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "enisa2": world.user("ENISA", roles=("coordinator",)),
        "out": world.user("Outsider"),
    }


def form_data(client: TestClient, **over: Any) -> dict[str, Any]:
    """What the new-contribution form posts, from the defaults the page offers."""
    page = client.get("/contributions/new", headers=HTML)
    assert page.status_code == 200, page.text
    start = re.search(r'name="period_start" type="datetime-local" value="([^"]+)"', page.text)
    end = re.search(r'name="period_end" type="datetime-local" value="([^"]+)"', page.text)
    country = re.search(r'<option value="([A-Z]{2})" selected>', page.text)
    assert start and end and country, page.text
    data: dict[str, Any] = {
        "csrf_token": csrf_on(client, "/contributions/new"),
        "country": country.group(1),
        "period_start": start.group(1),
        "period_end": end.group(1),
        "status": "degraded",
        "outlook": "worsening",
        "sector_impacts": ["energy:red", "health:yellow", "transport:"],
        "services_disrupted": "electricity distribution (regional)\n\n  rail signalling  ",
        "entities_affected": "3",
        "incidents": "",
        "measures": "Isolated SCADA networks.",
        "needs": "Forensic support for OT networks.",
        "assistance_requested": "yes",
        "narrative": "Ransomware at two grid operators.",
        "tlp": "green",
        "communities": re.findall(r'name="communities" value="([^"]+)" checked', page.text),
        "action": "submit",
    }
    data.update(over)
    return data


def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data=data, headers=HTML, follow_redirects=False)


def incident(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Ransomware at a grid operator",
        "tlp": "green",
        "aware_at": (now() - timedelta(hours=3)).isoformat(),
        "countries": ["FR"],
        "sectors": ["energy"],
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "impact_severity": "red",
        "share_with": {"communities": ["csirts-network"]},
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def draft_report(client: TestClient, actor: Actor, level: str = "technical") -> dict[str, Any]:
    period = {
        "period_start": (now() - timedelta(hours=12)).isoformat(),
        "period_end": (now() + timedelta(hours=1)).isoformat(),
    }
    r = client.post("/api/v1/sitreps", json={"level": level, **period}, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def text_of(page: str) -> str:
    """The visible words of a page, tags dropped and entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# --- contributions --------------------------------------------------------------------------------------------


def test_contribution_is_created_through_the_form(client: TestClient, people: dict[str, Actor], db: Session) -> None:
    sign_in(client, people["fr"].email)
    listing = client.get("/contributions", headers=HTML)
    assert listing.status_code == 200 and 'href="/contributions/new"' in listing.text
    page = client.get("/contributions/new", headers=HTML).text
    assert "the EU publishes no official alert scale" in page
    assert '<option value="FR" selected>' in page  # the organisation's own country
    r = post(client, "/contributions/new", form_data(client))
    assert r.status_code == 303, r.text
    cid = r.headers["location"].removeprefix("/contributions/")
    assert cid.startswith("contribution--")
    c = db.get(Contribution, cid)
    assert c is not None and c.state == "submitted" and c.country == "FR" and c.status == "degraded"
    assert c.sectors == [{"sector": "energy", "impact": "red"}, {"sector": "health", "impact": "yellow"}]
    assert c.services_disrupted == ["electricity distribution (regional)", "rail signalling"]
    assert c.entities_affected == 3 and c.assistance_requested is True
    shown = client.get(f"/contributions/{cid}", headers=HTML)
    assert shown.status_code == 200
    words = text_of(shown.text)
    assert "Ransomware at two grid operators." in words and "rail signalling" in words
    assert "TLP:GREEN" in words and "Created" in words  # banner and timeline
    # The list shows it, and filters by country and state.
    assert cid in client.get("/contributions?country=FR&state=submitted", headers=HTML).text
    assert cid not in client.get("/contributions?country=DE", headers=HTML).text
    assert cid not in client.get("/contributions?state=draft", headers=HTML).text


def test_a_draft_is_saved_and_then_submitted(client: TestClient, people: dict[str, Actor], db: Session) -> None:
    sign_in(client, people["fr"].email)
    r = post(client, "/contributions/new", form_data(client, action="draft"))
    assert r.status_code == 303, r.text
    cid = r.headers["location"].removeprefix("/contributions/")
    page = client.get(f"/contributions/{cid}", headers=HTML)
    assert "Draft." in page.text and f'action="/contributions/{cid}/submit"' in page.text
    r = post(
        client, f"/contributions/{cid}/submit", {"csrf_token": csrf_on(client, f"/contributions/{cid}"), "version": "1"}
    )
    assert r.status_code == 303, r.text
    c = db.get(Contribution, cid)
    assert c is not None and c.state == "submitted" and c.version == 2


@pytest.mark.parametrize(
    ("over", "status", "needle", "field_id"),
    [
        ({"sector_impacts": ["energy:purple"]}, 422, "is not a NIS impact severity", "f-sectors-error"),
        ({"country": "DE"}, 403, "only the national CSIRT", "f-country-error"),
        ({"status": "defcon-1"}, 422, "is not valid for status", "f-status-error"),
        ({"entities_affected": "three"}, 422, "is not a whole number", "f-entities-error"),
        ({"period_end": "2020-01-01T00:00"}, 422, "must end after it starts", "f-period_end-error"),
        (
            {"incidents": "incident--00000000-0000-4000-8000-000000000000"},
            422,
            "no incident you may see",
            "f-incidents-error",
        ),
        ({"tlp": "amber+strict"}, 422, "AMBER+STRICT is shared with named organisations only", "f-communities-error"),
    ],
)
def test_form_errors_come_back_next_to_their_field_and_write_nothing(
    client: TestClient,
    people: dict[str, Actor],
    db: Session,
    over: dict[str, Any],
    status: int,
    needle: str,
    field_id: str,
) -> None:
    sign_in(client, people["fr"].email)
    data = form_data(client, narrative="Typed by hand: keep me.", **over)
    before = count(db, AuditEvent)
    r = post(client, "/contributions/new", data)
    assert r.status_code == status, r.text
    assert needle.lower() in html.unescape(r.text).lower()
    error = re.search(rf'<p class="field-error" id="{field_id}">([^<]+)</p>', r.text)
    assert error and needle.lower() in html.unescape(error.group(1)).lower(), r.text
    assert "Typed by hand: keep me." in r.text  # what was typed is kept
    assert count(db, Contribution) == 0
    assert count(db, ContributionVersion) == 0
    assert count(db, AuditEvent) == before


def test_invalid_impact_is_shown_back_in_its_select(client: TestClient, people: dict[str, Actor]) -> None:
    sign_in(client, people["fr"].email)
    r = post(client, "/contributions/new", form_data(client, sector_impacts=["energy:purple", "health:green"]))
    assert r.status_code == 422
    assert '<option value="energy:purple" selected>' in r.text
    assert '<option value="health:green" selected>' in r.text


def test_versions_and_the_compare_view_show_the_change(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    sign_in(client, people["fr"].email)
    cid = post(client, "/contributions/new", form_data(client)).headers["location"].removeprefix("/contributions/")
    token = csrf_on(client, f"/contributions/{cid}")
    edit = {k: v for k, v in form_data(client).items() if k not in ("country", "period_start", "period_end", "tlp")}
    edit.update(
        csrf_token=token, version="1", status="crisis", narrative="Ransomware at three grid operators.\nSpreading."
    )
    r = post(client, f"/contributions/{cid}/edit", edit)
    assert r.status_code == 303, r.text
    page = client.get(f"/contributions/{cid}", headers=HTML).text
    assert f'href="/contributions/{cid}?compare=1..2#compare"' in page
    compared = client.get(f"/contributions/{cid}?compare=1..2", headers=HTML)
    assert compared.status_code == 200
    assert "Changes from version 1 to version 2" in compared.text
    assert '<span class="visually-hidden">[added: </span>three<span' in compared.text  # word by word
    assert '<span class="visually-hidden">[removed: </span>two<span' in compared.text
    assert '<del class="was">degraded</del>' in compared.text and '<ins class="now">crisis</ins>' in compared.text
    # A stale version is refused with a clear message, and writes nothing.
    r = post(client, f"/contributions/{cid}/edit", {**edit, "status": "normal"})
    assert r.status_code == 409
    assert "changed by someone else since you opened it" in r.text
    assert count(db, ContributionVersion, ContributionVersion.contribution_id == cid) == 2
    # A compare of a version that does not exist says so.
    assert client.get(f"/contributions/{cid}?compare=1..9", headers=HTML).status_code == 404


def test_others_cannot_edit_and_do_not_see_the_edit_form(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    sign_in(client, people["fr"].email)
    cid = post(client, "/contributions/new", form_data(client)).headers["location"].removeprefix("/contributions/")
    sign_in(client, people["enisa"].email)
    page = client.get(f"/contributions/{cid}", headers=HTML)
    assert page.status_code == 200 and f'action="/contributions/{cid}/edit"' not in page.text
    token = csrf_on(client, f"/contributions/{cid}")
    r = post(client, f"/contributions/{cid}/edit", {"csrf_token": token, "version": "1", "status": "crisis"})
    assert r.status_code == 403 and "Only the contributing organisation" in r.text
    assert count(db, ContributionVersion) == 1
    # Someone outside its audience does not find it.
    sign_in(client, people["out"].email)
    assert client.get(f"/contributions/{cid}", headers=HTML).status_code == 404
    assert cid not in client.get("/contributions", headers=HTML).text


def test_a_closed_period_offers_no_edit_form(client: TestClient, people: dict[str, Actor]) -> None:
    sign_in(client, people["fr"].email)
    data = form_data(client, action="draft")
    cid = post(client, "/contributions/new", data).headers["location"].removeprefix("/contributions/")
    period = {"period_start": f"{data['period_start']}:00Z", "period_end": f"{data['period_end']}:00Z"}
    r = client.post("/api/v1/periods/close", json=period, headers=people["enisa"].headers)
    assert r.status_code == 201, r.text
    page = client.get(f"/contributions/{cid}", headers=HTML).text
    assert "This contribution can no longer change." in page and "closed by the secretariat" in page
    assert f'action="/contributions/{cid}/edit"' not in page and f'action="/contributions/{cid}/submit"' not in page


def test_csrf_is_required_and_nothing_is_written(client: TestClient, people: dict[str, Actor], db: Session) -> None:
    sign_in(client, people["fr"].email)
    data = form_data(client)
    data.pop("csrf_token")
    r = post(client, "/contributions/new", data)
    assert r.status_code == 403
    r = post(client, "/contributions/new", {**data, "csrf_token": "forged"})
    assert r.status_code == 403
    assert count(db, Contribution) == 0
    sign_in(client, people["enisa"].email)
    r = post(
        client,
        "/sitreps/new",
        {"level": "technical", "period_start": "2026-01-01T00:00", "period_end": "2026-01-02T00:00"},
    )
    assert r.status_code == 403
    assert count(db, Sitrep) == 0


# --- situation reports ----------------------------------------------------------------------------------------


def publish(client: TestClient, people: dict[str, Actor], rep: dict[str, Any]) -> None:
    r = client.post(
        f"/api/v1/sitreps/{rep['id']}/approve", json={"version": rep["version"]}, headers=people["enisa2"].headers
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/sitreps/{rep['id']}/publish", json={"version": rep["version"]}, headers=people["enisa"].headers
    )
    assert r.status_code == 200, r.text


def test_report_shows_figures_with_source_links_and_nothing_of_what_is_hidden(
    client: TestClient, people: dict[str, Actor]
) -> None:
    shared = incident(client, people["fr"])
    private = incident(
        client,
        people["fr"],
        tlp="amber",
        title="Insider at a hospital",
        share_with={"organisations": [people["enisa"].org_id]},
        rsit_class="intrusions",
        rsit_type="system-compromise",
        countries=["FR", "DE"],
    )
    de_inc = incident(client, people["de"], countries=["DE"], title="Wiper at a German utility")
    rep = draft_report(client, people["enisa"])
    publish(client, people, rep)

    sign_in(client, people["de"].email)
    assert rep["id"] in client.get("/sitreps", headers=HTML).text
    page = client.get(f"/sitreps/{rep['id']}", headers=HTML)
    assert page.status_code == 200, page.text
    words = text_of(page.text)
    assert "Figures are computed from the sources you may see." in words and "not shown" not in words
    assert words.count("TLP:GREEN") >= 2  # the marking at the top and at the bottom
    assert f'href="/incidents/{shared["id"]}"' in page.text and f'href="/incidents/{de_inc["id"]}"' in page.text
    assert "Ransomware at a grid operator" in words  # sources are named
    assert private["id"] not in page.text and "Insider" not in page.text
    assert "<svg" in page.text and "Show as a table" in words
    assert f'href="/api/v1/sitreps/{rep["id"]}/pdf?version=1"' in page.text
    # Observables are named, not linked.
    assert "ipv4-addr" not in page.text or 'href="/observable' not in page.text
    # No drafting controls for a reader outside the drafting organisation.
    assert "/approve" not in page.text and "/edit" not in page.text

    # The sources of a row, as this reader sees them.
    sources = client.get(f"/sitreps/{rep['id']}/sources?table=incidents-by-class&row=0", headers=HTML)
    assert sources.status_code == 200
    assert f'href="/incidents/{shared["id"]}"' in sources.text and private["id"] not in sources.text
    assert client.get(f"/sitreps/{rep['id']}/sources?table=nope&row=0", headers=HTML).status_code == 404

    # A reader may not change the text: the refusal is shown, and nothing is written.
    token = csrf_on(client, f"/sitreps/{rep['id']}")
    r = post(client, f"/sitreps/{rep['id']}/edit", {"csrf_token": token, "version": "1", "title": "Hijacked"})
    assert r.status_code == 403 and "The text could not be changed" in r.text
    assert "situation:sitrep:write" in r.text and "Hijacked" not in text_of(r.text)
    # A reader outside the audience does not find the report at all.
    sign_in(client, people["out"].email)
    assert client.get(f"/sitreps/{rep['id']}", headers=HTML).status_code == 404
    assert client.get(f"/sitreps/{rep['id']}/sources?table=headline&row=0", headers=HTML).status_code == 404
    assert rep["id"] not in client.get("/sitreps", headers=HTML).text


def test_long_source_lists_show_ten_links_and_the_rest_on_their_own_page(
    client: TestClient, people: dict[str, Actor]
) -> None:
    ids = [incident(client, people["fr"], title=f"Phishing wave {n}")["id"] for n in range(12)]
    rep = draft_report(client, people["enisa"])
    sign_in(client, people["enisa"].email)
    page = client.get(f"/sitreps/{rep['id']}", headers=HTML).text
    more = f"/sitreps/{rep['id']}/sources?table=incidents-by-class&amp;row=0"
    assert f'<a href="{more}" class="more">and 2 more</a>' in page
    listed = client.get(html.unescape(more), headers=HTML)
    assert listed.status_code == 200
    assert all(f'href="/incidents/{i}"' in listed.text for i in ids)
    assert "All 12 sources" in listed.text


def test_drafting_through_the_form_and_four_eyes_on_approval(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    sign_in(client, people["enisa"].email)
    listing = client.get("/sitreps", headers=HTML).text
    assert 'href="/sitreps/new"' in listing
    page = client.get("/sitreps/new", headers=HTML).text
    assert "EU Cybersecurity Operational Situation Report" in page
    token = csrf_on(client, "/sitreps/new")
    start, end = (now() - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M"), now().strftime("%Y-%m-%dT%H:%M")
    # A bad period comes back with its message and writes nothing.
    r = post(
        client,
        "/sitreps/new",
        {
            "csrf_token": token,
            "level": "operational",
            "period_start": end,
            "period_end": start,
            "title": "Kept title",
            "tlp": "green",
        },
    )
    assert r.status_code == 422 and "must end after it starts" in r.text and "Kept title" in r.text
    assert count(db, Sitrep) == 0
    r = post(
        client,
        "/sitreps/new",
        {
            "csrf_token": token,
            "level": "operational",
            "period_start": start,
            "period_end": end,
            "title": "",
            "tlp": "green",
        },
    )
    assert r.status_code == 303, r.text
    sid = r.headers["location"].removeprefix("/sitreps/")
    page = client.get(f"/sitreps/{sid}", headers=HTML).text
    assert "EU Cybersecurity Operational Situation Report" in page
    assert "Approving: check that the text does not reveal anything from sources the audience may not see." in page
    assert "the approver must be someone other than the author of this version" in page
    before = count(db, AuditEvent)
    r = post(client, f"/sitreps/{sid}/approve", {"csrf_token": token, "version": "1"})
    assert r.status_code == 403
    assert "This version could not be approved" in r.text
    assert "Four eyes: someone other than the author of this version approves it." in html.unescape(r.text)
    assert count(db, AuditEvent) == before
    assert db.get(SitrepVersion, (sid, 1)).state == "draft"  # type: ignore[union-attr]
    # The text is edited into a new version; a stale edit is refused.
    edit = {
        "csrf_token": token,
        "version": "1",
        "title": "Grid attacks",
        "summary": "France is degraded.",
        "decisions_needed": "",
        "notes": "",
    }
    assert post(client, f"/sitreps/{sid}/edit", edit).status_code == 303
    stale = post(client, f"/sitreps/{sid}/edit", {**edit, "summary": "Changed again."})
    assert stale.status_code == 409 and "changed by someone else" in stale.text and "Changed again." in stale.text
    compared = client.get(f"/sitreps/{sid}?compare=1..2", headers=HTML)
    assert compared.status_code == 200
    assert '<span class="visually-hidden">[added: </span>France is degraded.<span' in compared.text
    # A second coordinator approves and publishes.
    sign_in(client, people["enisa2"].email)
    token2 = csrf_on(client, f"/sitreps/{sid}")
    assert post(client, f"/sitreps/{sid}/approve", {"csrf_token": token2, "version": "2"}).status_code == 303
    assert post(client, f"/sitreps/{sid}/publish", {"csrf_token": token2, "version": "2"}).status_code == 303
    db.rollback()  # a fresh snapshot: this session read before the app's commits
    s = db.get(Sitrep, sid)
    assert s is not None and s.published_version == 2
    # The rebuild makes a new version.
    assert post(client, f"/sitreps/{sid}/rebuild", {"csrf_token": token2, "version": "2"}).status_code == 303
    db.rollback()
    assert db.get(Sitrep, sid).current_version == 3  # type: ignore[union-attr]
    # Readers outside ENISA see the published version 2, not the new draft.
    sign_in(client, people["fr_crisis"].email)
    seen = client.get(f"/sitreps/{sid}", headers=HTML)
    assert seen.status_code == 200 and "Grid attacks" in seen.text and "France is degraded." in seen.text
    assert client.get(f"/sitreps/{sid}?version=3", headers=HTML).status_code == 404


def test_the_briefing_pdf_link_works_with_the_session_cookie(client: TestClient, people: dict[str, Actor]) -> None:
    incident(client, people["fr"])
    rep = draft_report(client, people["enisa"])
    sign_in(client, people["enisa"].email)
    page = client.get(f"/sitreps/{rep['id']}", headers=HTML).text
    link = re.search(r'href="(/api/v1/sitreps/[^"]+/pdf\?version=1)"', page)
    assert link, page
    pdf = client.get(html.unescape(link.group(1)))  # no token: the session cookie is enough for a GET
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"


def test_the_briefing_pdf_of_a_published_report(client: TestClient, people: dict[str, Actor]) -> None:
    incident(client, people["fr"])
    rep = draft_report(client, people["enisa"])
    publish(client, people, rep)
    sign_in(client, people["de"].email)
    pdf = client.get(f"/api/v1/sitreps/{rep['id']}/pdf?version=1")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"


def test_new_report_form_needs_the_permission(client: TestClient, people: dict[str, Actor]) -> None:
    sign_in(client, people["de"].email)
    assert 'href="/sitreps/new"' not in client.get("/sitreps", headers=HTML).text
    assert client.get("/sitreps/new", headers=HTML).status_code == 403
