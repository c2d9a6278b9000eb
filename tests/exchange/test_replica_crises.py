"""Crises held at another node (ADR 0013 step 3, issue 15): the crisis room from its origin's signed object,
read-only here, and a Member State's agreement to a move sent home and applied there under the origin's model.

The "other node" is a node identity of the test's own (`peer_node`) signing the object this node's own mapping made
from a real crisis, which the test then removes here, so that it arrives as another node's would (as in
test_replicas.py). Three real nodes run the same story in test_federation_hub.py.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.access.tlp import TLP
from cybercrisis.answers.models import Answer, AnswerReceipt
from cybercrisis.config import Settings
from cybercrisis.crises.models import (
    Action,
    Crisis,
    CrisisIncident,
    Decision,
    Escalation,
    EscalationApproval,
)
from cybercrisis.db import unit_of_work
from cybercrisis.errors import PermissionDenied
from cybercrisis.exchange import node, stix_common, stix_crisis
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.signer import sign_pending
from cybercrisis.notify.models import OutboxMessage
from tests.comms.conftest import rows
from tests.conftest import Actor, World, count
from tests.exchange.test_replicas import _as_from, _peer, _request
from tests.exchange.test_stix_export import post_incident, valid
from tests.exchange.test_store_federated import peer_node, receive  # noqa: F401 - peer_node is a fixture
from tests.notify.helpers import add_route
from tests.web.conftest import HTML, csrf_on, sign_in


@pytest.fixture
def cast(world: World, settings: Settings, tmp_path: Path) -> dict[str, Actor]:
    """ENISA runs the crisis; moving it to EU-CyCLONe needs CERT-FR's and CERT-Bund's agreement (the test's model)."""
    world.community("csirts-network")
    world.community("eu-cyclone", "operational")
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Outsider", country="IT")
    model = {
        "note": "test model: the Member States concerned agree to operational coordination",
        "stages": [
            {"key": "csirts-network", "label": "CSIRTs Network", "level": "technical", "community": "csirts-network"},
            {
                "key": "eu-cyclone",
                "label": "EU-CyCLONe",
                "level": "operational",
                "community": "eu-cyclone",
                "approvers": [world.orgs["CERT-FR"], world.orgs["CERT-Bund"]],
            },
        ],
    }
    path = tmp_path / "escalation.json"
    path.write_text(json.dumps(model))
    settings.escalation_model = path
    return {
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "fr": world.user("CERT-FR", roles=("coordinator",)),
        "de": world.user("CERT-Bund", roles=("coordinator",)),
        "out": world.user("Outsider", roles=("coordinator",)),
    }


def _crisis_waiting_for_fr_and_de(client: TestClient, cast: dict[str, Actor]) -> tuple[dict[str, Any], str, str]:
    """ENISA's crisis from CERT-FR's incident, a decision, an action for CERT-Bund, and a move to EU-CyCLONe that
    waits for CERT-FR and CERT-Bund; returns the crisis, the move's id and the incident's id."""
    inc = post_incident(client, cast["fr"], share_with={"communities": ["csirts-network"]})
    body = {
        "title": "Wiper campaign against grid operators",
        "justification": "Significant impact in two Member States.",
        "incidents": [inc["id"]],
        "tlp": "amber",
    }
    r = client.post("/api/v1/crises", json=body, headers=cast["enisa"].headers)
    assert r.status_code == 201, r.text
    crisis = r.json()
    cid = crisis["id"]
    r = client.post(
        f"/api/v1/crises/{cid}/actions",
        json={"title": "Share the wiper's hashes", "assignee": cast["de"].org_id},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 201, r.text
    r = client.post(
        f"/api/v1/crises/{cid}/escalations",
        json={"to": "eu-cyclone", "rationale": "Two Member States' grids are hit."},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 201, r.text
    move = r.json()
    assert {o["id"] for o in move["waiting_for"]} == {cast["fr"].org_id, cast["de"].org_id}
    return crisis, move["id"], inc["id"]


def test_a_crisis_from_another_node_is_its_room_here_read_only_and_an_agreement_is_sent_home(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    crisis, move, incident = _crisis_waiting_for_fr_and_de(client, cast)
    cid = crisis["id"]
    objects = _as_from(session_factory, peer_node, cid)
    [obj] = objects
    # Our own mapping is a valid STIX object of our extension (the OASIS validator), naming the incident every
    # reader may read.
    assert obj["type"] == "x-cybercrisis-crisis" and obj["id"] == stix_crisis.sdo_id(cid)
    assert obj["incident_refs"] == [incident]
    plain = {k: v for k, v in obj.items() if not k.startswith("x_cybercrisis")}
    definitions = [stix_common.new_sdo_definition(stix_common.CRISIS_EXTENSION_ID), stix_common.product_identity()]
    extras = [json.loads(d.serialize()) for d in definitions] + [stix_common.marking_definition(TLP.AMBER)]
    valid({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [plain, *extras]})
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).status_code == 404

    add_route(session_factory, cast["de"].org_id, "email", "crisis-desk@cert-bund.example", ("crises:*",))
    result = receive(session_factory, settings, objects, peer_node)
    assert not result.rejected, result.rejected
    # CERT-Bund, whose agreement the move waits for, is asked through its route on this node, once.
    assert not receive(session_factory, settings, objects, peer_node).rejected
    asked = [
        (m.target, m.event) for m in rows(db, OutboxMessage, OutboxMessage.target == "crisis-desk@cert-bund.example")
    ]
    assert asked == [("crisis-desk@cert-bund.example", "crises:escalation:approval-requested")], asked
    r = client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    room = r.json()
    assert room["held_at"]["node"] == peer_node.id and room["title"] == crisis["title"]
    assert room["stage"] == "csirts-network" and room["owner"]["id"] == cast["enisa"].org_id
    assert [i["id"] for i in room["incidents"]] == [incident]
    [esc] = room["escalations"]
    assert esc["id"] == move and esc["state"] == "pending" and esc["proposed_by_org"]["id"] == cast["enisa"].org_id
    assert {o["id"] for o in esc["waiting_for"]} == {cast["fr"].org_id, cast["de"].org_id}
    assert [a["title"] for a in room["actions"]] == ["Share the wiper's hashes"]
    assert room["can_decide"] is False and room["can_escalate_to"] == []
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["out"].headers).status_code == 404
    listed = client.get("/api/v1/crises", headers=cast["de"].headers).json()["items"]
    assert cid in {c["id"] for c in listed}

    # Nobody changes it here, not even its owner's users: its origin decides.
    for who, method, path, body in (
        ("enisa", "patch", f"/api/v1/crises/{cid}", {"version": 1, "title": "changed"}),
        ("enisa", "post", f"/api/v1/crises/{cid}/phase", {"phase": "recovery", "rationale": "contained"}),
        ("enisa", "post", f"/api/v1/crises/{cid}/escalations/{move}/withdraw", None),
        ("de", "post", f"/api/v1/crises/{cid}/actions", {"title": "x", "assignee": cast["de"].org_id}),
    ):
        r = client.request(method.upper(), path, headers=cast[who].headers, json=body)
        assert r.status_code == 403, (path, r.text)
        assert f"held at node {peer_node.id}" in r.json()["detail"], r.text
    with pytest.raises(PermissionDenied, match="held at node"), unit_of_work(session_factory) as s:
        s.get(Escalation, move).state = "done"  # type: ignore[union-attr]

    # CERT-Bund agrees on its own node: the agreement is queued for the origin; nothing changes here meanwhile.
    r = client.post(f"/api/v1/crises/{cid}/escalations/{move}/approve", headers=cast["de"].headers, json={})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["state"] == "pending" and got["answer"]["state"] == "queued" and got["answer"]["node"] == peer_node.id
    assert got["answer"]["act"] == "crisis.escalation.answer" and got["answer"]["object"] == move
    assert count(db, EscalationApproval, EscalationApproval.escalation_id == move) == 0
    r = client.post(f"/api/v1/crises/{cid}/escalations/{move}/approve", headers=cast["de"].headers, json={})
    assert r.status_code == 200 and count(db, Answer) == 1  # asked again: still one answer
    [answer] = db.scalars(select(Answer)).all()
    assert answer.input == {"agree": True, "comment": ""}
    # Not among those who must agree: refused here at once, nothing queued.
    r = client.post(f"/api/v1/crises/{cid}/escalations/{move}/approve", headers=cast["out"].headers, json={})
    assert r.status_code == 404, r.text  # the outsider does not even read it
    r = client.post(f"/api/v1/crises/{cid}/escalations/{move}/reject", headers=cast["fr"].headers, json={})
    assert r.status_code == 422 and "comment" in r.text  # a refusal says why, here already
    assert count(db, Answer) == 1

    # A deciding organisation records a decision at the current level: sent to the origin too (202), as many as it
    # records; at a level where it does not decide, refused here at once.
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).json()
    assert room["can_send_decision"] is True and room["can_decide"] is False
    decision = {"level": "technical", "title": "Block the wiper's C2 at national level", "options": ["block", "watch"]}
    r = client.post(f"/api/v1/crises/{cid}/decisions", json=decision, headers=cast["de"].headers)
    assert r.status_code == 202 and r.json()["act"] == "crisis.decide" and r.json()["object"] == cid, r.text
    r = client.post(
        f"/api/v1/crises/{cid}/decisions", json=decision | {"level": "operational"}, headers=cast["de"].headers
    )
    assert r.status_code == 403, r.text
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).json()
    assert [a["input"]["title"] for a in room["answers"]] == [decision["title"]] and room["decisions"] == []
    assert count(db, Answer) == 2

    # The room says where the crisis is held and what became of the answer; CERT-FR is still asked.
    assert sign_in(client, cast["de"].email).status_code == 303
    page = client.get(f"/crises/{cid}", headers=HTML)
    assert "Held at another node." in page.text and "Answer sent" in page.text and "Decision sent" in page.text
    assert 'id="decision-form"' in page.text and 'id="phase-form"' not in page.text
    assert 'action="/crises/' + cid + f'/escalations/{move}/answer"' not in page.text
    client.cookies.clear()
    assert sign_in(client, cast["fr"].email).status_code == 303
    token = csrf_on(client, f"/crises/{cid}")
    posted = client.post(
        f"/crises/{cid}/escalations/{move}/answer",
        data={"csrf_token": token, "verdict": "agree", "comment": ""},
        headers=HTML,
        follow_redirects=False,
    )
    assert posted.status_code == 303 and "done=sent" in posted.headers["location"], posted.text
    assert count(db, Answer) == 3


