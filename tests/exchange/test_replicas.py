"""Replicas and answers (ADR 0013, issue 15): what another node shares takes part in the work here, read-only, and
acts on it go home.

The "other node" here is a node identity of the test's own (`peer_node`), signing versions that this node's own
mapping made from a real incident or alert, which the test then removes from this node, so that they arrive as
another node's would. The HTTP return path between two real nodes is in test_federation_nodes.py.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share, Shareable
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.answers.models import Answer, AnswerReceipt
from cybercrisis.assistance.models import AssistanceRequest, Offer
from cybercrisis.audit.models import AuditEvent
from cybercrisis.comms.models import Communication, CommunicationVersion
from cybercrisis.config import Settings
from cybercrisis.crises.models import Action, Crisis, Decision, Escalation
from cybercrisis.db import Base, unit_of_work
from cybercrisis.errors import PermissionDenied
from cybercrisis.exchange import answers_in, node, stix_common
from cybercrisis.exchange.models import Peer, StixObject
from cybercrisis.incidents.models import Incident, Sighting
from cybercrisis.notify.models import OutboxMessage
from cybercrisis.situation.models import Contribution, ContributionVersion, Sitrep, SitrepSource, SitrepVersion
from tests.conftest import Actor, World, count
from tests.exchange.test_stix_export import post_incident
from tests.exchange.test_store_federated import peer_node, receive  # noqa: F401 - peer_node is a fixture
from tests.notify.helpers import add_route
from tests.web.conftest import HTML, csrf_on, sign_in


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Outsider", country="IT")
    return {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund"), "out": world.user("Outsider")}


def _as_from(session_factory: sessionmaker[Session], peer: node.Node, object_id: str) -> list[dict[str, Any]]:
    """This node's published versions of `object_id` (and what derives from it), signed by `peer` as its origin
    with this node's share list; the object itself, its rows in the store and its share rows are then removed here,
    so that what arrives is another node's object."""
    with unit_of_work(session_factory) as s:
        rows = list(s.scalars(select(StixObject).where(StixObject.share_id == object_id).order_by(StixObject.seq)))
        shares = [
            {"kind": k, "target": t}
            for k, t in sorted(s.execute(select(Share.kind, Share.target).where(Share.object_id == object_id)))
            if k in node.SHARE_KINDS
        ]
        out = []
        for r in rows:
            if not r.latest:
                continue
            obj = copy.deepcopy(r.data)
            signed = dict(obj)
            signed[node.SHARES] = shares
            signed[node.ORIGIN] = peer.sign(obj, r.owner_org_id, tlp=r.tlp, shares=shares, share_key=object_id)
            out.append(signed)
        # A crisis's escalations, decisions and actions share its list (crises/audience.py): theirs go too.
        children = [
            i
            for child in (Escalation, Decision, Action)
            for i in s.scalars(select(child.id).where(child.crisis_id == object_id))
        ]
        s.execute(delete(StixObject).where(StixObject.share_id == object_id))
        # This node's own notices about it and its parts (another node's object was never announced here).
        s.execute(delete(OutboxMessage).where(OutboxMessage.object_id.in_([object_id, *children])))
        s.execute(delete(Share).where(Share.object_id.in_([object_id, *children])))
        s.execute(delete(ContributionVersion).where(ContributionVersion.contribution_id == object_id))
        s.execute(delete(CommunicationVersion).where(CommunicationVersion.communication_id == object_id))
        if object_id.startswith("sitrep--"):  # its versions and sources go with it (their keys cascade)
            s.execute(delete(SitrepSource).where(SitrepSource.sitrep_id == object_id))
            s.execute(delete(SitrepVersion).where(SitrepVersion.sitrep_id == object_id))
            s.execute(delete(Sitrep).where(Sitrep.id == object_id))
        else:
            s.delete(s.get(_MODELS[object_id.split("--", 1)[0]], object_id))
    return out


