"""Crisis pages: the list, opening a crisis through the form, and the crisis room with its forms.

Every form goes through `crises.service` as the API does; these tests drive the pages as a browser would (signed in
through the login form, CSRF token from the page) and check what was written, what was refused, and what each
reader is shown.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.crises.models import Action, Crisis, CrisisIncident, Decision, Escalation, EscalationApproval
from tests.conftest import Actor, World, count
from tests.test_query_counts import count_queries
from tests.web.conftest import HTML, csrf_on, sign_in

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


@pytest.fixture
def people(world: World, settings: Settings, tmp_path: Path) -> dict[str, Actor]:
    """Two CSIRTs, ENISA, the Council Presidency and an outsider; IPCR needs the Presidency's agreement."""
    world.community("csirts-network")
    world.community("eu-cyclone", "operational")
    world.community("ipcr", "political")
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    world.org("PRESIDENCY", type_="eu-body", country=None, communities=("ipcr",))
    world.org("OUTSIDER", type_="partner", country=None)
    model = {
        "note": "This escalation model is the deployment's own; the EU publishes no numbered alert scale.",
        "stages": [
            {"key": "csirts-network", "label": "CSIRTs Network", "level": "technical", "community": "csirts-network"},
            {"key": "eu-cyclone", "label": "EU-CyCLONe", "level": "operational", "community": "eu-cyclone"},
            {
                "key": "ipcr-information-sharing",
                "label": "IPCR information sharing",
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
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund", roles=("coordinator",)),
        "presidency": world.user("PRESIDENCY", roles=("coordinator",)),
        "presidency_analyst": world.user("PRESIDENCY"),
        "outsider": world.user("OUTSIDER", roles=("coordinator",)),
    }


def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data=data, headers=HTML, follow_redirects=False)


def text_of(page: str) -> str:
    """The visible words of a page, tags dropped and entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def incident(client: TestClient, actor: Actor, country: str, **over: Any) -> str:
    body = {
        "title": f"Ransomware at a {country} grid operator",
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "countries": [country],
        "sectors": ["energy"],
        "impact_severity": "red",
        "tlp": "green",
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def open_crisis(client: TestClient, actor: Actor, **over: Any) -> str:
    body = {
        "title": "Grid ransomware wave",
        "justification": "Significant impact in two Member States",
        "criteria": ["multi-member-state-impact"],
        "tlp": "amber",
        **over,
    }
    r = client.post("/api/v1/crises", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def room(client: TestClient, cid: str) -> str:
    r = client.get(f"/crises/{cid}", headers=HTML)
    assert r.status_code == 200, r.text
    return r.text


def crisis_audit(db: Session) -> int:
    return count(db, AuditEvent, AuditEvent.tag.like("crises:%"))


# --- list and room ----------------------------------------------------------------------------------------------


def test_list_and_room_show_the_crisis_to_its_readers_and_nothing_to_others(
    client: TestClient, people: dict[str, Actor]
) -> None:
    fr = incident(client, people["fr"], "FR")
    de = incident(client, people["de"], "DE")
    cid = open_crisis(client, people["enisa"], incidents=[fr, de])
    client.post(
        f"/api/v1/crises/{cid}/decisions",
        json={"level": "technical", "title": "Block the C2 ranges"},
        headers=people["enisa"].headers,
    )

    sign_in(client, people["de"].email)
    listing = client.get("/crises", headers=HTML)
    assert listing.status_code == 200
    assert 'href="/crises"' in listing.text and 'aria-current="page"' in listing.text  # the navigation item
    row = re.search(rf'<tr>\s*<th scope="row"><a href="/crises/{cid}">.*?</tr>', listing.text, re.S)
    assert row, listing.text
    words = text_of(row.group(0))
    for expected in (
        "Grid ransomware wave",
        "Technical level",
        "CSIRTs Network",
        "Response",
        "Open",
        "TLP:AMBER",
        "ENISA",
    ):
        assert expected in words, (expected, words)
    assert re.search(r'<td class="num">2</td>', row.group(0))
    assert 'href="/crises/new"' in listing.text  # a coordinator may open crises

    r = client.get(f"/crises/{cid}", headers=HTML)
    page = r.text
    # Our own stylesheet and no inline style or script: the CSP forbids them.
    assert "content-security-policy" in r.headers and '<link rel="stylesheet" href="/static/crisis.css">' in page
    assert not re.search(r"\sstyle=", page) and "<script>" not in page and "<style" not in page
    assert client.get("/static/crisis.css").status_code == 200
    words = text_of(page)
    assert "TLP:AMBER" in words and "Grid ransomware wave" in words and "deployment's own" in words
    # The current stage says so in words, not only in colour.
    current = re.search(r'<li class="now" aria-current="step">(.*?)</li>', page, re.S)
    assert current and "CSIRTs Network" in current.group(1) and "current" in text_of(current.group(1))
    assert f'href="/incidents/{fr}"' in page and f'href="/incidents/{de}"' in page
    assert "Block the C2 ranges" in words and "Crisis opened" in words  # decision log and timeline
    assert re.search(
        r"Significant impact in two or more Member States<span[^>]*>[^<]*</span></th><td>Yes</td><td>Yes</td>", page
    )
    # A coordinator of an organisation taking part at the current level may decide and propose moves.
    assert 'id="decision-form"' in page and 'id="escalate-form"' in page  # CERT-Bund takes part at this level
    # The note after a form is one of a fixed set; whatever else the address says is not shown.
    assert "The decision is recorded." in client.get(f"/crises/{cid}?done=decision", headers=HTML).text
    odd = client.get(f"/crises/{cid}?done=%3Cscript%3Ealert(1)", headers=HTML).text
    assert "done-note" not in odd and "alert(1)" not in odd

    sign_in(client, people["fr"].email)  # an analyst: reads, no decision or escalation forms, no "open" button
    page = room(client, cid)
    assert 'id="decision-form"' not in page and 'id="escalate-form"' not in page and 'id="phase-form"' not in page
    assert 'id="action-form"' in page  # analysts own and add actions
    assert 'href="/crises/new"' not in client.get("/crises", headers=HTML).text

    sign_in(client, people["outsider"].email)
    assert cid not in client.get("/crises", headers=HTML).text
    missing = client.get(f"/crises/{cid}", headers=HTML)
    assert missing.status_code == 404 and "Grid ransomware" not in missing.text


# --- opening a crisis -------------------------------------------------------------------------------------------


def new_form(client: TestClient, token_from: str = "/crises/new", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "csrf_token": csrf_on(client, token_from),
        "title": "Wiper campaign against hospitals",
        "description": "Destructive malware in two Member States.",
        "justification": "Hospitals in FR and DE cannot treat patients; FR asked for help.",
        "criteria": ["exceeds-national-capacity", "multi-member-state-impact"],
        "incidents": [],
        "stage": "csirts-network",
        "phase": "",
        "tlp": "amber",
    }
    data.update(over)
    return data


def test_a_crisis_is_opened_through_the_form(client: TestClient, people: dict[str, Actor], db: Session) -> None:
    fr = incident(client, people["fr"], "FR")
    de = incident(client, people["de"], "DE")
    closed = incident(client, people["de"], "DE", title="An old, resolved incident")
    r = client.patch(
        f"/api/v1/incidents/{closed}", json={"version": 1, "status": "resolved"}, headers=people["de"].headers
    )
    assert r.status_code == 200, r.text
    hidden = incident(client, people["fr"], "FR", title="French only", tlp="amber+strict")
    sign_in(client, people["enisa"].email)
    page = client.get("/crises/new", headers=HTML).text
    # Visible open incidents are offered; a resolved one and one ENISA may not see are not.
    assert f'value="{fr}"' in page and f'value="{de}"' in page
    assert f'value="{closed}"' not in page and f'value="{hidden}"' not in page and "French only" not in page
    assert "capacity to respond" in page and "at least two Member States" in page  # the definitions, as help
    assert "deployment's own" in html.unescape(page) and "IPCR information sharing" in page

    r = post(client, "/crises/new", new_form(client, incidents=[fr, de], suspected_criminal="yes"))
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("?done=opened")
    cid = r.headers["location"].split("?")[0].removeprefix("/crises/")
    c = db.get(Crisis, cid)
    assert c is not None and c.owner_org_id == people["enisa"].org_id and c.stage == "csirts-network"
    assert c.criteria == ["exceeds-national-capacity", "multi-member-state-impact"] and c.suspected_criminal
    assert c.phase == "response" and c.tlp == "amber"  # with incidents, the response phase by default
    assert set(db.scalars(select(CrisisIncident.incident_id).where(CrisisIncident.crisis_id == cid))) == {fr, de}
    assert count(db, AuditEvent, AuditEvent.tag == "crises:crisis:create", AuditEvent.object_id == cid) == 1
    words = text_of(client.get(r.headers["location"], headers=HTML).text)
    assert "The crisis is open." in words and "Hospitals in FR and DE cannot treat patients" in words
    assert "Csirts Network" in words  # shared, by default, with the starting stage's community
    # The CSIRTs Network reads it at once.
    sign_in(client, people["de"].email)
    assert "Wiper campaign against hospitals" in room(client, cid)


def test_new_crisis_form_errors_keep_the_input_and_write_nothing(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    sign_in(client, people["enisa"].email)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": "  ", "justification": ""}, "title"),
        ({"incidents": ["incident--00000000-0000-4000-8000-000000000000"]}, "incidents"),
        ({"stage": "nato"}, "stage"),
        ({"phase": "panic"}, "phase"),
        ({"criteria": ["because"]}, "criteria"),
        ({"tlp": "white"}, "tlp"),
        ({"tlp": "red", "communities": ["csirts-network"]}, "organisations"),
        ({"communities": ["nowhere"]}, "communities"),
    ]
    for over, field in cases:
        r = post(client, "/crises/new", new_form(client, description="Keep this text", **over))
        assert r.status_code == 422, (over, r.text)
        assert 'class="error-summary"' in r.text, over
        # The message sits next to its field, and what was typed is still there.
        assert re.search(rf'id="f-{field}-error"', r.text), (over, field, r.text)
        assert "Keep this text" in r.text
    both = post(client, "/crises/new", new_form(client, title="", justification=""))
    assert 'id="f-title-error"' in both.text and 'id="f-justification-error"' in both.text
    assert count(db, Crisis) == 0 and crisis_audit(db) == 0

    sign_in(client, people["fr"].email)  # an analyst does not open crises
    assert client.get("/crises/new", headers=HTML).status_code == 403
    assert post(client, "/crises/new", new_form(client, token_from="/crises")).status_code == 403
    assert count(db, Crisis) == 0


def test_forms_without_the_csrf_token_are_refused_and_write_nothing(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    cid = open_crisis(client, people["enisa"])
    sign_in(client, people["enisa"].email)
    token = csrf_on(client, f"/crises/{cid}")
    forms = {
        "/crises/new": new_form(client),
        f"/crises/{cid}/decisions": {"level": "technical", "title": "Block"},
        f"/crises/{cid}/escalations": {"to": "eu-cyclone", "rationale": "two Member States"},
        f"/crises/{cid}/phase": {"phase": "recovery", "rationale": "restored"},
        f"/crises/{cid}/actions": {"title": "Share IoCs", "assignee": people["fr"].org_id},
    }
    before = crisis_audit(db)
    for path, data in forms.items():
        for bad in ("", "forged"):
            r = post(client, path, {**data, "csrf_token": bad})
            assert r.status_code == 403, (path, r.text)
    assert count(db, Crisis) == 1 and count(db, Decision) == 0 and count(db, Escalation) == 0
    assert count(db, Action) == 0 and crisis_audit(db) == before
    # With the token it works; an organisation that cannot read the crisis gets 404, not 403.
    assert (
        post(client, f"/crises/{cid}/decisions", {**forms[f"/crises/{cid}/decisions"], "csrf_token": token}).status_code
        == 303
    )
    sign_in(client, people["outsider"].email)
    r = post(
        client,
        f"/crises/{cid}/decisions",
        {"level": "technical", "title": "x", "csrf_token": csrf_on(client, "/crises")},
    )
    assert r.status_code == 404 and count(db, Decision) == 1


# --- the room's forms -------------------------------------------------------------------------------------------


def test_escalation_is_proposed_and_agreed_through_the_room(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    cid = open_crisis(client, people["enisa"])
    sign_in(client, people["enisa"].email)
    page = room(client, cid)
    assert 'id="escalate-form"' in page and "needs the agreement of PRESIDENCY" in page
    assert "Commission in EU-CyCLONe Observer (NIS2 Art. 16(2))" in text_of(page)  # until the crisis records it
    # Up one step: nobody else must agree, so it takes effect at once and is a decision.
    r = post(
        client,
        f"/crises/{cid}/escalations",
        {"csrf_token": csrf_on(client, f"/crises/{cid}"), "to": "eu-cyclone", "rationale": "Two Member States hit"},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/crises/{cid}?done=moved#escalations"
    page = room(client, cid)
    current = re.search(r'<li class="now" aria-current="step">(.*?)</li>', page, re.S)
    assert current and "EU-CyCLONe" in current.group(1)
    assert "Escalated to EU-CyCLONe" in page and "Operational level" in text_of(page)

    # A move without a reason is refused next to the field; nothing is written.
    token = csrf_on(client, f"/crises/{cid}")
    r = post(
        client, f"/crises/{cid}/escalations", {"csrf_token": token, "to": "ipcr-information-sharing", "rationale": " "}
    )
    assert r.status_code == 422 and 'id="x-rationale-error"' in r.text and "The move was not proposed" in r.text
    assert count(db, Escalation) == 1
    # To IPCR: the Presidency must agree, so it must read the crisis: without the originator's tick, refused.
    r = post(
        client,
        f"/crises/{cid}/escalations",
        {"csrf_token": token, "to": "ipcr-information-sharing", "rationale": "Political impact"},
    )
    assert r.status_code == 409 and "a proposal adds no reader" in text_of(r.text)
    assert 'name="share_with_approvers" value="yes"' in r.text  # offered to ENISA, the originator
    # With it, ENISA lets the Presidency read the crisis, and the move waits for its agreement.
    r = post(
        client,
        f"/crises/{cid}/escalations",
        {
            "csrf_token": token,
            "to": "ipcr-information-sharing",
            "rationale": "Political impact",
            "share_with_approvers": "yes",
        },
    )
    assert r.headers["location"] == f"/crises/{cid}?done=proposed#escalations"
    page = room(client, cid)
    words = text_of(page)
    assert "Waiting for agreement: up to IPCR information sharing" in words and "Waiting for PRESIDENCY" in words
    assert 'id="answer-form"' not in page  # ENISA is not among those that must agree
    db.rollback()
    esc = db.scalars(select(Escalation).where(Escalation.state == "pending")).one()

    sign_in(client, people["presidency_analyst"].email)  # reads it, but may not agree for the Presidency
    assert 'id="answer-form"' not in room(client, cid)
    sign_in(client, people["presidency"].email)
    page = room(client, cid)
    assert 'id="answer-form"' in page and ">Agree</button>" in page and "Do not agree (say why)</button>" in page
    answer = f"/crises/{cid}/escalations/{esc.id}/answer"
    token = csrf_on(client, f"/crises/{cid}")
    r = post(client, answer, {"csrf_token": token, "verdict": "reject", "comment": ""})
    assert r.status_code == 422 and 'id="ans-comment-error"' in r.text
    assert count(db, EscalationApproval) == 0
    r = post(client, answer, {"csrf_token": token, "verdict": "agree", "comment": "Agreed in COREPER"})
    assert r.status_code == 303 and r.headers["location"] == f"/crises/{cid}?done=moved#escalations"
    db.rollback()
    assert db.get(Crisis, cid).stage == "ipcr-information-sharing"  # type: ignore[union-attr]
    page = room(client, cid)
    current = re.search(r'<li class="now" aria-current="step">(.*?)</li>', page, re.S)
    assert current and "IPCR information sharing" in current.group(1)
    words = text_of(page)
    assert "Political level" in words and "Escalated to IPCR information sharing" in words
    assert "PRESIDENCY: agreed (“Agreed in COREPER”)" in words and 'id="answer-form"' not in page
    tags = set(db.scalars(select(AuditEvent.tag).where(AuditEvent.tag.like("crises:escalation:%"))))
    assert tags == {"crises:escalation:propose", "crises:escalation:done", "crises:escalation:agree"}

    # Back at ENISA: colleagues are named by e-mail address, the Presidency's staff by organisation only.
    sign_in(client, people["enisa"].email)
    page = room(client, cid)
    assert f"recorded by {people['enisa'].email}" in page and people["presidency"].email not in page
    # Down again needs the Presidency too; the proposer may withdraw the proposal while it waits.
    token = csrf_on(client, f"/crises/{cid}")
    post(client, f"/crises/{cid}/escalations", {"csrf_token": token, "to": "csirts-network", "rationale": "Contained"})
    db.rollback()
    down = db.scalars(select(Escalation).where(Escalation.state == "pending")).one()
    assert down.direction == "de-escalate" and "Withdraw the proposal</button>" in room(client, cid)
    r = post(client, f"/crises/{cid}/escalations/{down.id}/withdraw", {"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].endswith("done=withdrawn#escalations")
    db.rollback()
    assert db.get(Escalation, down.id).state == "withdrawn"  # type: ignore[union-attr]
    assert db.get(Crisis, cid).stage == "ipcr-information-sharing"  # type: ignore[union-attr]


def test_decisions_and_phase_changes_are_recorded_through_the_room(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    cid = open_crisis(client, people["enisa"])
    sign_in(client, people["enisa"].email)
    page = room(client, cid)
    assert '<option value="technical" selected>' in page  # the current level first
    token = csrf_on(client, f"/crises/{cid}")
    body = {
        "csrf_token": token,
        "level": "political",
        "kind": "political-measure",
        "title": "Prepare a cyber diplomacy toolbox option",
        "detail": "For COREPER.",
        "options": "Statement by the High Representative\n\n  Restrictive measures \n",
        "rationale": "Attribution is firm",
    }
    # Refused: no title (next to the field), and an unknown kind; nothing written, the typed text kept.
    r = post(client, f"/crises/{cid}/decisions", {**body, "title": ""})
    assert r.status_code == 422 and 'id="d-title-error"' in r.text and "Attribution is firm" in r.text
    assert '<details class="card room-form form-card" open>' in r.text
    r = post(client, f"/crises/{cid}/decisions", {**body, "kind": "escalation"})
    assert r.status_code == 422 and 'id="d-kind-error"' in r.text
    assert count(db, Decision) == 0 and crisis_audit(db) == 1

    # Owning the crisis is no seat at the political level (issue 13); ENISA is a CSIRTs Network member in this world.
    r = post(client, f"/crises/{cid}/decisions", body)
    assert r.status_code == 403 and "deciding members of ipcr" in r.text and count(db, Decision) == 0
    r = post(client, f"/crises/{cid}/decisions", {**body, "level": "technical"})
    assert r.status_code == 303 and r.headers["location"] == f"/crises/{cid}?done=decision#decisions"
    db.rollback()
    d = db.scalars(select(Decision)).one()
    assert d.level == "technical" and d.kind == "political-measure" and d.decided_by == [people["enisa"].org_id]
    assert d.options == ["Statement by the High Representative", "Restrictive measures"]
    assert count(db, AuditEvent, AuditEvent.tag == "crises:decision:create", AuditEvent.object_id == d.id) == 1
    page = room(client, cid)
    section = page[page.index('id="decisions-technical"') : page.index('id="actions"')]
    words = text_of(section)
    assert "Prepare a cyber diplomacy toolbox option" in words and "Political measure" in words
    assert "Restrictive measures" in words and "Attribution is firm" in words and "ENISA" in words

    # The phase changes by decision, with a reason.
    r = post(client, f"/crises/{cid}/phase", {"csrf_token": token, "phase": "recovery", "rationale": ""})
    assert r.status_code == 422 and 'id="p-rationale-error"' in r.text
    r = post(client, f"/crises/{cid}/phase", {"csrf_token": token, "phase": "recovery", "rationale": "Restored"})
    assert r.status_code == 303
    db.rollback()
    assert db.get(Crisis, cid).phase == "recovery"  # type: ignore[union-attr]
    assert "Phase changed from detection to recovery" in room(client, cid)

    # CERT-Bund decides at the technical level, where it takes part; not at the political one.
    sign_in(client, people["de"].email)
    token = csrf_on(client, f"/crises/{cid}")
    r = post(client, f"/crises/{cid}/decisions", {**body, "csrf_token": token})
    assert r.status_code == 403 and "The decision was not recorded" in r.text and "deciding members" in r.text
    assert count(db, Decision) == 2
    r = post(
        client,
        f"/crises/{cid}/decisions",
        {**body, "csrf_token": token, "level": "technical", "kind": "response", "title": "Block the C2 ranges"},
    )
    assert r.status_code == 303 and count(db, Decision) == 3


def test_actions_are_added_and_updated_through_the_room(
    client: TestClient, people: dict[str, Actor], db: Session
) -> None:
    cid = open_crisis(client, people["enisa"])
    sign_in(client, people["enisa"].email)
    page = room(client, cid)
    assignees = re.search(r'<select id="a-assignee".*?</select>', page, re.S)
    assert assignees and people["fr"].org_id in assignees.group(0) and people["de"].org_id in assignees.group(0)
    assert people["outsider"].org_id not in assignees.group(0)  # only organisations that may read the crisis
    token = csrf_on(client, f"/crises/{cid}")
    past = (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    body = {
        "csrf_token": token,
        "title": "Share IoCs with the CSIRTs Network",
        "assignee": people["fr"].org_id,
        "due_at": past,
        "detail": "Hashes and C2 domains",
    }
    for over, field in (
        ({"due_at": "tomorrow"}, "a-due_at"),
        ({"assignee": people["outsider"].org_id}, "a-assignee"),
        ({"title": ""}, "a-title"),
    ):
        r = post(client, f"/crises/{cid}/actions", {**body, **over})
        assert r.status_code == 422 and f'id="{field}-error"' in r.text, (over, r.text)
        assert "Hashes and C2 domains" in r.text
    assert count(db, Action) == 0

    r = post(client, f"/crises/{cid}/actions", body)
    assert r.status_code == 303 and r.headers["location"] == f"/crises/{cid}?done=action#actions"
    db.rollback()
    a = db.scalars(select(Action)).one()
    assert a.assignee_org_id == people["fr"].org_id and a.due_at == NOW - timedelta(hours=2)  # read as UTC
    assert count(db, AuditEvent, AuditEvent.tag == "crises:action:create", AuditEvent.object_id == a.id) == 1
    row = re.search(r'<tr class="is-overdue">.*?</tr>', room(client, cid), re.S)
    assert row and "overdue" in text_of(row.group(0)) and "CERT-FR" in text_of(row.group(0))

    # CERT-Bund reads the action but may not change it.
    sign_in(client, people["de"].email)
    page = room(client, cid)
    assert "Share IoCs" in page and "/status" not in page and "owner or crisis lead only" in page
    # CERT-FR, the owner, marks it done; a stale version is refused and changes nothing.
    sign_in(client, people["fr"].email)
    page = room(client, cid)
    assert f'action="/crises/{cid}/actions/{a.id}/status"' in page
    token = csrf_on(client, f"/crises/{cid}")
    url = f"/crises/{cid}/actions/{a.id}/status"
    r = post(client, url, {"csrf_token": token, "status": "in-progress", "version": a.version + 5})
    assert r.status_code == 409 and "The action was not updated" in r.text
    r = post(client, url, {"csrf_token": token, "status": "done", "version": a.version})
    assert r.status_code == 303
    db.rollback()
    assert db.get(Action, a.id).status == "done"  # type: ignore[union-attr]
    assert count(db, AuditEvent, AuditEvent.tag == "crises:action:update") == 1
    words = text_of(room(client, cid))
    assert "Done" in words and "overdue" not in words.split("Actions", 1)[1].split("Timeline", 1)[0]


def test_the_room_shows_only_what_the_reader_may_see(client: TestClient, people: dict[str, Actor], db: Session) -> None:
    shared = incident(client, people["fr"], "FR", title="Shared grid incident")
    strict = incident(
        client,
        people["fr"],
        "FR",
        title="Nuclear plant intrusion",
        tlp="amber+strict",
        share_with={"organisations": [people["enisa"].org_id]},
    )
    cid = open_crisis(client, people["enisa"], incidents=[shared])
    sign_in(client, people["enisa"].email)
    # The owner links the AMBER+STRICT incident it was given through the room's link form.
    page = room(client, cid)
    assert f'value="{strict}"' in page and f'value="{shared}"' not in page  # linked ones are not offered again
    r = post(
        client, f"/crises/{cid}/incidents", {"csrf_token": csrf_on(client, f"/crises/{cid}"), "incidents": [strict]}
    )
    assert r.status_code == 303 and count(db, CrisisIncident) == 2
    assert "Nuclear plant intrusion" in room(client, cid)
    assert re.search(r'<td class="num">2</td>', client.get("/crises", headers=HTML).text)

    sign_in(client, people["de"].email)  # CERT-Bund reads the crisis, not the AMBER+STRICT incident
    page = room(client, cid)
    assert "Shared grid incident" in page
    assert "Nuclear plant intrusion" not in page and strict not in page
    assert re.search(r'<td class="num">1</td>', client.get("/crises", headers=HTML).text)
    # Nor can it link what it may not see: refused next to the field, nothing written.
    other = incident(client, people["fr"], "FR", title="Another French secret", tlp="amber+strict")
    r = post(
        client, f"/crises/{cid}/incidents", {"csrf_token": csrf_on(client, f"/crises/{cid}"), "incidents": [other]}
    )
    assert r.status_code == 422 and 'id="l-incidents-error"' in r.text and count(db, CrisisIncident) == 2


def test_room_and_list_pages_cost_the_same_number_of_queries_with_more_objects(
    app: FastAPI, client: TestClient, people: dict[str, Actor]
) -> None:
    h = people["enisa"].headers
    cid = open_crisis(client, people["enisa"], incidents=[incident(client, people["fr"], "FR")])

    def add(n: int) -> None:
        for i in range(n):
            client.post(
                f"/api/v1/crises/{cid}/decisions",
                json={"level": "technical", "title": f"d{i}", "options": ["a", "b"]},
                headers=h,
            )
            client.post(
                f"/api/v1/crises/{cid}/actions",
                json={
                    "title": f"a{i}",
                    "assignee": people["fr"].org_id,
                    "due_at": (NOW + timedelta(hours=i - 3)).isoformat(),
                },
                headers=h,
            )
            open_crisis(client, people["enisa"], title=f"Crisis {i}")

    def queries() -> tuple[int, int]:
        with count_queries(app) as on_room:
            assert client.get(f"/crises/{cid}", headers=HTML).status_code == 200
        with count_queries(app) as on_list:
            assert client.get("/crises", headers=HTML).status_code == 200
        return len(on_room), len(on_list)

    sign_in(client, people["fr"].email)  # an analyst who owns actions: the status forms are drawn too
    client.get("/crises", headers=HTML)  # the chrome's alert badge is counted once per reader, then cached
    add(2)
    small = queries()
    add(10)
    client.post(
        f"/api/v1/crises/{cid}/incidents",
        json={"incidents": [incident(client, people["de"], "DE") for _ in range(4)]},
        headers=h,
    )
    large = queries()
    page = room(client, cid)
    assert page.count('class="status-form"') == 12 and page.count("/incidents/incident--") >= 5
    assert large == small