def test_the_origin_applies_an_agreement_from_a_member_states_node_once_and_the_move_travels_back(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    crisis, move, _ = _crisis_waiting_for_fr_and_de(client, cast)  # ours: this node is the origin here
    cid = crisis["id"]
    with unit_of_work(session_factory) as s:  # CERT-Bund's node, pinned here
        s.add(_peer(peer_node, cast["de"].org_id, direction="pull"))
    [before] = _latest_object(session_factory, cid)
    me = node.load(settings.data_dir)
    agree = {"act": "crisis.escalation.answer", "object": move, "organisation": cast["de"].org_id}
    ask = _request(peer_node, me, **agree, input={"agree": True, "comment": "CERT-Bund agrees"})
    replies = []
    for _ in range(2):  # delivered twice: applied once
        r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["reason"]) == ("applied", ""), r.text
        replies.append(r.json())
    assert count(db, AnswerReceipt) == 1
    approval = db.get(EscalationApproval, (move, cast["de"].org_id))
    assert approval is not None and approval.verdict == "agree" and approval.user_id is None
    assert approval.comment == "CERT-Bund agrees"
    [latest] = _latest_object(session_factory, cid)  # a new version travels back (the store keeps the latest)
    assert latest["modified"] > before["modified"] and replies[0]["modified"] == latest["modified"]
    [esc] = latest["escalations"]
    assert [(a["organisation"], a["verdict"]) for a in esc["approvals"]] == [(cast["de"].org_id, "agree")]

    # Refused with the origin's reason, and remembered: a malformed input, an organisation not asked to agree.
    odd = _request(peer_node, me, **agree, input={"agree": "yes"})
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=odd)
    assert r.json()["status"] == "refused" and "input.agree" in r.json()["reason"], r.text
    again = _request(peer_node, me, **agree, input={"agree": True})
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=again)
    assert r.json()["status"] == "refused" and "already answered" in r.json()["reason"], r.text
    assert count(db, AnswerReceipt) == 3

    # A decision from CERT-Bund's node is recorded here, as CERT-Bund's, at a level where it decides; at one where it
    # does not (operational: EU-CyCLONe's members), refused with this node's reason.
    decide = {"act": "crisis.decide", "object": cid, "organisation": cast["de"].org_id}
    ask_decision = _request(peer_node, me, **decide, input={"level": "technical", "title": "Block the C2"})
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask_decision)
    assert r.json()["status"] == "applied", r.text
    with unit_of_work(session_factory, write=False) as s:
        recorded = s.scalars(select(Decision).where(Decision.crisis_id == cid, Decision.title == "Block the C2")).one()
        assert recorded.decided_by == [cast["de"].org_id] and recorded.level == "technical"
    above = _request(peer_node, me, **decide, input={"level": "operational", "title": "Activate"})
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=above)
    assert r.json()["status"] == "refused" and "operational" in r.json()["reason"], r.text

    # CERT-FR agrees here: the move is done, under this node's model, and the crisis is in EU-CyCLONe.
    r = client.post(f"/api/v1/crises/{cid}/escalations/{move}/approve", headers=cast["fr"].headers, json={})
    assert r.status_code == 200 and r.json()["state"] == "done", r.text
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["enisa"].headers).json()
    assert room["stage"] == "eu-cyclone" and room["held_at"] is None