def _signed_again(peer: node.Node, signed: dict[str, Any], share_key: str, **changes: Any) -> dict[str, Any]:
    """The origin's next version of an object `_as_from` gave: `changes` applied, signed again with the same owner,
    TLP and share list (give `modified` in `changes` for a newer version)."""
    obj = {k: copy.deepcopy(v) for k, v in signed.items() if k not in (node.SHARES, node.ORIGIN)} | changes
    block, shares = signed[node.ORIGIN], signed[node.SHARES]
    out = dict(obj)
    out[node.SHARES] = shares
    out[node.ORIGIN] = peer.sign(obj, block["owner"], tlp=block["tlp"], shares=shares, share_key=share_key)
    return out


_MODELS: dict[str, type[Any]] = {
    "incident": Incident,
    "alert": Alert,
    "crisis": Crisis,
    "assistance-request": AssistanceRequest,
    "assistance-offer": Offer,
    "contribution": Contribution,
    "communication": Communication,
}


def _incident(client: TestClient, cast: dict[str, Actor]) -> dict[str, Any]:
    return post_incident(client, cast["fr"], share_with={"organisations": [cast["de"].org_id]})


def test_an_incident_from_another_node_is_read_where_its_kind_is_read_and_only_by_its_recipients(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
) -> None:
    inc = _incident(client, cast)
    objects = _as_from(session_factory, peer_node, inc["id"])
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).status_code == 404

    result = receive(session_factory, settings, objects, peer_node)
    assert not result.rejected, result.rejected
    r = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["held_at"]["node"] == peer_node.id and got["held_at"]["stale"] is False  # it has just arrived
    for key in ("title", "description", "tlp", "owner", "countries", "sectors", "status", "rsit_class", "pap"):
        assert got[key] == inc[key], key
    assert sorted(map(str, got["observables"])) == sorted(map(str, inc["observables"]))
    assert got["share_with"]["organisations"] == [cast["de"].org_id]
    assert got["created_by"] is None  # users do not travel
    listed = client.get("/api/v1/incidents", headers=cast["de"].headers).json()["items"]
    assert inc["id"] in {i["id"] for i in listed}
    # The outsider was never a recipient: the replica is as hidden from it as the origin's incident.
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["out"].headers).status_code == 404
    assert inc["id"] not in {
        i["id"] for i in client.get("/api/v1/incidents", headers=cast["out"].headers).json()["items"]
    }
    # It takes part in correlation here: a local incident with one of its values finds it.
    value = inc["observables"][0]
    mine = post_incident(client, cast["de"], observables=[{"type": value["type"], "value": value["value"]}])
    related = client.get(f"/api/v1/incidents/{mine['id']}/correlations", headers=cast["de"].headers)
    assert related.status_code == 200, related.text
    assert inc["id"] in related.text

    # Received again (a resumed pull): nothing is rebuilt, nothing audited twice.
    with unit_of_work(session_factory, write=False) as s:
        applied = s.scalar(select(func.count()).where(AuditEvent.tag == "exchange:replica:apply"))
    assert receive(session_factory, settings, objects, peer_node).unchanged == len(objects)
    with unit_of_work(session_factory, write=False) as s:
        assert s.scalar(select(func.count()).where(AuditEvent.tag == "exchange:replica:apply")) == applied
        # Not republished as ours: the store holds only the origin's signed versions of it.
        assert {r.origin_node for r in s.scalars(select(StixObject).where(StixObject.id == inc["id"]))} == {
            peer_node.id
        }


def test_nobody_changes_a_replica_here_not_even_its_owner_and_the_guard_catches_a_forgotten_check(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
) -> None:
    inc = _incident(client, cast)
    receive(session_factory, settings, _as_from(session_factory, peer_node, inc["id"]), peer_node)
    # CERT-FR's own analyst on this node: the incident is held at FR's node, which decides about it.
    r = client.patch(
        f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers, json={"version": 1, "status": "contained"}
    )
    assert r.status_code == 403, r.text
    assert f"held at node {peer_node.id}" in r.json()["detail"]
    # A write that no policy asked about (a bug) is refused at flush, the replica and its children untouched.
    with pytest.raises(PermissionDenied, match="held at node"), unit_of_work(session_factory) as s:
        s.get(Incident, inc["id"]).title = "changed"  # type: ignore[union-attr]
    with unit_of_work(session_factory, write=False) as s:
        sighting = s.scalars(select(Sighting).where(Sighting.incident_id == inc["id"])).first()
    with pytest.raises(PermissionDenied, match="held at node"), unit_of_work(session_factory) as s:
        s.delete(s.merge(sighting))  # a child of the replica
    with unit_of_work(session_factory, write=False) as s:
        assert s.get(Incident, inc["id"]).title == inc["title"]  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(Sighting).where(Sighting.incident_id == inc["id"]))


