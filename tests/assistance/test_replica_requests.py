"""Requests for assistance held at another node (ADR 0013 step 5, issue 15): read where requests are read, by their
recipients only, read-only; an offer made on one is sent to the requester's node, which makes it there, once.

The "other node" is a node identity of the test's own (`peer_node`) signing the object this node's own mapping made
from a real request, which the test then removes here (as in tests/exchange/test_replicas.py). Three real nodes run
the same story in tests/exchange/test_federation_hub.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.tlp import TLP
from cybercrisis.answers.models import Answer, AnswerReceipt
from cybercrisis.assistance.models import Offer
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.errors import PermissionDenied
from cybercrisis.exchange import answers_in, node, stix_assistance, stix_common
from cybercrisis.exchange.answers_out import deliver_due
from cybercrisis.exchange.models import Peer, StixObject
from cybercrisis.notify.models import OutboxMessage
from tests.assistance.conftest import Cast, ask, offer, offer_body
from tests.comms.conftest import rows
from tests.conftest import count
from tests.exchange.test_replicas import _as_from, _peer, _request, _signed_again
from tests.exchange.test_stix_export import post_incident, valid
from tests.exchange.test_store_federated import peer_node, receive  # noqa: F401 - peer_node is a fixture
from tests.notify.helpers import add_route
from tests.web.conftest import HTML, csrf_on, sign_in

BASE = "/api/v1/assistance-requests"


def _versions(session_factory: sessionmaker[Session], request_id: str) -> list[dict[str, Any]]:
    with unit_of_work(session_factory, write=False) as s:
        return [dict(r.data) for r in s.scalars(select(StixObject).where(StixObject.share_id == request_id))]


def test_a_request_from_another_node_is_read_by_its_recipients_and_an_offer_on_it_is_sent_home(
    client: TestClient,
    cast: Cast,
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    # Its incidents: one every recipient reads (the CSIRTs Network's), one CERT-FR's own (AMBER, nobody else's).
    shared = post_incident(client, cast["fr"], share_with={"communities": ["csirts-network"]})
    own = post_incident(client, cast["fr"])
    req = ask(
        client,
        cast["fr"],
        cast,
        recipients={"organisations": [], "communities": ["csirts-network"], "reserve": False},
        incidents=[shared["id"], own["id"]],
    )
    [obj] = _as_from(session_factory, peer_node, req["id"])
    assert obj["type"] == "x-cybercrisis-assistance-request" and obj["id"] == stix_assistance.sdo_id(req["id"])
    assert obj["incident_refs"] == [shared["id"]]  # the other is not named to the request's readers
    plain = {k: v for k, v in obj.items() if not k.startswith("x_cybercrisis")}
    extras = [json.loads(d.serialize()) for d in (stix_common.new_sdo_definition(stix_common.REQUEST_EXTENSION_ID),)]
    extras += [json.loads(stix_common.product_identity().serialize()), stix_common.marking_definition(TLP.AMBER)]
    valid({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [plain, *extras]})

    add_route(session_factory, cast["de"].org_id, "email", "duty@cert-de.example", ("assistance:*",))
    assert not receive(session_factory, settings, [obj], peer_node).rejected
    # Its readers here hear of it through their routes (or contacts) on this node: CERT-DE's duty desk among them;
    # CERT-IT, no recipient, does not, nor CERT-FR, which asked.
    add_route(session_factory, cast["it"].org_id, "email", "duty@cert-it.example", ("assistance:*",))
    assert not receive(session_factory, settings, [obj], peer_node).rejected  # again: nothing new
    told = sorted((m.target, m.event) for m in rows(db, OutboxMessage, OutboxMessage.object_id == req["id"]))
    assert [t for t, _ in told] == ["desk@cert-ee.example", "desk@enisa.example", "duty@cert-de.example"], told
    assert {e for _, e in told} == {"assistance:request:create"}
    r = client.get(f"{BASE}/{req['id']}", headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["held_at"]["node"] == peer_node.id and got["answers"] == []
    for key in ("needs", "urgency", "description", "impact", "state", "owner", "tlp", "country"):
        assert got[key] == req[key], key
    assert got["share_with"] == req["share_with"] and got["created_by"] is None
    assert got["recipients"] == req["recipients"] and got["incidents"] == [shared["id"]]
    assert req["id"] in {x["id"] for x in client.get(BASE, headers=cast["de"].headers).json()["items"]}
    assert client.get(f"{BASE}/{req['id']}", headers=cast["it"].headers).status_code == 404  # not a recipient

    # An offer is AMBER+STRICT: it goes to the requester's node directly, never through a hub, so this node must be
    # its peer; a catalogue entry of this node's cannot be named there.
    r = client.post(f"{BASE}/{req['id']}/offers", json=offer_body(), headers=cast["de"].headers)
    assert r.status_code == 409 and "never through a hub" in r.text, r.text
    with unit_of_work(session_factory) as s:
        s.add(_peer(peer_node, cast["fr"].org_id, direction="pull"))
    r = client.post(
        f"{BASE}/{req['id']}/offers", json=offer_body(capability_id="capability--x"), headers=cast["de"].headers
    )
    assert r.status_code == 422 and "capability_id" in r.text, r.text
    # CERT-DE offers on its own node: 202, the offer is sent to the requester's node; nothing is made here.
    r = client.post(f"{BASE}/{req['id']}/offers", json=offer_body(), headers=cast["de"].headers)
    assert r.status_code == 202, r.text
    sent = r.json()
    assert (sent["act"], sent["state"], sent["object"], sent["node"]) == (
        "assistance.offer",
        "queued",
        req["id"],
        peer_node.id,
    )
    assert count(db, Offer) == 0
    [answer] = db.scalars(select(Answer)).all()
    assert answer.input["capability"] == "forensics" and answer.input["people"] == 3
    assert sent["input"] == answer.input and answer.tlp == "amber+strict"  # what it carries: the offer
    # A second offer (another capability) is another answer; a need the request does not have is refused here.
    r = client.post(
        f"{BASE}/{req['id']}/offers", json=offer_body(capability="incident-response"), headers=cast["de"].headers
    )
    assert r.status_code == 202 and count(db, Answer) == 2
    r = client.post(f"{BASE}/{req['id']}/offers", json=offer_body(capability="liaison"), headers=cast["de"].headers)
    assert r.status_code == 422 and "capability" in r.text
    assert [a["state"] for a in client.get(f"{BASE}/{req['id']}", headers=cast["de"].headers).json()["answers"]] == [
        "queued",
        "queued",
    ]
    # Nobody else acts on it here, the requester's own users included: its node decides.
    elsewhere = f"offers/assistance-offer--{uuid.uuid4()}/accept"
    for who, path in (("fr", "withdraw"), ("fr", "support-ended"), ("fr", elsewhere)):
        body = {"ended_at": "2030-01-01T00:00:00Z"} if path == "support-ended" else {}
        r = client.post(f"{BASE}/{req['id']}/{path}", headers=cast[who].headers, json=body)
        assert r.status_code == 403, (path, r.text)
        assert f"held at node {peer_node.id}" in r.json()["detail"], r.text

    # The page says where it is held, and what became of the offers sent there.
    assert sign_in(client, cast["de"].email).status_code == 303
    page = client.get(f"/assistance/{req['id']}", headers=HTML)
    assert "Held at CERT-FR" in page.text and page.text.count("Offer sent") == 2  # its peer row names who runs it
    token = csrf_on(client, f"/assistance/{req['id']}")
    form = {"csrf_token": token, "capability": "forensics", "people": "1", "available_from": "2030-01-01T08:00"}
    posted = client.post(f"/assistance/{req['id']}/offers", data=form, headers=HTML, follow_redirects=False)
    assert posted.status_code == 303 and "done=offer-sent" in posted.headers["location"], posted.text
    assert count(db, Answer) == 3
    client.cookies.clear()
    # The flush guard covers offers: one written here on a request held elsewhere is refused.
    with pytest.raises(PermissionDenied, match="held at node"), unit_of_work(session_factory) as s:
        s.add(
            Offer(
                id=f"assistance-offer--{uuid.uuid4()}",
                owner_org_id=cast["de"].org_id,
                tlp="amber+strict",
                request_id=req["id"],
                capability="forensics",
                people=1,
                available_from=datetime.now(UTC),
            )
        )


def test_the_requester_node_makes_an_offer_sent_from_another_node_once_and_accepting_it_moves_the_request(
    client: TestClient,
    cast: Cast,
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    req = ask(client, cast["fr"], cast)  # ours: this node is the requester's
    with unit_of_work(session_factory) as s:  # CERT-DE's node, pinned here
        s.add(_peer(peer_node, cast["de"].org_id, direction="pull"))
    [before] = _versions(session_factory, req["id"])
    me = node.load(settings.data_dir)
    fields = offer_body()
    ask_offer = _request(
        peer_node, me, act="assistance.offer", object=req["id"], organisation=cast["de"].org_id, input=fields
    )
    offer_id = answers_in.offer_id(peer_node.id, ask_offer["key"])  # its id: of the asking node and its key
    for _ in range(2):  # delivered twice: made once
        r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask_offer)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["reason"]) == ("applied", ""), r.text
    assert count(db, AnswerReceipt) == 1
    made = db.get(Offer, offer_id)
    assert made is not None and made.owner_org_id == cast["de"].org_id and made.tlp == "amber+strict"
    assert made.created_by_id is None and made.people == 3
    # Refused with the reason, and remembered: a malformed offer, an id taken, a need the request does not have.
    for bad, words in (
        (fields | {"people": 0}, "input.people"),
        (fields | {"available_from": "tomorrow"}, "input.available_from"),
        (fields | {"capability": "liaison"}, "offer one of them"),
    ):
        ask_bad = _request(
            peer_node, me, act="assistance.offer", object=req["id"], organisation=cast["de"].org_id, input=bad
        )
        r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask_bad)
        assert r.json()["status"] == "refused" and words in r.json()["reason"], r.text
    assert count(db, Offer) == 1 and count(db, AnswerReceipt) == 4
    # CERT-DE withdraws it from its node: applied here once, as CERT-DE's own act.
    ask_withdraw = _request(
        peer_node, me, act="assistance.offer.withdraw", object=offer_id, organisation=cast["de"].org_id
    )
    for _ in range(2):
        r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask_withdraw)
        assert (r.json()["status"], r.json()["reason"]) == ("applied", ""), r.text
    db.rollback()
    assert db.get(Offer, offer_id).state == "withdrawn"  # type: ignore[union-attr]
    assert count(db, AnswerReceipt) == 5
    # Another organisation's node cannot withdraw it (the offer is CERT-DE's, and that node speaks for CERT-DE).
    ask_it = _request(peer_node, me, act="assistance.offer.withdraw", object=offer_id, organisation=cast["it"].org_id)
    assert client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask_it).status_code == 403
    # The rest of the story needs an offer still offered: another one, made the same way.
    ask_offer = _request(
        peer_node, me, act="assistance.offer", object=req["id"], organisation=cast["de"].org_id, input=fields
    )
    offer_id = answers_in.offer_id(peer_node.id, ask_offer["key"])
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask_offer)
    assert r.json()["status"] == "applied", r.text
    assert count(db, Offer) == 2 and count(db, AnswerReceipt) == 6
    # Addressed to another node, through this one as a relay: an offer is never relayed, whatever the request.
    other = node.load(settings.data_dir.parent / "another-node")
    relayed = _request(
        peer_node, other, act="assistance.offer", object=req["id"], organisation=cast["de"].org_id, input=fields
    )
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=relayed)
    assert r.status_code == 403 and "never through a relay" in r.text, r.text
    # The requester sees it like any offer, and accepts it here: the request is in support, a new version.
    r = client.post(f"{BASE}/{req['id']}/offers/{offer_id}/accept", headers=cast["fr"].headers, json={})
    assert r.status_code == 200 and r.json()["state"] == "accepted", r.text
    [after] = _versions(session_factory, req["id"])  # the store keeps the latest version
    assert after["state"] == "in-support" and after["modified"] > before["modified"]
    # Offers are closed once the request is in support: refused there, with its reason.
    late = fields
    ask_late = _request(
        peer_node, me, act="assistance.offer", object=req["id"], organisation=cast["de"].org_id, input=late
    )
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask_late)
    assert r.json()["status"] == "refused" and "offers are closed" in r.json()["reason"], r.text


def test_an_offer_made_at_the_requesters_node_comes_back_to_the_offerers_node_with_what_became_of_it(
    client: TestClient,
    cast: Cast,
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
) -> None:
    # At the requester's node (played here by this one): CERT-FR asks, CERT-DE's offer is made and accepted there.
    req = ask(client, cast["fr"], cast)
    made = offer(client, cast["de"], req["id"])
    second = offer(client, cast["de"], req["id"], capability="incident-response")  # still offered
    r = client.post(f"{BASE}/{req['id']}/offers/{made['id']}/accept", headers=cast["fr"].headers, json={})
    assert r.status_code == 200, r.text
    [obj] = _as_from(session_factory, peer_node, made["id"])
    [obj2] = _as_from(session_factory, peer_node, second["id"])
    assert obj["type"] == "x-cybercrisis-assistance-offer" and obj["id"] == stix_assistance.offer_sdo_id(made["id"])
    assert obj["request_ref"] == req["id"] and obj["state"] == "accepted" and obj["created_by_ref"] == cast["de"].org_id
    plain = {k: v for k, v in obj.items() if not k.startswith("x_cybercrisis")}
    extras = [json.loads(stix_common.new_sdo_definition(stix_common.OFFER_EXTENSION_ID).serialize())]
    extras += [json.loads(stix_common.product_identity().serialize()), stix_common.marking_definition(TLP.AMBER_STRICT)]
    valid({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [plain, *extras]})
    # Before its request, it waits in the store: no node holds an offer without the request it was made on. One of
    # the wrong shape waits there too, and never stops a request from being received.
    [req_obj] = _as_from(session_factory, peer_node, req["id"])
    other = f"assistance-offer--{uuid.uuid4()}"
    malformed = _signed_again(
        peer_node, obj, other, id=stix_assistance.offer_sdo_id(other), offer_id=other, request_ref=[req["id"]]
    )
    assert not receive(session_factory, settings, [obj, malformed], peer_node).rejected
    with unit_of_work(session_factory, write=False) as s:
        assert s.get(Offer, made["id"]) is None
    # At the offerer's node: the request and the offer arrive; CERT-DE reads its offer, accepted, held there.
    assert not receive(session_factory, settings, [req_obj, obj, obj2], peer_node).rejected
    got = client.get(f"{BASE}/{req['id']}", headers=cast["de"].headers).json()
    assert got["held_at"]["node"] == peer_node.id and got["state"] == "in-support", got
    mine = {o["id"]: o for o in got["offers"]}
    assert (mine[made["id"]]["state"], mine[made["id"]]["people"], mine[made["id"]]["tlp"]) == (
        "accepted",
        3,
        "amber+strict",
    )
    assert mine[second["id"]]["state"] == "offered"
    # AMBER+STRICT between offerer and requester: another recipient of the request does not see it.
    assert client.get(f"{BASE}/{req['id']}", headers=cast["ee"].headers).json()["offers"] == []
    # Nothing changes here: an accepted offer is not withdrawn, as at its node; the requester's users decide there.
    base = f"{BASE}/{req['id']}/offers"
    r = client.post(f"{base}/{made['id']}/withdraw", headers=cast["de"].headers, json={})
    assert r.status_code == 409 and "accepted" in r.text, r.text
    r = client.post(f"{base}/{second['id']}/decline", headers=cast["fr"].headers, json={})
    assert r.status_code == 403 and f"held at node {peer_node.id}" in r.json()["detail"], r.text
    # Withdrawing the one still offered is an answer to the requester's node, directly (AMBER+STRICT): refused
    # until that node is a peer of this one, then sent (202), and the offer stays offered here until it comes back.
    r = client.post(f"{base}/{second['id']}/withdraw", headers=cast["de"].headers, json={})
    assert r.status_code == 409 and "never through a hub" in r.text, r.text
    with unit_of_work(session_factory) as s:
        s.add(_peer(peer_node, cast["fr"].org_id, direction="pull"))
    r = client.post(f"{base}/{second['id']}/withdraw", headers=cast["de"].headers, json={})
    assert r.status_code == 202, r.text
    assert (r.json()["act"], r.json()["state"], r.json()["object"]) == (
        "assistance.offer.withdraw",
        "queued",
        second["id"],
    )
    got = client.get(f"{BASE}/{req['id']}", headers=cast["de"].headers).json()
    assert {o["id"]: o["state"] for o in got["offers"]}[second["id"]] == "offered"
    assert [(a["act"], a["object"]) for a in got["answers"]] == [("assistance.offer.withdraw", second["id"])]
    # It goes only directly: with the direct peer disabled before delivery it waits, it is never sent through a hub.
    with unit_of_work(session_factory) as s:
        s.execute(update(Peer).values(enabled=False))
    deliver_due(session_factory, settings, datetime.now(UTC) + timedelta(minutes=10))
    [waiting] = client.get(f"{BASE}/{req['id']}", headers=cast["de"].headers).json()["answers"]
    assert waiting["state"] == "queued" and "never through a hub" in (waiting["last_error"] or ""), waiting


def test_judgements_not_assessed_at_the_origin_stay_not_assessed_at_a_peer(
    client: TestClient,
    cast: Cast,
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
) -> None:
    """A request whose threat severity and spill-over risk were not assessed travels without them, and the node
    that holds a copy shows them as not assessed, never as a default the requester did not choose."""
    req = ask(
        client,
        cast["fr"],
        cast,
        recipients={"organisations": [], "communities": ["csirts-network"], "reserve": False},
        severity=None,
        spillover=None,
    )
    assert (req["severity"], req["spillover"]) == (None, None)
    [obj] = _as_from(session_factory, peer_node, req["id"])
    assert "threat_severity" not in obj and "spillover" not in obj
    assert not receive(session_factory, settings, [obj], peer_node).rejected
    got = client.get(f"{BASE}/{req['id']}", headers=cast["de"].headers).json()
    assert got["held_at"]["node"] == peer_node.id
    assert (got["severity"], got["spillover"]) == (None, None)