def test_a_newer_version_replaces_the_replica_and_everything_of_it_and_an_older_one_changes_nothing(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    crisis, _, _ = _crisis_waiting_for_fr_and_de(client, cast)
    cid = crisis["id"]
    [first] = _as_from(session_factory, peer_node, cid)
    receive(session_factory, settings, [first], peer_node)

    def version(modified: str, **changes: Any) -> dict[str, Any]:
        obj = {k: v for k, v in first.items() if k not in (node.ORIGIN, node.SHARES)} | changes
        obj["modified"] = modified
        shares = first[node.SHARES]
        block = peer_node.sign(obj, first[node.ORIGIN]["owner"], tlp="amber", shares=shares, share_key=cid)
        return obj | {node.SHARES: shares, node.ORIGIN: block}

    [esc] = first["escalations"]
    done = esc | {
        "state": "done",
        "approvals": [
            {"organisation": cast["fr"].org_id, "verdict": "agree", "comment": "", "at": "2030-01-01T00:00:00.000000Z"},
            {"organisation": cast["de"].org_id, "verdict": "agree", "comment": "", "at": "2030-01-01T00:00:00.000000Z"},
        ],
    }
    newer = version("2030-01-01T00:00:01.000000Z", stage="eu-cyclone", escalations=[done], actions=[])
    assert not receive(session_factory, settings, [newer], peer_node).rejected
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).json()
    assert room["stage"] == "eu-cyclone" and room["escalations"][0]["state"] == "done"
    assert {a["org"]["id"] for a in room["escalations"][0]["approvals"]} == {cast["fr"].org_id, cast["de"].org_id}
    assert room["actions"] == [] and count(db, Action, Action.crisis_id == cid) == 0  # gone at the origin: gone here
    assert count(db, CrisisIncident, CrisisIncident.crisis_id == cid) == 1
    # An older version arriving late (another path) changes nothing.
    older = version("2029-12-31T00:00:00.000000Z", stage="csirts-network", title="old")
    receive(session_factory, settings, [older], peer_node)
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).json()
    assert room["stage"] == "eu-cyclone" and room["title"] == crisis["title"]
    # A version whose crisis id does not match its own STIX id is not applied.
    forged = version("2030-01-02T00:00:00.000000Z", crisis_id="crisis--00000000-0000-4000-8000-000000000001")
    receive(session_factory, settings, [forged], peer_node)
    assert db.get(Crisis, "crisis--00000000-0000-4000-8000-000000000001") is None