def test_another_node_cannot_change_a_replica_nor_can_a_local_path_widen_it(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    tmp_path: Any,
) -> None:
    inc = _incident(client, cast)
    receive(session_factory, settings, _as_from(session_factory, peer_node, inc["id"]), peer_node)
    before = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).json()
    # A third node relates a value and an entity of its choosing to it: stored as its own, not in the replica.
    other = node.load(tmp_path / "other-node")
    sco = {"type": "ipv4-addr", "spec_version": "2.1", "id": f"ipv4-addr--{uuid.uuid4()}", "value": "203.0.113.66"}
    rels = [
        {
            "type": "relationship",
            "spec_version": "2.1",
            "id": f"relationship--{uuid.uuid4()}",
            "created": "2026-12-01T00:00:00.000Z",
            "modified": "2026-12-01T00:00:00.000Z",
            "relationship_type": kind,
            "source_ref": inc["id"],
            "target_ref": target,
        }
        for kind, target in (("related-to", sco["id"]), ("impacts", cast["out"].org_id))
    ]
    objects = []
    for obj in [sco, *rels]:
        out = dict(obj)
        out[node.SHARES] = [{"kind": "organisation", "target": cast["de"].org_id}]
        out[node.ORIGIN] = other.sign(
            obj, cast["out"].org_id, tlp="amber", shares=out[node.SHARES], share_key=obj["id"]
        )
        objects.append(out)
    assert not receive(session_factory, settings, objects, other).rejected
    after = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["de"].headers).json()
    assert (after["observables"], after["entity"]) == (before["observables"], before["entity"])
    # Its owner's user here cannot widen it through a NIS2 flow, nor can any write of a share row.
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/inform-member-states",
        headers=cast["fr"].headers,
        json={"member_states": ["IT"], "enisa": True, "share_incident": True, "summary": "Wiper."},
    )
    assert r.status_code == 403 and "held at node" in r.text, r.text
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["out"].headers).status_code == 404
    with pytest.raises(PermissionDenied, match="held at node"), unit_of_work(session_factory) as s:
        s.add(Share(object_id=inc["id"], kind="organisation", target=cast["out"].org_id))
    assert client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["out"].headers).status_code == 404


def test_a_narrowed_list_narrows_an_early_warning_replica_and_bad_values_do_not_stop_a_page(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    world: World,
) -> None:
    world.org("CERT-EE", country="EE")
    ee = world.user("CERT-EE")
    r = client.post(
        "/api/v1/alerts",
        headers=cast["fr"].headers,
        json={"title": "W", "tlp": "amber", "recipients": {"organisations": [cast["de"].org_id, ee.org_id]}},
    )
    sent = r.json()
    objects = _as_from(session_factory, peer_node, sent["id"])
    [report] = objects
    ours = stix_common.ALERT_EXTENSION_ID
    report["extensions"][ours]["remind_after_minutes"] = "soon"  # the origin's bug: a default, not a stuck page
    narrowed = _resign(peer_node, report, [{"kind": "organisation", "target": cast["de"].org_id}])
    wide = _resign(peer_node, report, report[node.SHARES])
    assert not receive(session_factory, settings, [wide], peer_node).rejected
    assert client.get(f"/api/v1/alerts/{sent['id']}", headers=ee.headers).status_code == 200
    got = client.get(f"/api/v1/alerts/{sent['id']}", headers=cast["de"].headers).json()
    assert got["remind_after_minutes"] == 60
    # The origin re-serves the same version with CERT-EE removed: CERT-EE loses it here too.
    assert receive(session_factory, settings, [narrowed], peer_node).updated == 1
    assert client.get(f"/api/v1/alerts/{sent['id']}", headers=ee.headers).status_code == 404
    assert client.get(f"/api/v1/alerts/{sent['id']}", headers=cast["de"].headers).status_code == 200


