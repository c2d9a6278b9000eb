"""The STIX store's federation groundwork (ADR 0008): our objects published into it at commit, versions and
`latest`, date_added order, signing, and storing objects received from a peer node (signature checks, owner and
share list carried, nothing looping back)."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.models import Share
from cybercrisis.access.policy import read_filter
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import importer, node
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.signer import sign_pending
from tests.conftest import Actor, World, count
from tests.exchange.test_stix_export import post_incident
from tests.exchange.test_stix_import import indicator, principal


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Outsider", country="IT")
    return {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund"), "out": world.user("Outsider")}


def rows(db: Session, *where: Any) -> list[StixObject]:
    db.rollback()  # a fresh snapshot: see what other transactions committed
    return list(db.scalars(select(StixObject).where(*where).order_by(StixObject.seq)))


# --- our objects in the store --------------------------------------------------------------------------------


def test_an_incident_is_published_at_commit_with_its_access_and_a_new_version_on_change(
    client: TestClient, db: Session, cast: dict[str, Actor], session_factory: sessionmaker[Session]
) -> None:
    inc = post_incident(client, cast["fr"], share_with={"organisations": [cast["de"].org_id]})
    published = rows(db, StixObject.origin == f"local:{inc['id']}")
    by_type = {r.type for r in published}
    assert {"incident", "relationship", "location"} <= by_type
    sdo = next(r for r in published if r.id == inc["id"])
    assert (sdo.tlp, sdo.owner_org_id, sdo.share_id, sdo.latest, sdo.origin_node) == (
        "amber",
        cast["fr"].org_id,
        inc["id"],
        True,
        None,
    )
    # Everything derived from the incident follows the incident's share list, countries included: a country is
    # public, but that this incident names it is not.
    assert {r.share_id for r in published} == {inc["id"]}
    assert {r.tlp for r in published} == {"amber"}

    def readable(actor: Actor) -> set[str]:
        who = principal(session_factory, actor)
        return set(db.scalars(select(StixObject.id).where(read_filter(who, StixObject))))

    derived = {r.id for r in published if r.type != "location"}
    assert derived <= readable(cast["de"])
    assert not derived & readable(cast["out"])

    r = client.patch(
        f"/api/v1/incidents/{inc['id']}",
        headers=cast["fr"].headers,
        json={"version": inc["version"], "status": "contained"},
    )
    assert r.status_code == 200, r.text
    versions = rows(db, StixObject.id == inc["id"])
    assert len(versions) == 2 and [v.latest for v in versions] == [False, True]
    assert versions[1].modified > versions[0].modified
    assert versions[1].added_at > versions[0].added_at  # date_added grows between transactions


def test_an_alert_is_published_as_a_report_that_follows_the_alert_share_list(
    client: TestClient, db: Session, cast: dict[str, Actor], session_factory: sessionmaker[Session]
) -> None:
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
    alert = r.json()
    [report] = rows(db, StixObject.origin == f"local:{alert['id']}")
    assert report.type == "report" and report.share_id == alert["id"] and report.tlp == "amber"
    de = principal(session_factory, cast["de"])
    out = principal(session_factory, cast["out"])
    assert db.scalar(select(StixObject.id).where(StixObject.seq == report.seq, read_filter(de, StixObject)))
    assert db.scalar(select(StixObject.id).where(StixObject.seq == report.seq, read_filter(out, StixObject))) is None


# --- versions and latest ------------------------------------------------------------------------------------------


def test_latest_marks_the_newest_version_whatever_order_versions_arrive_in(
    session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    fr = principal(session_factory, cast["fr"])
    oid = f"indicator--{uuid.uuid4()}"
    v1 = indicator(oid=oid, created="2025-01-01T00:00:00.000Z", modified="2026-01-01T00:00:00.000Z")
    v3 = indicator(oid=oid, created="2025-01-01T00:00:00.000Z", modified="2026-03-01T00:00:00.000Z")
    v2 = indicator(oid=oid, created="2025-01-01T00:00:00.000Z", modified="2026-02-01T00:00:00.000Z")
    for objects in ([v1], [v3, v2]):  # v2 arrives after v3, in the same batch
        with unit_of_work(session_factory) as s:
            assert importer.ingest(s, actor=fr, objects=objects, origin="test").imported == len(objects)
    versions = rows(db, StixObject.id == oid)
    assert {v.data["modified"]: v.latest for v in versions} == {
        "2026-01-01T00:00:00.000Z": False,
        "2026-03-01T00:00:00.000Z": True,
        "2026-02-01T00:00:00.000Z": False,
    }
    assert versions[0].added_at < versions[1].added_at == versions[2].added_at


# --- signing and receiving ----------------------------------------------------------------------------------------


@pytest.fixture
def peer_node(tmp_path: Path) -> node.Node:
    return node.load(tmp_path / "peer-node")


def signed(
    peer: node.Node, obj: dict[str, Any], owner: str, shares: list[dict[str, str]] | None = None, tlp: str = "amber"
) -> dict[str, Any]:
    """`obj` as `peer` sends it: with its signature block and the share list it signs."""
    out = dict(obj)
    out[node.SHARES] = shares or []
    out[node.ORIGIN] = peer.sign(obj, owner, tlp=tlp, shares=out[node.SHARES], share_key=obj["id"])
    return out


def ring(settings: Settings, *peers: node.Node) -> dict[str, dict[str, str]]:
    me = node.load(settings.data_dir)
    return {me.id: me.public_keys()} | {p.id: p.public_keys() for p in peers}


def receive(
    session_factory: sessionmaker[Session],
    settings: Settings,
    objects: list[Any],
    *peers: node.Node,
    senders: set[str] | None = None,
) -> Any:
    """Store `objects` as pulled from `peers` (the nodes they may come from, unless `senders` says otherwise)."""
    allowed = {p.id for p in peers} if senders is None else senders
    with unit_of_work(session_factory) as s:
        return importer.receive(
            s,
            objects=objects,
            ring=ring(settings, *peers),
            local_node=node.load(settings.data_dir).id,
            actor=None,
            origin="peer:test",
            senders=allowed,
            via="in the test",
        )


def test_the_signer_signs_this_nodes_versions_and_the_signature_verifies_only_for_the_untouched_object(
    session_factory: sessionmaker[Session], settings: Settings, db: Session, cast: dict[str, Actor]
) -> None:
    fr = principal(session_factory, cast["fr"])
    with unit_of_work(session_factory) as s:
        importer.ingest(s, actor=fr, objects=[indicator() for _ in range(3)], origin="test")
    assert sign_pending(session_factory, settings, batch=2) == 3
    assert sign_pending(session_factory, settings) == 0
    me = node.load(settings.data_dir)
    keyring = {me.id: me.public_keys()}
    for row in rows(db):
        assert row.signed and row.signature is not None and row.signature["owner"] == cast["fr"].org_id
        assert node.verify(row.data, row.signature, keyring) is None
        tampered = dict(row.data, name="changed")
        assert "does not verify" in (node.verify(tampered, row.signature, keyring) or "")
        other_owner = dict(row.signature, owner=cast["de"].org_id)
        assert "does not verify" in (node.verify(row.data, other_owner, keyring) or "")
        wider = dict(row.signature, tlp="clear")  # the TLP is signed too: no relay can widen it
        assert row.signature["tlp"] == "amber"
        assert "does not verify" in (node.verify(row.data, wider, keyring) or "")


def test_received_objects_keep_owner_and_recipients_and_bad_ones_are_rejected_with_the_reason(
    session_factory: sessionmaker[Session],
    settings: Settings,
    db: Session,
    cast: dict[str, Actor],
    peer_node: node.Node,
    tmp_path: Path,
) -> None:
    fr, de = cast["fr"].org_id, cast["de"].org_id
    green = indicator(marks=[STIX_MARKING_IDS[TLP.GREEN]])
    amber = indicator(marks=[STIX_MARKING_IDS[TLP.AMBER]])
    red = indicator(marks=[STIX_MARKING_IDS[TLP.RED]])
    tampered = signed(peer_node, indicator(), fr)
    tampered["name"] = "changed in transit"
    stranger = node.load(tmp_path / "stranger")
    unknown_owner = signed(peer_node, indicator(), f"identity--{uuid.uuid4()}")
    # Unmarked, imported GREEN on its origin node: it stays GREEN here, because the TLP travels signed.
    unmarked = indicator()
    objects = [
        signed(
            peer_node,
            green,
            fr,
            [{"kind": "community", "target": "csirts-network"}, {"kind": "community", "target": "no-such-community"}],
            tlp="green",
        ),
        signed(peer_node, amber, fr, [{"kind": "organisation", "target": de}]),
        # RED: recipients dropped, not refused
        signed(peer_node, red, fr, [{"kind": "organisation", "target": de}], tlp="red"),
        tampered,
        indicator(),  # unsigned
        signed(stranger, indicator(), fr),
        unknown_owner,
        signed(peer_node, unmarked, fr, [{"kind": "community", "target": "csirts-network"}], tlp="green"),
        signed(peer_node, indicator(), fr, tlp="purple"),
    ]
    result = receive(session_factory, settings, objects, peer_node, senders={peer_node.id, stranger.id})
    assert result.imported == 4
    reasons = {r.index: r.reason for r in result.rejected}
    assert sorted(reasons) == [3, 4, 5, 6, 8]
    assert "does not verify" in reasons[3] and "unsigned" in reasons[4]
    assert "does not know" in reasons[5] and "is not an organisation" in reasons[6]
    assert "not a TLP 2.0 level" in reasons[8]
    stored = {r.id: r for r in rows(db)}
    assert set(stored) == {green["id"], amber["id"], red["id"], unmarked["id"]}
    assert {r.id: r.tlp for r in stored.values()} == {
        green["id"]: "green",
        amber["id"]: "amber",
        red["id"]: "red",
        unmarked["id"]: "green",
    }
    for r in stored.values():
        assert (r.owner_org_id, r.origin_node, r.signed) == (fr, peer_node.id, True)
        sent = next(o for o in (green, amber, red, unmarked) if o["id"] == r.id)
        assert node.ORIGIN not in r.data and r.data == sent
    assert {(s.kind, s.target) for s in db.scalars(select(Share).where(Share.object_id == green["id"]))} == {
        ("community", "csirts-network")
    }
    assert count(db, Share, Share.object_id == amber["id"], Share.target == de) == 1
    assert count(db, Share, Share.object_id == red["id"]) == 0
    # DE reads the GREEN objects and the AMBER one shared with it, as on the origin node; not the RED one.
    de_reader = principal(session_factory, cast["de"])
    visible = set(db.scalars(select(StixObject.id).where(read_filter(de_reader, StixObject))))
    assert visible == {green["id"], amber["id"], unmarked["id"]}
    out_reader = principal(session_factory, cast["out"])
    assert not set(db.scalars(select(StixObject.id).where(read_filter(out_reader, StixObject))))

    again = receive(session_factory, settings, objects[:3], peer_node)
    assert (again.imported, again.unchanged, again.rejected) == (0, 3, [])


def test_our_own_objects_coming_back_from_a_peer_are_never_stored_again(
    session_factory: sessionmaker[Session],
    settings: Settings,
    db: Session,
    cast: dict[str, Actor],
    peer_node: node.Node,
) -> None:
    me = node.load(settings.data_dir)
    ours = indicator()
    back = dict(
        ours,
        **{
            node.ORIGIN: me.sign(ours, cast["fr"].org_id, tlp="amber", shares=[], share_key=ours["id"]),
            node.SHARES: [],
        },
    )
    result = receive(session_factory, settings, [back], peer_node)
    assert (result.imported, result.unchanged, result.rejected) == (0, 1, [])
    assert count(db, StixObject) == 0


def test_a_rotated_key_is_accepted_only_when_endorsed_by_a_pinned_key(tmp_path: Path) -> None:
    a = node.load(tmp_path / "a")
    pinned = a.public_keys()
    rotated = node.rotate(tmp_path / "a")
    assert rotated.key_id != a.key_id and len(rotated.keys) == 2 and rotated.keys[0]["retired"]
    published = rotated.identity(name="a", organisation=None)["keys"]
    assert set(node.endorsed_keys(a.id, pinned, published)) == {a.key_id, rotated.key_id}
    # A key slipped in without a valid endorsement is ignored.
    forged = copy.deepcopy(published)
    forged[1]["endorsement"] = forged[1]["endorsement"][:-4] + "AAA="
    assert set(node.endorsed_keys(a.id, pinned, forged)) == {a.key_id}
    # What the old key signed still verifies; the new key signs from now on.
    obj = indicator()
    ring = {a.id: node.endorsed_keys(a.id, pinned, published)}
    assert node.verify(obj, rotated.sign(obj, "identity--x", tlp="clear", shares=[], share_key=obj["id"]), ring) is None
    assert node.verify(obj, a.sign(obj, "identity--x", tlp="clear", shares=[], share_key=obj["id"]), ring) is None