def test_narrowing_a_crisis_stores_a_signed_withdrawal_for_everyone_who_read_it_and_nobody_else(
    client: TestClient, cast: dict[str, Actor], session_factory: sessionmaker[Session], settings: Settings
) -> None:
    body = {"title": "Wiper", "justification": "Two Member States.", "incidents": [], "tlp": "amber"}
    crisis = client.post("/api/v1/crises", json=body, headers=cast["enisa"].headers).json()
    cid = crisis["id"]
    assert crisis["share_with"]["communities"] == ["csirts-network"]  # CERT-FR and CERT-Bund read it
    narrowed = {"tlp": "amber", "share_with": {"organisations": [cast["fr"].org_id]}}
    r = client.put(f"/api/v1/crises/{cid}/sharing", json=narrowed, headers=cast["enisa"].headers)
    assert r.status_code == 200, r.text

    # CERT-Bund lost the crisis, and may read that it did: the withdrawal names the crisis and whom it was
    # withdrawn from, nothing of its content.
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).status_code == 404
    [wid] = _withdrawals(client, cast["de"])
    r = client.get(f"/api/v1/stix-objects/{wid}", headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    [version] = r.json()["versions"]
    data = version["object"]
    assert data["type"] == "x-cybercrisis-withdrawal" and data["object_ref"] == cid
    assert data["withdrawn_from"] == [{"kind": "community", "target": "csirts-network"}]
    assert set(data) <= {*_WITHDRAWAL_KEYS}, set(data) - _WITHDRAWAL_KEYS
    definitions = [stix_common.new_sdo_definition(stix_common.WITHDRAWAL_EXTENSION_ID), stix_common.product_identity()]
    extras = [json.loads(d.serialize()) for d in definitions] + [stix_common.marking_definition(TLP.AMBER)]
    valid({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [data, *extras]})
    assert client.get(f"/api/v1/stix-objects/{wid}", headers=cast["out"].headers).status_code == 404
    # Signed like every version of ours, with the share list it travels with.
    assert sign_pending(session_factory, settings) >= 1
    with unit_of_work(session_factory, write=False) as s:
        row = s.scalars(select(StixObject).where(StixObject.id == wid)).one()
        assert row.signed and {"kind": "community", "target": "csirts-network"} in row.shares
        me = node.load(settings.data_dir)
        signed = dict(row.data) | {node.SHARES: row.shares}
        assert node.verify(signed, row.signature, {me.id: me.public_keys()}) is None
    # Narrowed again: a new version, for everyone who ever read it (CERT-FR now loses it too).
    r = client.put(
        f"/api/v1/crises/{cid}/sharing",
        json={"tlp": "amber", "share_with": {"organisations": [cast["de"].org_id]}},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 200, r.text
    assert len(_withdrawals(client, cast["fr"])) == 2  # CERT-FR read it before both narrowings
    assert _withdrawals(client, cast["de"]) == [wid]  # the second is not for CERT-Bund, which read it no more


def _withdrawals(client: TestClient, actor: Actor) -> list[str]:
    r = client.get("/api/v1/stix-objects?type=x-cybercrisis-withdrawal", headers=actor.headers)
    assert r.status_code == 200, r.text
    return [o["id"] for o in r.json()["items"]]


_WITHDRAWAL_KEYS = {
    "type",
    "spec_version",
    "id",
    "created",
    "modified",
    "created_by_ref",
    "object_marking_refs",
    "extensions",
    "object_ref",
    "withdrawn_from",
}


def test_a_withdrawal_from_the_origin_narrows_the_replica_and_one_from_elsewhere_changes_nothing(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    tmp_path: Path,
) -> None:
    crisis, _, _ = _crisis_waiting_for_fr_and_de(client, cast)
    cid = crisis["id"]
    [obj] = _as_from(session_factory, peer_node, cid)
    receive(session_factory, settings, [obj], peer_node)
    for who in ("de", "fr"):
        assert client.get(f"/api/v1/crises/{cid}", headers=cast[who].headers).status_code == 200
    sdo = obj["id"]
    assert client.get(f"/api/v1/stix-objects/{sdo}", headers=cast["de"].headers).status_code == 200

    def withdrawal(signer: node.Node, removed: list[dict[str, str]]) -> dict[str, Any]:
        body = {
            "type": "x-cybercrisis-withdrawal",
            "spec_version": "2.1",
            "id": f"x-cybercrisis-withdrawal--{uuid.uuid4()}",
            "created": "2030-01-01T00:00:00.000Z",
            "modified": "2030-01-01T00:00:00.000Z",
            "created_by_ref": crisis["owner"]["id"],
            "object_ref": cid,
            "withdrawn_from": removed,
        }
        shares = [{"kind": "community", "target": "csirts-network"}]
        block = signer.sign(body, crisis["owner"]["id"], tlp="amber", shares=shares, share_key=body["id"])
        return body | {node.SHARES: shares, node.ORIGIN: block}

    # Signed by another node than the crisis's origin: stored as that node's object, the replica untouched.
    other = node.load(tmp_path / "other-node")
    receive(session_factory, settings, [withdrawal(other, [{"kind": "community", "target": "csirts-network"}])], other)
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).status_code == 200
    # From the origin: the community is withdrawn; CERT-Bund (and CERT-FR, which read it through the community too)
    # no longer reads the crisis, its objects or its STIX object here; ENISA, its owner, still does.
    removed = [{"kind": "community", "target": "csirts-network"}, {"kind": "organisation", "target": cast["de"].org_id}]
    result = receive(session_factory, settings, [withdrawal(peer_node, removed)], peer_node)
    assert not result.rejected, result.rejected
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).status_code == 404
    assert client.get(f"/api/v1/stix-objects/{sdo}", headers=cast["de"].headers).status_code == 404
    assert cid not in {c["id"] for c in client.get("/api/v1/crises", headers=cast["de"].headers).json()["items"]}
    with unit_of_work(session_factory, write=False) as s:
        moves = list(s.scalars(select(Escalation.id).where(Escalation.crisis_id == cid)))
        left = set(s.scalars(select(Share.target).where(Share.object_id.in_([cid, *moves]))))
    assert cast["de"].org_id not in left and "csirts-network" not in left
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["fr"].headers).status_code == 404
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["enisa"].headers).status_code == 200