def _resign(peer: node.Node, obj: dict[str, Any], shares: list[dict[str, str]]) -> dict[str, Any]:
    bare = {k: v for k, v in obj.items() if k not in node.ENVELOPE}
    block = obj[node.ORIGIN]
    out = dict(bare)
    out[node.SHARES] = shares
    out[node.ORIGIN] = peer.sign(bare, block["owner"], tlp=block["tlp"], shares=shares, share_key=bare["id"])
    return out


def test_every_child_table_of_a_shareable_table_names_its_parent_for_the_guard() -> None:
    """A new child table that forgot `__replica_parent__` would let a replica's children change here."""
    shareable = {m.local_table.name for m in Base.registry.mappers if issubclass(m.class_, Shareable)}
    missing = []
    for mapper in Base.registry.mappers:
        cls = mapper.class_
        if issubclass(cls, Shareable):
            continue
        parents = {fk.column.table.name for fk in mapper.local_table.foreign_keys if fk.column.name == "id"}
        children_of_children = {"report_submissions"}  # names its report, whose incident is the shareable row
        if (parents & shareable or mapper.local_table.name in children_of_children) and not hasattr(
            cls, "__replica_parent__"
        ):
            missing.append(mapper.local_table.name)
    assert not missing, f"declare __replica_parent__ on {missing} (access/replicas.py)"


# --- early warnings and the answer that goes home ---------------------------------------------------------------


