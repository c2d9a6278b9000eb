"""Federation trust (issue 12, findings 4 and 5): the origin signs the share list with the object, a version arrives
only from the node that originated it, an import never replaces another holder's object, and an observable gets
the same import answer whether or not a hidden incident holds its value. One node, objects of "peer" nodes signed
with keys made in the test: no second server."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.access.policy import read_filter
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import federation, importer, taxii
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import Peer, StixObject
from cybercrisis.exchange.signer import sign_pending
from tests.conftest import Actor, World, count
from tests.exchange.test_stix_export import export, post_incident
from tests.exchange.test_stix_import import bundle, indicator, principal
from tests.exchange.test_stix_import import post as import_stix

COMMUNITY = "csirts-network"
TAXII = {"Accept": "application/taxii+json;version=2.1", "Content-Type": "application/taxii+json;version=2.1"}
IP = "198.51.100.7"


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=(COMMUNITY,))
    world.org("CERT-Bund", country="DE", communities=(COMMUNITY,))
    world.org("NCSC-NL", country="NL", communities=(COMMUNITY,))
    world.org("Outsider", country="IT")
    return {
        "fr": world.user("CERT-FR"),
        "fr2": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "nl": world.user("NCSC-NL"),
        "out": world.user("Outsider"),
    }


def peer_node(tmp_path: Path, name: str) -> nodes.Node:
    return nodes.load(tmp_path / name)


def add_peer(factory: sessionmaker[Session], node: nodes.Node, organisation: str | None, **over: Any) -> str:
    """`node` as a pinned peer of this node, run by `organisation` (as `peer add` stores it)."""
    keys = [
        {"id": k["id"], "public_key": k["public_key"], "created": k["created"], "endorsed_by": None} for k in node.keys
    ]
    peer_id = f"peer--{uuid.uuid4()}"
    row = {
        "id": peer_id,
        "url": f"http://{node.id}.example/taxii2/",
        "api_root": f"http://{node.id}.example/taxii2/r/",
        "title": "peer",
        "node_id": node.id,
        "organisation_id": organisation,
        "token": "t",
        "direction": "pull",
        "collections": [],
        "keys": keys,
        "relayed_keys": {},
        "timeout_seconds": 1.0,
    }
    with unit_of_work(factory) as s:
        s.add(Peer(**(row | over)))
    return peer_id


def sent(node: nodes.Node, obj: dict[str, Any], owner: str, shares: list[dict[str, str]], tlp: str) -> dict[str, Any]:
    """`obj` as `node` sends it: signed with the share list it travels with."""
    out = dict(obj, **{nodes.SHARES: shares})
    out[nodes.ORIGIN] = node.sign(obj, owner, tlp=tlp, shares=shares, share_key=obj["id"])
    return out


def to_org(org: str) -> dict[str, str]:
    return {"kind": "organisation", "target": org}


def taxii_post(client: TestClient, actor: Actor, objects: list[Any], cid: str) -> dict[str, Any]:
    r = client.post(
        f"/taxii2/cybercrisis/collections/{cid}/objects/",
        content=json.dumps({"objects": objects}),
        headers={**actor.headers, **TAXII},
    )
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def taxii_get(client: TestClient, actor: Actor, path: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/taxii2/cybercrisis/collections/{path}", params=params, headers={**actor.headers, **TAXII})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def org_collection(actor: Actor) -> str:
    return taxii.collection_id("organisation", actor.org_id)


def readable_ids(factory: sessionmaker[Session], db: Session, actor: Actor) -> set[str]:
    who = principal(factory, actor)
    db.rollback()
    return set(db.scalars(select(StixObject.id).where(read_filter(who, StixObject))))


# --- finding 4: the share list is signed, and only the origin node speaks for its objects -------------------------


def test_a_recipient_cannot_widen_a_peers_amber_strict_object_by_posting_it_with_its_own_share_list(
    client: TestClient, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor], tmp_path: Path
) -> None:
    fr, de, nl = cast["fr"], cast["de"], cast["nl"]
    node2 = peer_node(tmp_path, "node2")  # CERT-FR's node, which this node pulls from
    add_peer(session_factory, node2, fr.org_id)
    strict = indicator(marks=[STIX_MARKING_IDS[TLP.AMBER_STRICT]])
    as_read = sent(node2, strict, fr.org_id, [to_org(de.org_id)], "amber+strict")  # what CERT-Bund read on node 2
    widened = dict(as_read, **{nodes.SHARES: [to_org(de.org_id), to_org(nl.org_id)]})

    for who, obj in (("de", widened), ("de", as_read), ("fr", widened)):
        status = taxii_post(client, cast[who], [obj], org_collection(cast[who]))
        assert (status["success_count"], status["failure_count"]) == (0, 1), (who, status)
    messages = [f["message"] for f in status["failures"]]
    assert "does not verify" in messages[0] and "share list" in messages[0]
    assert count(db, StixObject) == 0
    assert strict["id"] not in readable_ids(session_factory, db, nl)

    # Posted as signed by a user of the organisation that runs node 2 (its push), it is stored as signed: CERT-Bund
    # reads it, NCSC-NL does not, and what this node serves is the list node 2 signed.
    status = taxii_post(client, fr, [as_read], org_collection(fr))
    assert status["success_count"] == 1, status
    assert strict["id"] in readable_ids(session_factory, db, de)
    assert strict["id"] not in readable_ids(session_factory, db, nl)
    [served] = taxii_get(client, de, f"{org_collection(de)}/objects/")["objects"]
    assert served[nodes.SHARES] == [to_org(de.org_id)] and served[nodes.ORIGIN]["node"] == node2.id
    assert nodes.verify(served, served[nodes.ORIGIN], {node2.id: node2.public_keys()}) is None


def test_a_signed_object_posted_by_a_user_who_is_not_of_the_origin_nodes_organisation_is_refused(
    client: TestClient, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor], tmp_path: Path
) -> None:
    fr, de = cast["fr"], cast["de"]
    node2, node3 = peer_node(tmp_path, "node2"), peer_node(tmp_path, "node3")
    add_peer(session_factory, node2, fr.org_id)
    add_peer(session_factory, node3, None)  # pull only: it names no organisation, so nobody pushes for it
    green = indicator(marks=[STIX_MARKING_IDS[TLP.GREEN]])
    objects = [
        sent(node2, green, fr.org_id, [{"kind": "community", "target": COMMUNITY}], "green"),
        sent(node3, indicator(), fr.org_id, [], "amber"),
    ]
    status = taxii_post(client, de, objects, taxii.collection_id("community", COMMUNITY))
    assert status["success_count"] == 0
    assert [f["message"] for f in status["failures"]] == [
        f"objects signed by node {node2.id} arrive only from that node, or through a relay it was pinned with "
        f"(node pin); this came from a user of organisation {de.org_id}",
        f"objects signed by node {node3.id} arrive only from that node, or through a relay it was pinned with "
        f"(node pin); this came from a user of organisation {de.org_id}",
    ]
    status = taxii_post(client, fr, objects, taxii.collection_id("community", COMMUNITY))
    assert status["success_count"] == 1 and node3.id in status["failures"][0]["message"]
    db.rollback()
    assert db.scalars(select(StixObject.id)).all() == [green["id"]]


def test_a_relayed_object_in_a_pulled_page_is_rejected_naming_its_origin(
    session_factory: sessionmaker[Session], settings: Settings, db: Session, cast: dict[str, Actor], tmp_path: Path
) -> None:
    fr, de = cast["fr"], cast["de"]
    node2, node3 = peer_node(tmp_path, "node2"), peer_node(tmp_path, "node3")
    # Node 2 also vouches for node 3's keys (its discovery lists them): that makes node 3 known, not a sender.
    peer_id = add_peer(session_factory, node2, fr.org_id, relayed_keys={node3.id: node3.public_keys()})
    add_peer(session_factory, node3, de.org_id)
    own = sent(node2, indicator(), fr.org_id, [to_org(de.org_id)], "amber")
    relayed = sent(node3, indicator(), de.org_id, [to_org(fr.org_id)], "amber")
    with unit_of_work(session_factory) as s:
        cfg = federation._PeerConfig.of(s.get_one(Peer, peer_id))
    job = federation._Round(session_factory, settings, cfg, 100)
    try:
        with unit_of_work(session_factory) as s:
            job.ring = nodes.key_ring(s, job.node)
        job._store_page(org_collection(de), [own, relayed], "2026-12-07T00:00:00.000000Z", complete=True)
    finally:
        job.conn.close()
    assert (job.result.pulled, job.result.rejected) == (1, 1)
    assert job.result.rejections == [
        f"{relayed['id']}: objects signed by node {node3.id} arrive only from that node, or through a relay it was "
        f"pinned with (node pin); this came relayed by the peer node {node2.id}"
    ]
    db.rollback()
    assert db.scalars(select(StixObject.id)).all() == [own["id"]]


def test_an_object_signed_before_share_lists_were_signed_is_refused_until_its_origin_upgrades(
    session_factory: sessionmaker[Session], settings: Settings, db: Session, cast: dict[str, Actor], tmp_path: Path
) -> None:
    node2 = peer_node(tmp_path, "node2")
    add_peer(session_factory, node2, cast["fr"].org_id)
    obj = indicator()
    block = {"node": node2.id, "key": node2.key_id, "owner": cast["fr"].org_id, "tlp": "amber"}
    block["signature"] = nodes._b64(node2.private.sign(rfc8785.dumps({**obj, nodes.ORIGIN: dict(block)})))
    old = {**obj, nodes.ORIGIN: block, nodes.SHARES: [to_org(cast["nl"].org_id)]}
    with unit_of_work(session_factory) as s:
        me = nodes.load(settings.data_dir)
        result = importer.receive(
            s,
            objects=[old],
            ring=nodes.key_ring(s, me),
            local_node=me.id,
            actor=None,
            origin="peer:test",
            senders={node2.id},
            via="in the test",
        )
    assert [r.reason for r in result.rejected] == [
        f"signed by node {node2.id} without its share list: the origin node must upgrade"
    ]
    assert count(db, StixObject) == 0


def test_a_peers_copy_follows_the_share_list_its_origin_signs_last(
    session_factory: sessionmaker[Session], settings: Settings, db: Session, cast: dict[str, Actor], tmp_path: Path
) -> None:
    fr, de, nl = cast["fr"], cast["de"], cast["nl"]
    node2 = peer_node(tmp_path, "node2")
    add_peer(session_factory, node2, fr.org_id)
    obj = indicator(marks=[STIX_MARKING_IDS[TLP.AMBER]])

    def pull(shares: list[dict[str, str]]) -> importer.ImportResult:
        with unit_of_work(session_factory) as s:
            me = nodes.load(settings.data_dir)
            return importer.receive(
                s,
                objects=[sent(node2, obj, fr.org_id, shares, "amber")],
                ring=nodes.key_ring(s, me),
                local_node=me.id,
                actor=None,
                origin="peer:test",
                senders={node2.id},
                via="in the test",
            )

    assert pull([to_org(de.org_id)]).imported == 1
    assert obj["id"] in readable_ids(session_factory, db, de)
    # Node 2 re-serves the version with another list (its owner narrowed and widened it): this copy follows it.
    again = pull([to_org(nl.org_id)])
    assert (again.imported, again.updated, again.unchanged, again.rejected) == (0, 1, 0, [])
    assert obj["id"] not in readable_ids(session_factory, db, de)
    assert obj["id"] in readable_ids(session_factory, db, nl)
    assert pull([to_org(nl.org_id)]).unchanged == 1
    [row] = db.scalars(select(StixObject)).all()
    assert row.shares == [to_org(nl.org_id)] and row.signature is not None
    assert nodes.verify({**row.data, nodes.SHARES: row.shares}, row.signature, {node2.id: node2.public_keys()}) is None


# --- an import never replaces another holder's object ------------------------------------------------------------


def test_a_newer_version_of_an_incident_posted_by_anyone_but_the_platform_is_refused_and_nothing_is_signed_as_its_owner(
    client: TestClient,
    session_factory: sessionmaker[Session],
    settings: Settings,
    db: Session,
    cast: dict[str, Actor],
    tmp_path: Path,
) -> None:
    fr, de = cast["fr"], cast["de"]
    inc = post_incident(client, fr, share_with={"organisations": [de.org_id]})
    sdo = next(o for o in export(client, fr, f"incidents/{inc['id']}")["objects"] if o["type"] == "incident")
    forged = copy.deepcopy(sdo) | {
        "modified": "2030-01-01T00:00:00.000Z",
        "name": "All clear",
        "object_marking_refs": [STIX_MARKING_IDS[TLP.CLEAR]],
    }
    published = count(db, StixObject, StixObject.id == inc["id"])

    for who in ("de", "fr2", "fr"):  # another organisation, a colleague, the author: none through import
        out = import_stix(client, cast[who], bundle(forged))
        assert out["imported"] == 0 and len(out["rejected"]) == 1, (who, out)
        status = taxii_post(client, cast[who], [forged], org_collection(cast[who]))
        assert status["failure_count"] == 1, (who, status)
    for who in ("de", "fr"):  # both may read the incident: they are told why
        reason = import_stix(client, cast[who], bundle(forged))["rejected"][0]["reason"]
        assert reason == f"{inc['id']} is one of this node's own objects: change it through the platform"

    # Another node cannot replace it either, even claiming its owner.
    node3 = peer_node(tmp_path, "node3")
    add_peer(session_factory, node3, de.org_id)
    status = taxii_post(client, de, [sent(node3, forged, fr.org_id, [], "clear")], org_collection(de))
    assert (
        status["failure_count"] == 1
        and "held on this node by another organisation or node" in (status["failures"][0]["message"])
    )

    db.rollback()
    rows = list(db.scalars(select(StixObject).where(StixObject.id == inc["id"])))
    assert len(rows) == published and all(r.origin == f"local:{inc['id']}" for r in rows)
    assert [r.data["name"] for r in rows if r.latest] == [inc["title"]]
    sign_pending(session_factory, settings)
    db.rollback()
    assert all(
        r.signature and r.signature["owner"] == fr.org_id and r.data["name"] == inc["title"]
        for r in db.scalars(select(StixObject).where(StixObject.id == inc["id"]))
    )
    # Re-importing the export itself changes nothing.
    exported = export(client, fr, f"incidents/{inc['id']}")
    again = import_stix(client, fr, exported)
    assert again["rejected"] == [] and again["imported"] + again["unchanged"] == len(exported["objects"])
    assert import_stix(client, fr, exported)["imported"] == 0


def test_a_colleague_cannot_add_a_version_to_a_copy_they_may_not_read(
    client: TestClient, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    v1 = indicator(marks=[STIX_MARKING_IDS[TLP.RED]])
    import_stix(client, cast["fr"], bundle(v1))  # RED: its importer alone reads it
    v2 = v1 | {"modified": "2026-11-28T10:00:00.000Z", "object_marking_refs": [STIX_MARKING_IDS[TLP.AMBER]]}
    out = import_stix(client, cast["fr2"], bundle(v2))
    assert out["imported"] == 0
    assert out["rejected"][0]["reason"] == (
        f"id {v1['id']} is already held on this node; only its holder imports new versions of it"
    )
    assert v1["id"] not in readable_ids(session_factory, db, cast["fr2"])
    assert count(db, Share, Share.object_id == v1["id"], Share.target == cast["fr2"].user_id) == 0


# --- finding 5: an observable's import says nothing about hidden incidents ---------------------------------------


def ipv4(value: str) -> dict[str, Any]:
    from stix2 import IPv4Address  # type: ignore[import-untyped]

    return json.loads(IPv4Address(value=value).serialize())  # type: ignore[no-any-return]


def test_importing_an_observable_gives_the_same_answer_whether_or_not_a_hidden_red_incident_holds_it(
    client: TestClient, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    fr, fr2, de = cast["fr"], cast["fr2"], cast["de"]
    red = post_incident(
        client, fr, tlp="red", observables=[{"type": "ipv4-addr", "value": IP}], share_with={"organisations": []}
    )
    held, fresh = ipv4(IP), ipv4("203.0.113.9")
    red_copy = db.scalars(select(StixObject).where(StixObject.id == held["id"])).one()
    assert red_copy.share_id == red["id"] and red_copy.tlp == "red"

    for who in (de, fr2):  # another organisation; a colleague who is not named on the RED incident
        answers = [import_stix(client, who, bundle(o)) for o in (held, fresh)]
        assert answers[0] == answers[1] == {"imported": 1, "unchanged": 0, "custom": 0, "rejected": []}, who
        status = [taxii_post(client, who, [o], org_collection(who)) for o in (ipv4("192.0.2.50"), held)]
        assert [(s["success_count"], s["failure_count"]) for s in status] == [(1, 0), (1, 0)]
        # The importer reads back its own copy; the RED incident's copy stays hidden.
        r = client.get(f"/api/v1/stix-objects/{held['id']}", headers=who.headers)
        assert r.status_code == 200, r.text
        [version] = r.json()["versions"]
        assert version["owner"] == who.org_id and version["origin"].startswith("api:") and version["tlp"] == "amber"
    db.rollback()
    copies_of = {r.share_id: r for r in db.scalars(select(StixObject).where(StixObject.id == held["id"]))}
    assert len(copies_of) == 3  # the incident's, CERT-Bund's, CERT-FR's import
    for who in (de, fr2):
        rows = db.scalars(
            select(StixObject.share_id).where(
                StixObject.id == held["id"], read_filter(principal(session_factory, who), StixObject)
            )
        ).all()
        assert red["id"] not in rows
    assert client.get(f"/api/v1/stix-objects/{held['id']}", headers=cast["out"].headers).status_code == 404
    # Importing it again changes nothing; the holder deletes its own copy only.
    assert import_stix(client, de, bundle(held))["unchanged"] == 1
    r = client.delete(
        f"/taxii2/cybercrisis/collections/{org_collection(de)}/objects/{held['id']}/", headers={**de.headers, **TAXII}
    )
    assert r.status_code == 200, r.text
    db.rollback()
    assert {r.owner_org_id for r in db.scalars(select(StixObject).where(StixObject.id == held["id"]))} == {fr.org_id}


def test_a_reader_of_several_copies_gets_each_version_once_in_every_answer(
    client: TestClient, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    fr, de, nl = cast["fr"], cast["de"], cast["nl"]
    observable = [{"type": "ipv4-addr", "value": IP}]
    post_incident(client, fr, tlp="green", observables=observable, share_with={"communities": [COMMUNITY]})
    post_incident(client, fr, tlp="amber", observables=observable, share_with={"organisations": [nl.org_id]})
    held = ipv4(IP)
    assert import_stix(client, de, bundle(held), tlp="green", community=COMMUNITY)["imported"] == 1
    db.rollback()
    assert count(db, StixObject, StixObject.id == held["id"]) == 3

    community = taxii.collection_id("community", COMMUNITY)
    for who, cid in ((nl, community), (nl, org_collection(nl)), (fr, org_collection(fr)), (de, community)):
        for params in ({}, {"match[version]": "all"}, {"match[version]": "first"}, {"match[id]": held["id"]}):
            ids = [o["id"] for o in taxii_get(client, who, f"{cid}/objects/", **params).get("objects", [])]
            assert ids.count(held["id"]) == 1, (who.email, cid, params)
            manifest = taxii_get(client, who, f"{cid}/manifest/", **params).get("objects", [])
            assert [m["id"] for m in manifest].count(held["id"]) == 1
        assert len(taxii_get(client, who, f"{cid}/objects/{held['id']}/")["objects"]) == 1
        assert len(taxii_get(client, who, f"{cid}/objects/{held['id']}/versions/")["versions"]) == 1
    for who in (fr, de, nl):
        r = client.get("/api/v1/stix-objects", headers=who.headers, params={"type": "ipv4-addr"})
        assert [o["id"] for o in r.json()["items"]] == [held["id"]]
        assert len(client.get(f"/api/v1/stix-objects/{held['id']}", headers=who.headers).json()["versions"]) == 1


# --- share changes travel, signed -----------------------------------------------------------------------------------


def test_a_share_change_re_serves_the_versions_with_the_new_list_signed(
    client: TestClient,
    session_factory: sessionmaker[Session],
    settings: Settings,
    db: Session,
    cast: dict[str, Actor],
) -> None:
    fr, nl = cast["fr"], cast["nl"]
    inc = post_incident(
        client,
        fr,
        tlp="amber",
        observables=[{"type": "ipv4-addr", "value": IP}],
        share_with={"organisations": [cast["de"].org_id]},
    )
    sign_pending(session_factory, settings)
    before = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    community = taxii.collection_id("community", COMMUNITY)
    assert taxii_get(client, nl, f"{community}/objects/", added_after=before) == {"more": False}

    r = client.post(f"/api/v1/incidents/{inc['id']}/escalate", headers=fr.headers, json={"community": COMMUNITY})
    assert r.status_code == 200, r.text
    # Every object of the incident joined the community's collection: readers asking for what was added since get
    # them, each with the new list, signed by this node.
    got = taxii_get(client, nl, f"{community}/objects/", added_after=before, **{"match[version]": "all"})["objects"]
    db.rollback()
    derived = set(db.scalars(select(StixObject.id).where(StixObject.share_id == inc["id"])))
    assert {o["id"] for o in got} == derived and IP in {o.get("value") for o in got}
    me = nodes.load(settings.data_dir)
    expected = [{"kind": "community", "target": COMMUNITY}, to_org(cast["de"].org_id)]
    for obj in got:
        assert obj[nodes.SHARES] == expected
        assert nodes.verify(obj, obj[nodes.ORIGIN], {me.id: me.public_keys()}) is None
    assert sign_pending(session_factory, settings) == len(got)
    db.rollback()
    assert {json.dumps(r.shares) for r in db.scalars(select(StixObject))} >= {json.dumps(expected)}


def test_an_import_that_adds_recipients_re_serves_the_earlier_versions_with_the_new_list(
    client: TestClient,
    session_factory: sessionmaker[Session],
    settings: Settings,
    db: Session,
    cast: dict[str, Actor],
) -> None:
    fr, de, nl = cast["fr"], cast["de"], cast["nl"]
    v1 = indicator()
    import_stix(client, fr, bundle(v1), organisation=de.org_id)
    sign_pending(session_factory, settings)
    db.rollback()
    first = db.scalars(select(StixObject)).one()
    assert first.signed and first.shares == [to_org(de.org_id)]
    first_seq = first.seq
    v2 = v1 | {"modified": "2026-11-28T10:00:00.000Z"}
    import_stix(client, fr, bundle(v2), organisation=nl.org_id)  # shares are per copy: v1 now goes to NCSC-NL too
    db.rollback()
    rows = list(db.scalars(select(StixObject).order_by(StixObject.seq)))
    assert [r.data["modified"] for r in rows] == [v1["modified"], v2["modified"]]
    assert rows[0].seq > first_seq and not rows[0].signed and rows[0].latest is False
    assert all(r.shares == sorted([to_org(de.org_id), to_org(nl.org_id)], key=lambda e: e["target"]) for r in rows)
    [served] = taxii_get(client, nl, f"{org_collection(nl)}/objects/", **{"match[version]": "first"})["objects"]
    assert served["modified"] == v1["modified"] and to_org(nl.org_id) in served[nodes.SHARES]


# --- migration 0010 ---------------------------------------------------------------------------------------------


def _migrate(engine: Any, revision: str, *, down: bool = False) -> None:
    from alembic import command

    from cybercrisis import migrate

    cfg = migrate._config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def test_migration_0010_re_signs_our_versions_moves_public_countries_into_their_incident_and_goes_back(
    client: TestClient, session_factory: sessionmaker[Session], engine: Any, db: Session, cast: dict[str, Actor]
) -> None:
    from sqlalchemy import text

    fr, de = cast["fr"], cast["de"]
    inc = post_incident(
        client,
        fr,
        tlp="amber",
        observables=[{"type": "ipv4-addr", "value": IP}],
        share_with={"organisations": [de.org_id]},
    )
    import_stix(client, de, bundle(ipv4(IP)))  # a second copy of the observable
    db.close()
    try:
        _migrate(engine, "0009", down=True)
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM stix_objects WHERE id LIKE 'ipv4-addr--%'")).scalar() == 1
            # As the code before 0010 stored them: countries public under their own id, our versions signed.
            conn.execute(text("UPDATE stix_objects SET share_id = id, tlp = 'clear' WHERE type = 'location'"))
            conn.execute(text("UPDATE stix_objects SET signed = true, signature = '{}'"))
    finally:
        _migrate(engine, "head")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT type, share_id, tlp, signed, signature, shares FROM stix_objects")).all()
    assert {(t, k, tlp) for t, k, tlp, *_ in rows if t == "location"} == {("location", inc["id"], "amber")}
    assert all(not signed and signature is None and shares is None for _, _, _, signed, signature, shares in rows)