def _latest_object(session_factory: sessionmaker[Session], crisis_id: str) -> list[dict[str, Any]]:
    with unit_of_work(session_factory, write=False) as s:
        return [dict(r.data) for r in s.scalars(select(StixObject).where(StixObject.share_id == crisis_id))]


def test_a_crisis_object_names_only_incidents_every_reader_of_its_list_reads_and_keeps_one_version(
    client: TestClient, cast: dict[str, Actor], session_factory: sessionmaker[Session]
) -> None:
    community = post_incident(client, cast["fr"], share_with={"communities": ["csirts-network"]})
    for_enisa = post_incident(client, cast["fr"], share_with={"organisations": [cast["enisa"].org_id]})
    clear = post_incident(client, cast["fr"], tlp="clear")
    body = {
        "title": "Wiper",
        "justification": "Two Member States.",
        "incidents": [community["id"], for_enisa["id"], clear["id"]],
        "tlp": "amber",
        "share_with": {"communities": ["csirts-network"]},
    }
    r = client.post("/api/v1/crises", json=body, headers=cast["enisa"].headers)
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    [obj] = _latest_object(session_factory, cid)
    # CSIRTs Network members read the crisis: the incident shared with ENISA only is not named to them.
    assert obj["incident_refs"] == sorted([community["id"], clear["id"]])
    # Widened to CERT-Bund by name: a new version, for the new list (CERT-Bund is not on the community incident's
    # list by name, though a member today: the rule is on the lists); the older version is gone from the store.
    r = client.put(
        f"/api/v1/crises/{cid}/sharing",
        json={"tlp": "amber", "share_with": {"communities": ["csirts-network"], "organisations": [cast["de"].org_id]}},
        headers=cast["enisa"].headers,
    )
    assert r.status_code == 200, r.text
    [obj] = _latest_object(session_factory, cid)
    assert obj["incident_refs"] == [clear["id"]]
    # A CLEAR crisis names CLEAR incidents only: anyone reads it.
    r = client.put(
        f"/api/v1/crises/{cid}/sharing", json={"tlp": "clear", "share_with": {}}, headers=cast["enisa"].headers
    )
    assert r.status_code == 200, r.text
    [obj] = _latest_object(session_factory, cid)
    assert obj["incident_refs"] == [clear["id"]]
    assert client.get(f"/api/v1/stix-objects/{obj['id']}", headers=cast["out"].headers).status_code == 200
    assert community["id"] not in client.get(f"/api/v1/stix-objects/{obj['id']}", headers=cast["out"].headers).text


