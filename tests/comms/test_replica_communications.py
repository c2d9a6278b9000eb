"""Statements awaiting approval held at another node (ADR 0013 step 5, issue 15): read by its approvers and recipients
on their own nodes, read-only there; a verdict given there is sent to the drafting node, applied there once, and
comes back as the statement's next version.

The "other node" is a node identity of the test's own (`peer_node`) signing the object this node's own mapping made
from a real statement, which the test then removes here (as in tests/exchange/test_replicas.py).
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.tlp import TLP
from cybercrisis.answers.models import Answer, AnswerReceipt
from cybercrisis.comms.models import CommunicationApproval
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work, utcnow
from cybercrisis.errors import PermissionDenied
from cybercrisis.exchange import node, stix_common
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.stix_communication import sdo_id
from cybercrisis.notify.models import OutboxMessage
from tests.comms.conftest import Cast, draft, rows, verdict
from tests.conftest import count
from tests.exchange.test_replicas import _as_from, _peer, _request
from tests.exchange.test_stix_export import valid
from tests.exchange.test_store_federated import peer_node, receive  # noqa: F401 - peer_node is a fixture
from tests.web.conftest import HTML, csrf_on, sign_in

BASE = "/api/v1/communications"


def _next_version(peer: node.Node, signed: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The origin's next version of a communication's object: `changes` applied, a later `modified`, signed again."""
    obj = {k: copy.deepcopy(v) for k, v in signed.items() if k not in (node.SHARES, node.ORIGIN)}
    obj |= changes | {"modified": stix_common.ts(utcnow())}
    block = signed[node.ORIGIN]
    shares = signed[node.SHARES]
    out = dict(obj)
    out[node.SHARES] = shares
    out[node.ORIGIN] = peer.sign(
        obj, block["owner"], tlp=block["tlp"], shares=shares, share_key=signed["communication_id"]
    )
    return out