def _alert(client: TestClient, cast: dict[str, Actor]) -> dict[str, Any]:
    r = client.post(
        "/api/v1/alerts",
        headers=cast["fr"].headers,
        json={
            "title": "Wiper spreading",
            "body": "Patch now.",
            "tlp": "amber",
            "recipients": {"organisations": [cast["de"].org_id]},
        },
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_acknowledging_an_early_warning_held_elsewhere_queues_one_answer_and_changes_nothing_here(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    add_route(session_factory, cast["de"].org_id, "email", "desk@cert-bund.example", ("alerts:*",))
    sent = _alert(client, cast)
    objects = _as_from(session_factory, peer_node, sent["id"])
    result = receive(session_factory, settings, objects, peer_node)
    assert not result.rejected, result.rejected
    # CERT-Bund's desk hears of it through its route on this node, once, however often it is received.
    assert not receive(session_factory, settings, objects, peer_node).rejected
    db.rollback()  # a fresh snapshot
    told = db.scalars(select(OutboxMessage).where(OutboxMessage.object_id == sent["id"])).all()
    assert [(m.target, m.event) for m in told] == [("desk@cert-bund.example", "alerts:alert:send")]
    assert "Early warning" in told[0].subject and "Patch now." not in told[0].body  # AMBER: sign in to read it
    db.rollback()
    r = client.get(f"/api/v1/alerts/{sent['id']}", headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["title"], got["body"], got["tlp"]) == ("Wiper spreading", "Patch now.", "amber")
    assert got["owner"] == sent["owner"]
    assert got["pending"] == [cast["de"].org_id] and got["held_at"]["node"] == peer_node.id
    pending = client.get("/api/v1/alerts?pending_for_me=true", headers=cast["de"].headers).json()["items"]
    assert [a["id"] for a in pending] == [sent["id"]]
    assert client.get(f"/api/v1/alerts/{sent['id']}", headers=cast["out"].headers).status_code == 404

    # The page says where it is held; its Acknowledge button sends the answer there, and the page says so.
    assert sign_in(client, cast["de"].email).status_code == 303
    page = client.get(f"/alerts/{sent['id']}", headers=HTML)
    assert "Held at another node." in page.text and peer_node.id in page.text and "Acknowledge</button>" in page.text
    token = csrf_on(client, f"/alerts/{sent['id']}")
    posted = client.post(
        f"/alerts/{sent['id']}/acknowledge", data={"csrf_token": token}, headers=HTML, follow_redirects=False
    )
    assert posted.status_code == 303, posted.text
    page = client.get(f"/alerts/{sent['id']}", headers=HTML)
    assert "Acknowledgement sent" in page.text and "Acknowledge</button>" not in page.text
    client.cookies.clear()
    r = client.post(f"/api/v1/alerts/{sent['id']}/acknowledge", headers=cast["de"].headers)  # again: one answer
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["pending"] == [cast["de"].org_id]  # acknowledged only once the origin says so
    [answer] = got["answers"]
    assert (answer["act"], answer["state"], answer["node"]) == ("alert.acknowledge", "queued", peer_node.id)
    assert count(db, Answer) == 1
    assert count(db, AlertRecipient, AlertRecipient.acknowledged_at.is_not(None)) == 0
    # Not a recipient: refused here at once, nothing queued.
    assert client.post(f"/api/v1/alerts/{sent['id']}/acknowledge", headers=cast["fr"].headers).status_code == 403
    assert count(db, Answer) == 1
    # The organisation's answers are its own: the sender's view of the replica shows none.
    assert client.get(f"/api/v1/alerts/{sent['id']}", headers=cast["fr"].headers).json()["answers"] == []


def _peer(who: node.Node, org: str, *, direction: str = "both", relay: bool = False) -> Peer:
    """A peer row for a node of the test's own, with its keys pinned (no server behind its address)."""
    host = f"node-{who.id.split('--', 1)[1][:8]}.example"
    return Peer(
        id=f"peer--{uuid.uuid4()}",
        url=f"https://{host}/taxii2/",
        api_root=f"https://{host}/taxii2/cybercrisis/",
        node_id=who.id,
        organisation_id=org,
        token="unused",
        direction=direction,
        relay=relay,
        keys=[{"id": k, "public_key": v} for k, v in who.public_keys().items()],
    )


def _request(peer: node.Node, to: node.Node, **body: Any) -> dict[str, Any]:
    base = {
        "to": to.id,
        "key": f"answer--{uuid.uuid4()}",
        "act": "alert.acknowledge",
        "user": "f" * 32,
        "version_seen": None,
        "input": {},
    } | body
    return base | {"signature": peer.sign_message(answers_in.PURPOSE, answers_in.signed_body(base))}


def test_an_answer_from_a_node_that_speaks_for_the_organisation_is_applied_once_and_makes_a_new_version(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    db: Session,
) -> None:
    sent = _alert(client, cast)  # ours: this node is the origin here
    with unit_of_work(session_factory) as s:  # CERT-Bund's node, pinned here
        s.add(_peer(peer_node, cast["de"].org_id, direction="pull"))
    before = count(db, StixObject, StixObject.share_id == sent["id"])
    me = node.load(settings.data_dir)
    ask = _request(peer_node, me, object=sent["id"], organisation=cast["de"].org_id)
    for _ in range(2):  # delivered twice (a retry after a lost reply): applied once, the same outcome
        r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=ask)
        assert r.status_code == 200, r.text
        reply = r.json()
        assert (reply["key"], reply["status"], reply["reason"]) == (ask["key"], "applied", "")
        body = {k: v for k, v in reply.items() if k != "signature"}
        assert node.verify_message(answers_in.REPLY, body, reply["signature"], {me.id: me.public_keys()}) is None
    got = client.get(f"/api/v1/alerts/{sent['id']}", headers=cast["fr"].headers).json()
    assert [a["organisation"] for a in got["acknowledged"]] == [cast["de"].org_id] and got["pending"] == []
    assert got["acknowledged"][0]["by"] is None  # asked on another node: no user of ours
    assert count(db, AnswerReceipt) == 1
    assert count(db, AuditEvent, AuditEvent.tag == "alerts:alert:acknowledge") == 1
    assert count(db, StixObject, StixObject.share_id == sent["id"]) == before + 1  # a new version travels back

    # Refused, and nothing applied: not pinned, tampered, another organisation's account, a malformed request.
    stranger = node.load(settings.data_dir.parent / "stranger")
    unknown = _request(stranger, me, object=sent["id"], organisation=cast["de"].org_id)
    tampered = _request(peer_node, me, object=sent["id"], organisation=cast["de"].org_id) | {"user": "e" * 32}
    wrong_org = _request(peer_node, me, object=sent["id"], organisation=cast["fr"].org_id)
    elsewhere = _request(peer_node, stranger, object=sent["id"], organisation=cast["de"].org_id)
    for bad, who, status, words in (
        (unknown, "de", 403, "pinned"),
        (elsewhere, "de", 403, "relays answers only between peers"),  # addressed to a node not its peer
        (tampered, "de", 403, "does not verify"),
        (wrong_org, "fr", 403, "does not speak for"),
        (wrong_org, "de", 403, "answers on its own node"),
        (ask | {"key": "answer--1"}, "de", 422, "key"),
    ):
        r = client.post("/federation/v1/answers", headers=cast[who].headers, json=bad)
        assert r.status_code == status, r.text
        assert words in r.text, r.text
    assert count(db, AnswerReceipt) == 1
    assert client.post("/federation/v1/answers", json=ask).status_code == 401

    # An act the organisation may not do here is refused, with the origin's reason, and remembered.
    other = _alert(client, cast)
    not_named = _request(peer_node, me, object=other["id"], organisation=cast["de"].org_id)
    with unit_of_work(session_factory) as s:
        s.execute(delete(AlertRecipient).where(AlertRecipient.alert_id == other["id"]))
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=not_named)
    assert r.json()["status"] == "refused" and "recipient" in r.json()["reason"], r.text
    assert count(db, AnswerReceipt) == 2