def test_a_malformed_crisis_object_is_set_aside_and_the_rest_of_its_page_is_applied(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
) -> None:
    crisis, _, _ = _crisis_waiting_for_fr_and_de(client, cast)
    cid = crisis["id"]
    [obj] = _as_from(session_factory, peer_node, cid)
    bad = {k: v for k, v in obj.items() if k not in (node.ORIGIN, node.SHARES)}
    bad |= {"criteria": 5, "labels": "exercise", "incident_refs": {"x": 1}, "escalations": [{"id": 7}, "x"]}
    bad["escalations"] = [obj["escalations"][0] | {"approvals": "agree", "consult": 3, "required": None}]
    bad["actions"] = [{"id": "task--1", "assignee": ["a"]}]
    shares = obj[node.SHARES]
    signed = bad | {
        node.SHARES: shares,
        node.ORIGIN: peer_node.sign(bad, obj[node.ORIGIN]["owner"], tlp="amber", shares=shares, share_key=cid),
    }
    alert = client.post(
        "/api/v1/alerts",
        headers=cast["fr"].headers,
        json={"title": "Wiper", "body": "Patch.", "tlp": "amber", "recipients": {"organisations": [cast["de"].org_id]}},
    ).json()
    page = [signed, *_as_from(session_factory, peer_node, alert["id"])]
    result = receive(session_factory, settings, page, peer_node)
    assert not result.rejected, result.rejected
    assert client.get(f"/api/v1/alerts/{alert['id']}", headers=cast["de"].headers).status_code == 200
    room = client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).json()  # what could be read of it
    assert room["criteria"] == [] and room["actions"] == [] and room["escalations"][0]["required"] == []