def test_a_statement_from_another_node_is_read_by_its_approvers_and_a_verdict_on_it_is_sent_home(
    client: TestClient,
    cast: Cast,
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    comm = draft(client, cast)
    [obj] = _as_from(session_factory, peer_node, comm["id"])
    assert obj["type"] == "x-cybercrisis-communication" and obj["id"] == sdo_id(comm["id"])
    assert [v["number"] for v in obj["versions"]] == [1] and "approvals" not in obj  # none given: left out
    plain = {k: v for k, v in obj.items() if not k.startswith("x_cybercrisis")}
    extras = [json.loads(stix_common.new_sdo_definition(stix_common.COMMUNICATION_EXTENSION_ID).serialize())]
    extras += [json.loads(stix_common.product_identity().serialize()), stix_common.marking_definition(TLP.AMBER)]
    valid({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [plain, *extras]})

    assert not receive(session_factory, settings, [obj], peer_node).rejected
    # Its approvers are asked through their routes on this node (each organisation's, once per version).
    asked = rows(db, OutboxMessage, OutboxMessage.object_id == comm["id"])
    assert sorted(m.target for m in asked) == ["comms@cert-bund.example", "comms@enisa.example"]
    assert {m.event for m in asked} == {"comms:communication:approval-requested"}
    r = client.get(f"{BASE}/{comm['id']}", headers=cast["de_coord"].headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["held_at"]["node"] == peer_node.id and got["answers"] == [] and got["created_by"] is None
    for key in ("title", "body", "translations", "language", "state", "version", "approvers", "tlp", "owner"):
        assert got[key] == comm[key], key
    assert [o["id"] for o in got["waiting_for"]] == [cast["de_coord"].org_id, cast["enisa_coord"].org_id]
    assert client.get(f"{BASE}/{comm['id']}", headers=cast["ee_coord"].headers).status_code == 404  # not for it

    # Nobody changes it here, its author's own organisation included: its node decides.
    edit = {"version": 1, "title": "Changed here"}
    for who, method, path, body in (
        ("fr_coord", "PATCH", "", edit),
        ("fr_coord", "POST", "/release", {}),
        ("fr_coord", "POST", "/withdraw", {}),
    ):
        r = client.request(method, f"{BASE}/{comm['id']}{path}", json=body, headers=cast[who].headers)
        assert r.status_code == 403 and f"held at node {peer_node.id}" in r.json()["detail"], (path, r.text)

    # CERT-Bund approves version 1 on its own node: the verdict is sent to the drafting node, nothing counts here.
    r = verdict(client, cast["de_coord"], comm)
    assert r.status_code == 200, r.text
    [sent] = r.json()["answers"]
    assert (sent["act"], sent["state"], sent["object"], sent["node"]) == (
        "communication.verdict",
        "queued",
        comm["id"],
        peer_node.id,
    )
    assert sent["input"] == {"version": 1, "verdict": "approve", "comment": ""}
    assert r.json()["approvals"] == [] and count(db, CommunicationApproval) == 0
    # Asked again, the same verdict is the same answer; another one while it is on its way is refused.
    assert verdict(client, cast["de_coord"], comm).status_code == 200 and count(db, Answer) == 1
    r = verdict(client, cast["de_coord"], comm, comment="Say when power is back")
    assert r.status_code == 409 and "on its way" in r.text, r.text
    # The checks of the act are made here first: a version that is not the current one is refused at once.
    assert verdict(client, cast["enisa_coord"], comm, version=2).status_code == 409

    # The page says where it is held and that the verdict was sent; the form sends it too.
    assert sign_in(client, cast["de_coord"].email).status_code == 303
    page = client.get(f"/communications/{comm['id']}", headers=HTML)
    assert page.status_code == 200 and "Held at" in page.text and "Verdict sent" in page.text, page.text
    token = csrf_on(client, f"/communications/{comm['id']}")
    form = {"csrf_token": token, "version": "1", "comment": ""}
    posted = client.post(f"/communications/{comm['id']}/approve", data=form, headers=HTML, follow_redirects=False)
    assert posted.status_code == 303 and "done=sent" in posted.headers["location"], posted.text
    assert count(db, Answer) == 1
    client.cookies.clear()
    # The flush guard covers verdicts: one written here on a statement held elsewhere is refused.
    with pytest.raises(PermissionDenied, match="held at node"), unit_of_work(session_factory) as s:
        s.add(
            CommunicationApproval(
                communication_id=comm["id"], org_id=cast["de_coord"].org_id, version=1, verdict="approve"
            )
        )

    # The drafting node applied it: its next version carries CERT-Bund's approval, and only ENISA's is awaited.
    approval = {"organisation": cast["de_coord"].org_id, "version": 1, "verdict": "approve", "comment": ""}
    # (A kind this node does not know is read as a statement.)
    newer = _next_version(peer_node, obj, approvals=[approval | {"at": stix_common.ts(utcnow())}], kind="bogus")
    assert not receive(session_factory, settings, [newer], peer_node).rejected
    got = client.get(f"{BASE}/{comm['id']}", headers=cast["enisa_coord"].headers).json()
    assert [(a["org"], a["verdict"]) for a in got["approvals"]] == [(cast["de_coord"].org_id, "approve")]
    assert [o["id"] for o in got["waiting_for"]] == [cast["enisa_coord"].org_id] and got["kind"] == "statement"
    # The older version arriving late (another path) changes nothing.
    assert not receive(session_factory, settings, [obj], peer_node).rejected
    assert len(client.get(f"{BASE}/{comm['id']}", headers=cast["enisa_coord"].headers).json()["approvals"]) == 1


def test_the_drafting_node_applies_a_verdict_sent_from_another_node_once(
    client: TestClient,
    cast: Cast,
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    comm = draft(client, cast)  # ours: this node is the drafting one
    with unit_of_work(session_factory) as s:  # CERT-Bund's node, pinned here
        s.add(_peer(peer_node, cast["de_coord"].org_id, direction="pull"))
    me = node.load(settings.data_dir)
    org = cast["de_coord"].org_id
    fields = {"version": 1, "verdict": "approve", "comment": "Fine for BSI"}
    ask = _request(peer_node, me, act="communication.verdict", object=comm["id"], organisation=org, input=fields)
    for _ in range(2):  # delivered twice: applied once
        r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["reason"]) == ("applied", ""), r.text
    assert count(db, AnswerReceipt) == 1
    [row] = db.scalars(select(CommunicationApproval)).all()
    assert (row.org_id, row.version, row.verdict, row.comment, row.user_id) == (org, 1, "approve", "Fine for BSI", None)
    # Its change is the statement's next version, which travels back to the approvers' nodes.
    [stored] = db.scalars(select(StixObject).where(StixObject.share_id == comm["id"])).all()
    assert [a["organisation"] for a in stored.data["approvals"]] == [org]
    # Refused with the reason, and remembered: a malformed verdict, a version that is not the current one.
    for bad, words in (
        (fields | {"verdict": "maybe"}, "input.verdict"),
        (fields | {"version": "one"}, "input.version"),
        (fields | {"version": 3}, "version"),
        (fields | {"verdict": "changes", "comment": ""}, "say what should change"),
    ):
        ask_bad = _request(peer_node, me, act="communication.verdict", object=comm["id"], organisation=org, input=bad)
        r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask_bad)
        assert r.json()["status"] == "refused" and words in r.json()["reason"], (bad, r.text)
    assert count(db, CommunicationApproval) == 1 and count(db, AnswerReceipt) == 5
    # ENISA is an approver, but CERT-Bund's node does not speak for it.
    enisa = cast["enisa_coord"].org_id
    for_enisa = _request(
        peer_node, me, act="communication.verdict", object=comm["id"], organisation=enisa, input=fields
    )
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=for_enisa)
    assert r.status_code == 403 and "speaks for" in r.text, r.text
    assert count(db, CommunicationApproval) == 1
