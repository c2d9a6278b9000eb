"""Crises through the API: opening, escalation by the deployment's model, decisions, actions, the crisis room."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.crises import escalation
from cybercrisis.crises.models import Action, Crisis, Decision, Escalation, EscalationApproval
from cybercrisis.crises.tasks import remind_actions
from cybercrisis.db import unit_of_work
from cybercrisis.notify.models import OutboxMessage
from tests.conftest import Actor, World, count
from tests.notify.helpers import add_contact, outbox
from tests.test_query_counts import count_queries
from tests.web.conftest import HTML, csrf_on, sign_in

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def cast(world: World, settings: Settings, tmp_path: Path, session_factory: sessionmaker[Session]) -> dict[str, Actor]:
    """Two Member States, ENISA, the Council Presidency and an outsider; an escalation model naming them."""
    world.community("csirts-network")
    world.community("eu-cyclone", "operational")
    world.community("ipcr", "political")
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("ANSSI-CRISIS", type_="crisis-authority", country="FR", communities=("eu-cyclone",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    world.org("PRESIDENCY", type_="eu-body", country=None, communities=("ipcr",))
    world.org("GSC", type_="eu-body", country=None, communities=("ipcr",))
    world.org("OUTSIDER", type_="partner", country=None)
    for short, org_id in world.orgs.items():
        add_contact(session_factory, org_id, "email", f"desk@{short.lower()}.example")
    model = {
        "note": "test model",
        "stages": [
            {
                "key": "csirts-network",
                "label": "CSIRTs Network",
                "level": "technical",
                "community": "csirts-network",
                "notify": ["csirts-network"],
            },
            {
                "key": "eu-cyclone",
                "label": "EU-CyCLONe",
                "level": "operational",
                "community": "eu-cyclone",
                "notify": ["eu-cyclone"],
            },
            {
                "key": "ipcr-information-sharing",
                "label": "IPCR information sharing",
                "level": "political",
                "community": "ipcr",
                "approvers": [world.orgs["PRESIDENCY"], world.orgs["GSC"]],
                "exit_approvers": [world.orgs["PRESIDENCY"]],
                "notify": ["ipcr"],
            },
        ],
    }
    path = tmp_path / "escalation.json"
    path.write_text(json.dumps(model))
    settings.escalation_model = path
    return {
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "enisa_analyst": world.user("ENISA"),
        "fr": world.user("CERT-FR"),
        "fr_coord": world.user("CERT-FR", roles=("coordinator",)),
        "de_coord": world.user("CERT-Bund", roles=("coordinator",)),
        "fr_crisis": world.user("ANSSI-CRISIS", roles=("coordinator",)),
        "presidency": world.user("PRESIDENCY", roles=("coordinator",)),
        "presidency_analyst": world.user("PRESIDENCY"),
        "gsc": world.user("GSC", roles=("coordinator",)),
        "outsider": world.user("OUTSIDER", roles=("coordinator",)),
    }


def _incident(client: TestClient, actor: Actor, country: str, **over: Any) -> str:
    body = {
        "title": f"Ransomware at a {country} grid operator",
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "countries": [country],
        "sectors": ["energy"],
        "tlp": "green",
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _open(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    body = {
        "title": "Grid ransomware wave",
        "description": "Coordinated attacks on energy operators.",
        "incidents": [],
        "justification": "Significant impact in two Member States",
        "tlp": "amber",
        **over,
    }
    r = client.post("/api/v1/crises", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _share_with_approvers(client: TestClient, cast: dict[str, Actor], cid: str, *, communities: list[str]) -> None:
    """The originator (ENISA) lets the organisations that must agree to IPCR read the crisis."""
    orgs = [cast["presidency"].org_id, cast["gsc"].org_id]
    r = client.put(
        f"/api/v1/crises/{cid}/sharing",
        json={"tlp": "amber", "share_with": {"communities": communities, "organisations": orgs}},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 200, r.text


def test_opening_a_crisis_from_incidents_shows_them_and_what_they_evidence(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    fr = _incident(client, cast["fr"], "FR", exceeds_national_capacity=True)
    de = _incident(client, cast["de_coord"], "DE")
    body = _open(client, cast["enisa"], incidents=[fr, de], criteria=["multi-member-state-impact"])
    assert body["level"] == "technical" and body["stage"] == "csirts-network" and body["phase"] == "response"
    assert {i["id"] for i in body["incidents"]} == {fr, de} and body["countries"] == ["DE", "FR"]
    assert body["evidenced"] == ["exceeds-national-capacity", "multi-member-state-impact"]
    assert body["share_with"]["communities"] == ["csirts-network"]  # the starting stage's community by default
    assert body["decisions"] == [] and body["actions"] == []
    assert [e["tag"] for e in body["timeline"]] == ["crises:crisis:create"]
    # Members of the CSIRTs Network are told; the opener's own organisation is not.
    told = {m.target for m in outbox(db, OutboxMessage.event == "crises:crisis:create")}
    assert "desk@cert-fr.example" in told and "desk@enisa.example" not in told and "desk@outsider.example" not in told
    # The live picture lists it for readers, not for others.
    live = client.get("/api/v1/situation", headers=cast["fr"].headers).json()["active_crises"]
    assert [(c["id"], c["level"]) for c in live] == [(body["id"], "technical")]
    assert client.get("/api/v1/situation", headers=cast["outsider"].headers).json()["active_crises"] == []
    # An exercise crisis stays out of the live picture, and its decisions and actions are exercise data too.
    drill = _open(client, cast["enisa"], title="Cyber Europe drill", exercise=True)
    assert drill["exercise"] is True
    act = client.post(
        f"/api/v1/crises/{drill['id']}/actions",
        json={"title": "inject 1", "assignee": cast["fr"].org_id},
        headers=cast["enisa"].headers,
    )
    assert count(db, Action, Action.id == act.json()["id"], Action.exercise.is_(True)) == 1
    live = client.get("/api/v1/situation", headers=cast["fr"].headers).json()["active_crises"]
    assert [c["id"] for c in live] == [body["id"]]
    # Threat first: a crisis without incidents starts in detection.
    assert _open(client, cast["enisa"], title="Threat of a wiper campaign")["phase"] == "detection"


@pytest.mark.parametrize(
    ("who", "over", "status", "field"),
    [
        ("fr", {}, 403, None),  # analysts do not open crises
        ("enisa", {"justification": ""}, 422, "justification"),
        ("enisa", {"tlp": "white"}, 422, "tlp"),
        ("enisa", {"criteria": ["because"]}, 422, "criteria"),
        ("enisa", {"phase": "panic"}, 422, "phase"),
        ("enisa", {"stage": "nato"}, 422, "to"),
        ("enisa", {"stage": "ipcr"}, 422, "stage"),  # would skip the Presidency's agreement
        ("enisa", {"incidents": ["incident--00000000-0000-4000-8000-000000000000"]}, 422, "incidents"),
        ("enisa", {"share_with": {"communities": ["nowhere"]}}, 422, "share_with.communities"),
        ("enisa", {"tlp": "red", "share_with": {"communities": ["csirts-network"]}}, 422, None),
        ("enisa", {"unexpected": 1}, 422, None),
    ],
)
def test_bad_crisis_input_is_refused_and_writes_nothing(
    client: TestClient,
    cast: dict[str, Actor],
    db: Session,
    who: str,
    over: dict[str, Any],
    status: int,
    field: str | None,
) -> None:
    body = {"title": "x", "justification": "y", "tlp": "amber", **over}
    r = client.post("/api/v1/crises", json=body, headers=cast[who].headers)
    assert r.status_code == status, r.text
    if field:
        assert field in {e.get("field") for e in r.json()["errors"]}, r.json()
    assert count(db, Crisis) == 0 and count(db, AuditEvent, AuditEvent.tag.like("crises:%")) == 0


def test_incident_the_opener_cannot_see_cannot_be_linked(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    hidden = _incident(client, cast["fr"], "FR", tlp="amber+strict")
    r = client.post(
        "/api/v1/crises",
        json={"title": "x", "justification": "y", "incidents": [hidden]},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 422 and hidden in r.json()["detail"]
    assert count(db, Crisis) == 0


def test_escalation_walks_the_model_with_agreements_and_records_each_step(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    crisis = _open(client, cast["enisa"])
    cid = crisis["id"]
    # Up to EU-CyCLONe: nobody else must agree, so the step is done at once and is a decision.
    r = client.post(
        f"/api/v1/crises/{cid}/escalations",
        json={"to": "operational", "rationale": "two MS hit"},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 201 and r.json()["state"] == "done" and r.json()["to_stage"] == "eu-cyclone"
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["enisa"].headers).json()
    assert room["level"] == "operational" and "eu-cyclone" in room["share_with"]["communities"]
    assert room["decisions"][0]["kind"] == "escalation" and room["decisions"][0]["rationale"] == "two MS hit"
    # EU-CyCLONe members now read it (they did not before).
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["fr_crisis"].headers).status_code == 200

    # To IPCR: the Presidency and the GSC must both agree, so they must read the crisis; a proposal adds no reader.
    r = client.post(
        f"/api/v1/crises/{cid}/escalations",
        json={"to": "ipcr", "rationale": "political impact"},
        headers=cast["fr_crisis"].headers,
    )
    assert r.status_code == 409 and "GSC, PRESIDENCY must agree" in r.json()["detail"]
    _share_with_approvers(client, cast, cid, communities=["csirts-network", "eu-cyclone"])
    r = client.post(
        f"/api/v1/crises/{cid}/escalations",
        json={"to": "ipcr", "rationale": "political impact"},
        headers=cast["fr_crisis"].headers,
    )
    assert r.status_code == 201, r.text
    esc = r.json()
    # The crisis authority is not its originator, and the step brings the IPCR community in: ENISA must agree too.
    assert esc["state"] == "pending" and {o["name"] for o in esc["waiting_for"]} == {"ENISA", "PRESIDENCY", "GSC"}
    # The approvers were asked.
    asked = {m.target for m in outbox(db, OutboxMessage.event == "crises:escalation:approval-requested")}
    assert asked == {"desk@presidency.example", "desk@gsc.example", "desk@enisa.example"}
    # A second proposal while one is pending is refused.
    again = client.post(
        f"/api/v1/crises/{cid}/escalations", json={"to": "technical", "rationale": "x"}, headers=cast["enisa"].headers
    )
    assert again.status_code == 409

    url = f"/api/v1/crises/{cid}/escalations/{esc['id']}"
    # Not on the list; no right to approve; both refused and nothing written.
    assert client.post(f"{url}/approve", headers=cast["de_coord"].headers).status_code == 403
    assert client.post(f"{url}/approve", headers=cast["presidency_analyst"].headers).status_code == 403
    assert count(db, EscalationApproval) == 0
    assert client.post(f"{url}/approve", json={"comment": "yes"}, headers=cast["enisa"].headers).status_code == 200
    r = client.post(f"{url}/approve", json={"comment": "agreed in COREPER"}, headers=cast["presidency"].headers)
    assert r.status_code == 200 and r.json()["state"] == "pending"
    assert client.post(f"{url}/approve", headers=cast["presidency"].headers).status_code == 409  # answered already
    r = client.post(f"{url}/approve", headers=cast["gsc"].headers)
    assert r.status_code == 200 and r.json()["state"] == "done" and r.json()["decision"]

    room = client.get(f"/api/v1/crises/{cid}", headers=cast["presidency"].headers).json()
    assert room["level"] == "political" and room["stage"] == "ipcr-information-sharing"
    top = room["decisions"][0]
    assert top["title"] == "Escalated to IPCR information sharing"
    # The proposer and every organisation that agreed took it (not the owner as such: issue 13).
    assert {o["name"] for o in top["decided_by"]} == {"ANSSI-CRISIS", "ENISA", "PRESIDENCY", "GSC"}
    tags = [e["tag"] for e in room["timeline"]]
    assert "crises:escalation:agree" in tags and "crises:crisis:stage" in tags
    assert set(room) >= {"level", "phase", "decisions", "actions", "timeline"}

    # Down again: leaving IPCR needs the Presidency only (exit approvers), who may refuse with a reason.
    down = client.post(
        f"/api/v1/crises/{cid}/escalations",
        json={"to": "eu-cyclone", "rationale": "contained"},
        headers=cast["enisa"].headers,
    ).json()
    assert down["direction"] == "de-escalate" and [o["name"] for o in down["waiting_for"]] == ["PRESIDENCY"]
    no_reason = client.post(
        f"/api/v1/crises/{cid}/escalations/{down['id']}/reject",
        json={"comment": ""},
        headers=cast["presidency"].headers,
    )
    assert no_reason.status_code == 422
    r = client.post(
        f"/api/v1/crises/{cid}/escalations/{down['id']}/reject",
        json={"comment": "not yet"},
        headers=cast["presidency"].headers,
    )
    assert r.json()["state"] == "rejected"
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["enisa"].headers).json()["level"] == "political"


def test_two_approvals_arriving_at_once_both_count(
    app: FastAPI, client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    cid = _open(client, cast["enisa"], stage="eu-cyclone")["id"]
    _share_with_approvers(client, cast, cid, communities=["eu-cyclone"])
    esc = client.post(
        f"/api/v1/crises/{cid}/escalations", json={"to": "ipcr", "rationale": "r"}, headers=cast["enisa"].headers
    ).json()
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def approve(actor: Actor) -> None:
        with TestClient(app) as own:
            barrier.wait()
            codes.append(
                own.post(f"/api/v1/crises/{cid}/escalations/{esc['id']}/approve", headers=actor.headers).status_code
            )

    threads = [threading.Thread(target=approve, args=(cast[k],)) for k in ("presidency", "gsc")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200]
    assert count(db, EscalationApproval) == 2
    assert db.get(Escalation, esc["id"]).state == "done"  # type: ignore[union-attr]
    assert db.get(Crisis, cid).stage == "ipcr-information-sharing"  # type: ignore[union-attr]


def test_decisions_need_the_right_and_a_seat_at_that_level(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    cid = _open(client, cast["enisa"])["id"]
    url = f"/api/v1/crises/{cid}/decisions"
    body = {
        "level": "political",
        "kind": "political-measure",
        "title": "Consider diplomacy toolbox",
        "options": ["statement by the High Representative", "restrictive measures"],
        "rationale": "attribution",
    }
    # The crisis is shared with the CSIRTs Network only: the Presidency cannot even see it.
    assert client.post(url, json=body, headers=cast["presidency"].headers).status_code == 404
    assert client.post(url, json=body, headers=cast["enisa_analyst"].headers).status_code == 403  # no right
    assert client.post(url, json={**body, "level": "operational"}, headers=cast["fr_coord"].headers).status_code == 403
    assert client.post(url, json={**body, "kind": "escalation"}, headers=cast["enisa"].headers).status_code == 422
    assert client.post(url, json={**body, "level": "strategic"}, headers=cast["enisa"].headers).status_code == 422
    assert count(db, Decision) == 0
    # Owning the crisis is no seat at the political level (issue 13): only the IPCR community's members decide there.
    refused = client.post(url, json=body, headers=cast["enisa"].headers)
    assert refused.status_code == 403 and "ipcr" in refused.json()["detail"]
    # CSIRTs Network members (ENISA is one in this test world) decide at the technical level.
    r = client.post(url, json={**body, "level": "technical"}, headers=cast["enisa"].headers)
    assert r.status_code == 201 and r.json()["options"] == body["options"] and r.json()["kind"] == "political-measure"
    r = client.post(
        url,
        json={**body, "level": "technical", "kind": "response", "title": "Block C2 ranges"},
        headers=cast["de_coord"].headers,
    )
    assert r.status_code == 201 and r.json()["decided_by"][0]["name"] == "CERT-Bund"
    # Phase changes are decisions too.
    r = client.post(
        f"/api/v1/crises/{cid}/phase",
        json={"phase": "recovery", "rationale": "restored"},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 201 and r.json()["kind"] == "phase"
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["fr"].headers).json()
    assert room["phase"] == "recovery" and len(room["decisions"]) == 3
    assert (
        client.post(
            f"/api/v1/crises/{cid}/phase",
            json={"phase": "recovery", "rationale": "again"},
            headers=cast["enisa"].headers,
        ).status_code
        == 409
    )


def test_actions_have_owners_due_times_reminders_and_overdue_flags(
    client: TestClient, cast: dict[str, Actor], db: Session, session_factory: sessionmaker[Session]
) -> None:
    cid = _open(client, cast["enisa"])["id"]
    url = f"/api/v1/crises/{cid}/actions"
    soon = (NOW + timedelta(hours=1)).isoformat()
    past = (NOW - timedelta(hours=1)).isoformat()
    # The outsider cannot see the crisis, so it cannot own an action in it.
    r = client.post(url, json={"title": "x", "assignee": cast["outsider"].org_id}, headers=cast["enisa"].headers)
    assert r.status_code == 422 and "cannot see this crisis" in r.json()["detail"]
    r = client.post(
        url,
        json={"title": "x", "assignee": cast["fr"].org_id, "due_at": "2026-11-28T10:00:00"},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 422  # a due time without a time zone
    assert count(db, Action) == 0
    late = client.post(
        url, json={"title": "Share IoCs", "assignee": cast["fr"].org_id, "due_at": past}, headers=cast["enisa"].headers
    ).json()
    due = client.post(
        url,
        json={"title": "Brief EU-CyCLONe", "assignee": cast["de_coord"].org_id, "due_at": soon},
        headers=cast["enisa"].headers,
    ).json()
    assert late["overdue"] is True and due["overdue"] is False

    with unit_of_work(session_factory) as s:
        assert remind_actions(s, now=NOW) == 2
    with unit_of_work(session_factory) as s:
        assert remind_actions(s, now=NOW) == 0  # once only
    sent = {
        (m.event, m.target)
        for m in outbox(db, OutboxMessage.event.in_(["crises:action:overdue", "crises:action:due-soon"]))
    }
    assert sent == {
        ("crises:action:overdue", "desk@cert-fr.example"),
        ("crises:action:due-soon", "desk@cert-bund.example"),
    }

    # The owning organisation updates it; another organisation may not; a stale version is refused.
    patch = f"/api/v1/actions/{late['id']}"
    assert (
        client.patch(
            patch, json={"version": late["version"], "status": "done"}, headers=cast["de_coord"].headers
        ).status_code
        == 403
    )
    assert (
        client.patch(
            patch, json={"version": late["version"], "status": "finished"}, headers=cast["fr"].headers
        ).status_code
        == 422
    )
    r = client.patch(patch, json={"version": late["version"], "status": "done"}, headers=cast["fr"].headers)
    assert r.status_code == 200 and r.json()["status"] == "done" and r.json()["overdue"] is False
    assert (
        client.patch(patch, json={"version": late["version"], "status": "open"}, headers=cast["fr"].headers).status_code
        == 409
    )


def test_objects_of_a_crisis_follow_its_audience_and_stay_hidden_outside_it(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    cid = _open(client, cast["enisa"])["id"]
    client.post(
        f"/api/v1/crises/{cid}/decisions", json={"level": "technical", "title": "Block"}, headers=cast["enisa"].headers
    )
    act = client.post(
        f"/api/v1/crises/{cid}/actions",
        json={"title": "a", "assignee": cast["fr"].org_id},
        headers=cast["enisa"].headers,
    ).json()
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["outsider"].headers).status_code == 404
    assert cid not in {c["id"] for c in client.get("/api/v1/crises", headers=cast["outsider"].headers).json()["items"]}
    assert client.get(f"/api/v1/crises/{cid}/decisions", headers=cast["outsider"].headers).status_code == 404
    assert (
        client.patch(
            f"/api/v1/actions/{act['id']}", json={"version": 1, "status": "done"}, headers=cast["outsider"].headers
        ).status_code
        == 404
    )
    assert cid in {c["id"] for c in client.get("/api/v1/crises", headers=cast["de_coord"].headers).json()["items"]}

    # The originator narrows it to AMBER+STRICT for CERT-FR: CERT-Bund loses the crisis and all its objects.
    r = client.put(
        f"/api/v1/crises/{cid}/sharing",
        json={"tlp": "amber+strict", "share_with": {"organisations": [cast["fr"].org_id]}},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 200, r.text
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["de_coord"].headers).status_code == 404
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["fr"].headers).json()
    assert room["tlp"] == "amber+strict" and len(room["decisions"]) == 1 and len(room["actions"]) == 1
    children = [d.id for d in db.scalars(select(Decision))] + [act["id"]]
    for child in children:
        shares = {(s.kind, s.target) for s in db.scalars(select(Share).where(Share.object_id == child))}
        assert shares == {("organisation", cast["fr"].org_id)}
    assert {d.tlp for d in db.scalars(select(Decision))} == {"amber+strict"}
    # A step that needs organisations a TLP:RED crisis cannot include is refused, nothing written.
    red = _open(client, cast["enisa"], tlp="red", share_with={"users": [cast["enisa"].email]}, stage="eu-cyclone")
    r = client.post(
        f"/api/v1/crises/{red['id']}/escalations", json={"to": "ipcr", "rationale": "r"}, headers=cast["enisa"].headers
    )
    assert r.status_code == 409 and "TLP:RED" in r.json()["detail"]
    assert count(db, Escalation, Escalation.crisis_id == red["id"]) == 0


def test_timeline_never_names_incidents_the_reader_may_not_see(client: TestClient, cast: dict[str, Actor]) -> None:
    shared = _incident(client, cast["de_coord"], "DE")
    hidden = _incident(client, cast["enisa"], "FR", tlp="amber+strict")  # ENISA's own, shared with nobody
    cid = _open(client, cast["enisa"], incidents=[shared, hidden])["id"]
    later = _incident(client, cast["enisa"], "BE", tlp="amber+strict")
    client.post(f"/api/v1/crises/{cid}/incidents", json={"incidents": [later]}, headers=cast["enisa"].headers)
    client.delete(f"/api/v1/crises/{cid}/incidents/{hidden}", headers=cast["enisa"].headers)
    mine = client.get(f"/api/v1/crises/{cid}", headers=cast["enisa"].headers)
    theirs = client.get(f"/api/v1/crises/{cid}", headers=cast["de_coord"].headers)
    assert hidden in mine.text and later in mine.text
    assert hidden not in theirs.text and later not in theirs.text and shared in theirs.text
    assert [i["id"] for i in theirs.json()["incidents"]] == [shared]


def test_crisis_room_costs_the_same_number_of_queries_with_more_objects(
    app: FastAPI, client: TestClient, cast: dict[str, Actor]
) -> None:
    incidents = [_incident(client, cast["fr"], "FR") for _ in range(2)]
    cid = _open(client, cast["enisa"], incidents=incidents)["id"]
    h = cast["enisa"].headers

    def add(n: int) -> None:
        for i in range(n):
            client.post(f"/api/v1/crises/{cid}/decisions", json={"level": "technical", "title": f"d{i}"}, headers=h)
            client.post(
                f"/api/v1/crises/{cid}/actions",
                json={
                    "title": f"a{i}",
                    "assignee": cast["fr"].org_id,
                    "due_at": (NOW + timedelta(hours=i)).isoformat(),
                },
                headers=h,
            )

    add(2)
    with count_queries(app) as small:
        assert client.get(f"/api/v1/crises/{cid}", headers=h).status_code == 200
    add(12)
    client.post(
        f"/api/v1/crises/{cid}/incidents",
        json={"incidents": [_incident(client, cast["fr"], "FR") for _ in range(5)]},
        headers=h,
    )
    with count_queries(app) as large:
        body = client.get(f"/api/v1/crises/{cid}", headers=h)
    assert len(body.json()["decisions"]) == 14 and len(body.json()["incidents"]) == 7
    assert len(large) == len(small)


def test_the_shipped_model_follows_the_eu_blueprint_and_a_broken_one_is_refused() -> None:
    model = escalation.parse(escalation.DEFAULT_MODEL.read_text())
    assert [s.key for s in model.stages] == [
        "csirts-network",
        "eu-cyclone",
        "ipcr-monitoring",
        "ipcr-information-sharing",
        "ipcr-full-activation",
    ]
    assert [s.level for s in model.stages] == ["technical", "operational", "political", "political", "political"]
    from cybercrisis.directory.exchange import org_id_for_key

    presidency = org_id_for_key("council-presidency")
    # Full activation is the Presidency's; information sharing is activated by one of four (test_governance.py).
    assert model.required_for(model.stages[0], model.stages[4]) == (presidency,)
    assert presidency in model.any_of_for(model.stages[0], model.stages[3])
    assert model.required_for(model.stages[0], model.stages[1]) == ()
    assert "deployment's own" in model.note
    with pytest.raises(ValueError, match="escalation order"):
        escalation.parse(
            json.dumps(
                {
                    "stages": [
                        {"key": "a", "label": "A", "level": "political"},
                        {"key": "b", "label": "B", "level": "technical"},
                    ]
                }
            )
        )
    with pytest.raises(ValueError, match="unique"):
        escalation.parse(json.dumps({"stages": [{"key": "a", "label": "A", "level": "technical"}] * 2}))


def test_several_actions_change_status_at_once_all_or_none(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    """Issue 19: bulk action updates, over the API and on the room's actions table; the first action that may not
    change (another organisation's, changed since) refuses the batch, named by its place, and nothing changes."""
    cid = _open(client, cast["enisa"])["id"]

    def assign(title: str, org: str) -> dict[str, Any]:
        r = client.post(
            f"/api/v1/crises/{cid}/actions", json={"title": title, "assignee": org}, headers=cast["enisa"].headers
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    mine = [assign("Block the C2", cast["fr"].org_id), assign("Patch the VPN", cast["fr"].org_id)]
    theirs = assign("Brief the Presidency", cast["de_coord"].org_id)
    url = f"/api/v1/crises/{cid}/actions/status"
    refs = [{"id": a["id"], "version": a["version"]} for a in mine]
    refused = client.post(
        url,
        json={"actions": [*refs, {"id": theirs["id"], "version": theirs["version"]}], "status": "done"},
        headers=cast["fr"].headers,
    )
    assert refused.status_code == 403 and refused.json()["errors"][0]["field"] == "actions[2]", refused.text
    stale = client.post(
        url, json={"actions": [refs[0], {**refs[1], "version": 0}], "status": "done"}, headers=cast["fr"].headers
    )
    assert stale.status_code == 409 and "actions[1]" in stale.text
    bad = client.post(url, json={"actions": refs, "status": "finished"}, headers=cast["fr"].headers)
    assert bad.status_code == 422
    listed = {
        a["id"]: a["status"] for a in client.get(f"/api/v1/crises/{cid}", headers=cast["fr"].headers).json()["actions"]
    }
    assert {listed[a["id"]] for a in mine} == {"open"}
    done = client.post(url, json={"actions": refs, "status": "done"}, headers=cast["fr"].headers)
    assert done.status_code == 200, done.text
    assert [(a["id"], a["status"]) for a in done.json()] == [(a["id"], "done") for a in mine]

    # The room's table: several actions this reader may update get a checkbox and "Apply to selected".
    sign_in(client, cast["enisa"].email)
    room = client.get(f"/crises/{cid}", headers=HTML).text
    assert 'id="bulk-actions"' in room and room.count('form="bulk-actions"') == 3
    fresh = {a["id"]: a for a in client.get(f"/api/v1/crises/{cid}", headers=cast["enisa"].headers).json()["actions"]}
    picked = [f"{a['id']}:{fresh[a['id']]['version']}" for a in mine]
    r = client.post(
        f"/crises/{cid}/actions/status",
        data={"csrf_token": csrf_on(client, f"/crises/{cid}"), "actions": picked, "status": "in-progress"},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/crises/{cid}?done=actions-updated#actions"
    now = {
        a["id"]: a["status"]
        for a in client.get(f"/api/v1/crises/{cid}", headers=cast["enisa"].headers).json()["actions"]
    }
    assert {now[a["id"]] for a in mine} == {"in-progress"} and now[theirs["id"]] == "open"