def test_a_withdrawal_older_than_the_version_held_changes_nothing(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
) -> None:
    crisis, move, _ = _crisis_waiting_for_fr_and_de(client, cast)
    cid = crisis["id"]
    [obj] = _as_from(session_factory, peer_node, cid)
    owner = obj[node.ORIGIN]["owner"]
    narrowed_at = "2030-01-01T00:00:00.000000Z"
    body = {
        "type": "x-cybercrisis-withdrawal",
        "spec_version": "2.1",
        "id": f"x-cybercrisis-withdrawal--{uuid.uuid4()}",
        "created": narrowed_at,
        "modified": narrowed_at,
        "object_ref": cid,
        "withdrawn_from": [{"kind": "community", "target": "csirts-network"}],
    }
    shares = obj[node.SHARES]
    withdrawal = body | {
        node.SHARES: shares,
        node.ORIGIN: peer_node.sign(body, owner, tlp="amber", shares=shares, share_key=body["id"]),
    }
    # Narrowed, then widened again: the later version (with the community) and the earlier withdrawal in one page.
    later = {k: v for k, v in obj.items() if k not in (node.ORIGIN, node.SHARES)} | {
        "modified": "2030-01-02T00:00:00.000000Z"
    }
    widened = later | {
        node.SHARES: shares,
        node.ORIGIN: peer_node.sign(later, owner, tlp="amber", shares=shares, share_key=cid),
    }
    assert not receive(session_factory, settings, [withdrawal, widened], peer_node).rejected
    assert client.get(f"/api/v1/crises/{cid}", headers=cast["de"].headers).status_code == 200
    # The flush guard covers what a crisis replica is made of: an agreement written here is refused.
    with pytest.raises(PermissionDenied, match="held at node"), unit_of_work(session_factory) as s:
        s.add(EscalationApproval(escalation_id=move, org_id=cast["de"].org_id, verdict="agree"))