def test_a_relay_keeps_an_answer_only_about_what_it_passed_on_to_that_organisation_and_says_the_same_otherwise(
    client: TestClient,
    cast: dict[str, Actor],
    session_factory: sessionmaker[Session],
    settings: Settings,
    peer_node: node.Node,  # noqa: F811
    tmp_path: Any,
) -> None:
    """This node as the hub: `peer_node` is the origin of two early warnings held here, one for CERT-Bund, one for
    the outsider only; CERT-Bund's node (`asker`, a peer this node relays for) answers both."""
    asker = node.load(tmp_path / "asker-node")
    for_de, for_out = _alert(client, cast), None
    r = client.post(
        "/api/v1/alerts",
        headers=cast["fr"].headers,
        json={"title": "Only for the outsider", "tlp": "amber", "recipients": {"organisations": [cast["out"].org_id]}},
    )
    for_out = r.json()
    for sent in (for_de, for_out):
        receive(session_factory, settings, _as_from(session_factory, peer_node, sent["id"]), peer_node)
    with unit_of_work(session_factory) as s:  # the origin and CERT-Bund's node, both relayed for
        s.add_all([_peer(peer_node, cast["fr"].org_id, relay=True), _peer(asker, cast["de"].org_id, relay=True)])
    kept = _request(asker, peer_node, object=for_de["id"], organisation=cast["de"].org_id)
    r = client.post("/federation/v1/answers", headers=cast["de"].headers, json=kept)
    assert r.status_code == 200 and r.json()["status"] == "relayed", r.text
    hidden = _request(asker, peer_node, object=for_out["id"], organisation=cast["de"].org_id)
    missing = _request(asker, peer_node, object=f"alert--{uuid.uuid4()}", organisation=cast["de"].org_id)
    answers = [client.post("/federation/v1/answers", headers=cast["de"].headers, json=x) for x in (hidden, missing)]
    assert [a.status_code for a in answers] == [403, 403]
    details = [a.json()["detail"].split(" about ")[0] for a in answers]
    assert details[0] == details[1] == "this node relays no answer", details  # hidden or missing: the same words
    with unit_of_work(session_factory, write=False) as s:
        assert s.scalars(select(Answer.id)).all() == [kept["key"]]
