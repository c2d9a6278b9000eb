"""The pieces of federation that need no second node: what is pushed to whom (the access layer), cursors, envelope
sizes, `peer add` checks, key refresh after a rotation, and `cybercrisis node`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from cybercrisis.errors import Conflict, InvalidInput, NotFound
from cybercrisis.exchange import federation_cursors, federation_push, importer, peer_client, peers, taxii
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import Peer, StixObject
from tests.conftest import TEST_SECRET_KEY, Actor, World, count
from tests.exchange.test_stix_import import indicator, principal


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("NCSC-NL", country="NL", communities=("csirts-network",))
    return {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund"), "nl": world.user("NCSC-NL")}


def _import(factory: sessionmaker[Session], actor: Actor, objs: list[dict[str, Any]], **kw: Any) -> None:
    who = principal(factory, actor)
    with unit_of_work(factory) as s:
        result = importer.ingest(s, actor=who, objects=objs, origin="test", **kw)
        assert not result.rejected, result.rejected


def _mark(tlp: TLP) -> list[str]:
    return [STIX_MARKING_IDS[tlp]]


# --- what is pushed ----------------------------------------------------------------------------------------------


def test_push_selects_what_the_peer_organisation_may_read_never_red_and_only_this_nodes_own(
    session_factory: sessionmaker[Session], cast: dict[str, Actor], tmp_path: Path
) -> None:
    fr, de, nl = cast["fr"], cast["de"], cast["nl"]
    green = indicator(marks=_mark(TLP.GREEN))
    for_nl = indicator(marks=_mark(TLP.AMBER))
    for_de = indicator(marks=_mark(TLP.AMBER))
    strict_de = indicator(marks=_mark(TLP.AMBER_STRICT))
    strict_nl = indicator(marks=_mark(TLP.AMBER_STRICT))
    red = indicator(marks=_mark(TLP.RED))
    from_peer = indicator(marks=_mark(TLP.GREEN))
    from_third = indicator(marks=_mark(TLP.GREEN))  # another node's: a node speaks only for its own objects
    _import(session_factory, fr, [green, from_peer, from_third])
    _import(session_factory, fr, [for_nl, strict_nl], share_with=ShareWith(organisations=[nl.org_id]))
    _import(session_factory, fr, [for_de, strict_de], share_with=ShareWith(organisations=[de.org_id]))
    _import(session_factory, fr, [red], share_with=ShareWith(users=[de.user_id]))  # named: a user, not the node
    with unit_of_work(session_factory) as s:
        s.execute(update(StixObject).where(StixObject.id == from_peer["id"]).values(origin_node="identity--peer-de"))
        s.execute(update(StixObject).where(StixObject.id == from_third["id"]).values(origin_node="identity--third"))

    node = nodes.load(tmp_path / "node-fr")
    with unit_of_work(session_factory, write=False) as s:
        who = federation_push.peer_principal(s, node_id="identity--peer-de", organisation_id=de.org_id)
        here = federation_push.local_collections(s)
        community = here[taxii.collection_id("community", "csirts-network")]
        own = here[taxii.collection_id("organisation", de.org_id)]

        def pushed(collection: taxii.Collection) -> set[str]:
            where = federation_push.push_filter(who, collection, peer_node="identity--peer-de")
            return {oid for _, oid, _ in federation_push.outgoing(s, where=where, after=0, node=node, limit=500)}

        assert pushed(community) == {green["id"]}
        assert pushed(own) == {for_de["id"], strict_de["id"]}
        out = federation_push.outgoing(
            s, where=federation_push.push_filter(who, own, peer_node="identity--peer-de"), after=0, node=node, limit=500
        )
    by_id = {oid: obj for _, oid, obj in out}
    sent = by_id[strict_de["id"]]
    assert sent[nodes.SHARES] == [{"kind": "organisation", "target": de.org_id}]
    # signed on the fly when the signer job has not reached it: it verifies with this node's key
    assert nodes.verify(sent, sent[nodes.ORIGIN], {node.id: node.public_keys()}) is None
    assert sent[nodes.ORIGIN]["owner"] == fr.org_id


def test_a_peer_without_an_organisation_here_is_sent_nothing(
    session_factory: sessionmaker[Session], cast: dict[str, Actor]
) -> None:
    _import(session_factory, cast["fr"], [indicator(marks=_mark(TLP.CLEAR))])
    with unit_of_work(session_factory, write=False) as s:
        who = federation_push.peer_principal(s, node_id="identity--x", organisation_id=None)
        collection = federation_push.local_collections(s)[taxii.collection_id("organisation", cast["fr"].org_id)]
        where = federation_push.push_filter(who, collection, peer_node="identity--peer-de")
        assert s.scalars(select(StixObject.id).where(where)).all() == []


# --- cursors and envelopes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "discovery"),
    [
        ("http://node.example:8000", "http://node.example:8000/taxii2/"),
        ("https://node.example/", "https://node.example/taxii2/"),
        ("https://node.example/taxii2", "https://node.example/taxii2/"),
        ("https://node.example/custom/discovery/", "https://node.example/custom/discovery/"),
    ],
)
def test_a_node_address_means_its_taxii_discovery_and_a_discovery_url_is_kept(given: str, discovery: str) -> None:
    assert peer_client.normalise_url(given) == discovery


@pytest.mark.parametrize(
    "given",
    ["https://node.example/taxii2/?x=1", "http://node.example:8000#top", "https://op:secret@node.example/taxii2/"],
)
def test_a_discovery_url_with_a_query_fragment_or_credentials_is_refused_naming_the_url(given: str) -> None:
    with pytest.raises(InvalidInput, match="query, a fragment or credentials") as refused:
        peer_client.normalise_url(given)
    assert refused.value.errors[0]["field"] == "url"


def test_a_peer_is_found_by_the_node_address_it_was_added_with(
    session_factory: sessionmaker[Session], cast: dict[str, Actor], tmp_path: Path
) -> None:
    probe = _probe(nodes.load(tmp_path / "other"), organisation=cast["de"].org_id)
    with unit_of_work(session_factory) as s:
        peer_id = _add(s, probe).id
    address = probe.discovery.url.removesuffix("/taxii2/")  # what an operator types; the discovery is stored
    with unit_of_work(session_factory, write=False) as s:
        assert peers.get(s, probe.discovery.url).id == peer_id
        with pytest.raises(NotFound):
            peers.get(s, address)  # a path under the host: not a node address, and not what is stored
    with unit_of_work(session_factory) as s:
        stored = s.get(Peer, peer_id)
        assert stored is not None
        stored.url = "http://127.0.0.1:9/taxii2/"
    with unit_of_work(session_factory, write=False) as s:
        assert peers.get(s, "http://127.0.0.1:9").id == peer_id
        assert peers.get(s, "http://127.0.0.1:9/").id == peer_id


def test_an_unfinished_pull_resumes_just_before_its_position_and_a_finished_one_after_it() -> None:
    assert federation_cursors.pull_after(None, True) is None
    assert federation_cursors.pull_after("2026-11-28T09:00:00.000000Z", True) == "2026-11-28T09:00:00.000000Z"
    assert federation_cursors.pull_after("2026-11-28T09:00:00.000000Z", False) == "2026-11-28T08:59:59.999999Z"
    assert federation_cursors.pull_after("not a time", False) is None  # read again from the start: harmless


def test_envelopes_stay_under_the_size_limit_and_an_object_too_big_is_reported() -> None:
    batch = [(i + 1, f"indicator--{i}", {"id": f"indicator--{i}", "pad": "x" * 100}) for i in range(10)]
    batch.insert(5, (100, "indicator--big", {"id": "indicator--big", "pad": "x" * 5000}))
    out = list(federation_push.envelopes(batch, max_bytes=500))
    assert sum(len(env) for env, _, _ in out) == 10
    assert [b for _, _, big in out for b in big] == ["indicator--big"]
    assert all(len(json.dumps({"objects": env}).encode()) <= 500 for env, _, _ in out)
    assert out[-1][1] == 10  # the cursor goes to the last seq of the batch
    lasts = [last for _, last, _ in out]
    assert lasts == sorted(lasts)


# --- peer add, keys ----------------------------------------------------------------------------------------------


def _probe(node: nodes.Node, *, organisation: str | None, collections: tuple[str, ...] = ()) -> peer_client.Probe:
    url = f"http://127.0.0.1:9/{uuid.uuid4().hex[:6]}/taxii2/"
    d = peer_client.Discovery(
        url=url,
        title="node",
        api_root=url + "cybercrisis/",
        node_id=node.id,
        name="node",
        organisation=organisation,
        keys=[dict(k) for k in node.keys],
    )
    return peer_client.Probe(d, {c: peer_client.RemoteCollection(c, c, True, True) for c in collections})


def _add(s: Session, probe: peer_client.Probe, **over: Any) -> Peer:
    args: dict[str, Any] = {
        "actor": None,
        "local_node": "identity--local",
        "probe": probe,
        "token": "t",
        "username": None,
        "direction": "both",
        "collections": [],
        "timeout": 5.0,
        "settings": Settings(secret_key=TEST_SECRET_KEY),
    }
    args.update(over)
    return peers.add(s, **args)


def test_peer_add_pins_keys_and_refuses_bad_settings_writing_nothing(
    session_factory: sessionmaker[Session], cast: dict[str, Actor], tmp_path: Path, db: Session
) -> None:
    other = nodes.load(tmp_path / "other")
    probe = _probe(other, organisation=cast["de"].org_id, collections=("c1",))
    refusals = [
        ({"direction": "sideways"}, "direction"),
        ({"timeout": 0}, "timeout"),
        ({"local_node": other.id}, "this node itself"),
        ({"fingerprint": "0000000000000000"}, "current key is"),
        ({"collections": ["nope"]}, "collection nope"),
    ]
    for over, message in refusals:
        with pytest.raises(InvalidInput, match=message), unit_of_work(session_factory) as s:
            _add(s, probe, **over)
    with pytest.raises(InvalidInput, match="cannot push"), unit_of_work(session_factory) as s:
        _add(s, _probe(other, organisation="identity--unknown"))
    assert count(db, Peer) == 0

    with unit_of_work(session_factory) as s:
        peer = _add(s, probe, fingerprint=other.key_id.upper(), collections=["c1"])
        assert ([k["id"] for k in peer.keys], peer.organisation_id) == ([other.key_id], cast["de"].org_id)
    with pytest.raises(Conflict), unit_of_work(session_factory) as s:
        _add(s, probe)
    with unit_of_work(session_factory) as s:  # pull-only: an organisation unknown here is fine (nothing is pushed)
        _add(s, _probe(nodes.load(tmp_path / "third"), organisation="identity--unknown"), direction="pull")
    assert count(db, AuditEvent, AuditEvent.tag == "exchange:peer:add") == 2


def test_a_rotated_key_is_accepted_when_endorsed_and_a_foreign_one_is_not(
    session_factory: sessionmaker[Session], cast: dict[str, Actor], tmp_path: Path
) -> None:
    other = nodes.load(tmp_path / "other")
    with unit_of_work(session_factory) as s:
        peer_id = _add(s, _probe(other, organisation=cast["de"].org_id)).id
    rotated = nodes.rotate(tmp_path / "other")
    stranger = nodes.load(tmp_path / "stranger").keys[0]
    forged = {**stranger, "endorsed_by": other.keys[0]["id"], "endorsement": rotated.keys[-1]["endorsement"]}
    published = [*rotated.keys, forged]
    d = peer_client.Discovery(
        url="u",
        title="t",
        api_root="r",
        node_id=other.id,
        name="n",
        organisation=None,
        keys=published,
        relayed={"identity--third": {"k": "v"}},
    )
    with unit_of_work(session_factory) as s:
        added = peers.refresh_keys(s, peer_id=peer_id, discovery=d, local_node="identity--local")
        assert added == [rotated.key_id]
        peer = s.get_one(Peer, peer_id)
        assert [k["id"] for k in peer.keys] == [other.key_id, rotated.key_id]
        assert peers.ignored_keys(peer, d) == [stranger["id"]]
        assert peer.relayed_keys == {"identity--third": {"k": "v"}}
        ring = nodes.key_ring(s, nodes.load(tmp_path / "local"))
    # what the new key signs verifies here
    obj = indicator()
    block = rotated.sign(obj, cast["de"].org_id, tlp="amber", shares=[], share_key=obj["id"])
    assert nodes.verify({**obj, nodes.ORIGIN: block}, block, ring) is None
    with unit_of_work(session_factory) as s:
        assert peers.refresh_keys(s, peer_id=peer_id, discovery=d, local_node="identity--local") == []


# --- cybercrisis node ----------------------------------------------------------------------------------------


def test_node_show_and_rotate_key(run: Any, db: Session) -> None:
    shown = run("node", "show").stdout
    node_id = shown.split()[1]
    first = next(line.split()[1] for line in shown.splitlines() if line.startswith("key "))
    out = run("node", "rotate-key").stdout
    assert f"endorsed by {first}" in out
    after = run("node", "show").stdout
    assert after.split()[1] == node_id
    assert f"key {first}" in after and "retired" in after and after.count("current") == 1
    assert count(db, AuditEvent, AuditEvent.tag == "exchange:node:rotate") == 1
    assert "no peers" in run("peer", "list").stdout
    assert "no peers" in run("peer", "status").stdout
    missing = run("peer", "remove", "peer--nope", ok=False)
    assert missing.returncode == 1 and "no peer peer--nope" in missing.stderr
