"""The TAXII 2.1 server through taxii2-client, unmodified, against a live server: discovery with the node identity,
the API root, collections per user, keyset paging, added_after, every match filter, versions, manifest, POST with
its status, duplicate POSTs, the delete rules, Basic and Bearer authentication, and objects that validate."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stix2validator import ValidationOptions, validate_instance  # type: ignore[import-untyped]
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages  # type: ignore[import-untyped]

from cybercrisis.access.models import Share
from cybercrisis.access.policy import can_read
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work
from cybercrisis.exchange import importer, taxii
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import StixObject, TaxiiStatus
from tests.conftest import Actor, World, count
from tests.exchange.test_stix_import import T0, T1, indicator

COMMUNITY = "csirts-network"
T2 = "2026-11-28T11:00:00.000Z"


class Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


def principal(factory: sessionmaker[Session], actor: Actor) -> Principal:
    with unit_of_work(factory) as s:
        return accounts.principal_for(s, s.get_one(User, actor.user_id))


def ingest(
    factory: sessionmaker[Session],
    actor: Actor,
    objects: Sequence[dict[str, Any]],
    *,
    tlp: str = "green",
    communities: Sequence[str] = (),
    organisations: Sequence[str] = (),
) -> None:
    """Import in one transaction (one date_added), as the actor's organisation."""
    who = principal(factory, actor)
    with unit_of_work(factory) as s:
        result = importer.ingest(
            s,
            actor=who,
            objects=list(objects),
            origin="test",
            default_tlp=tlp,
            share_with=ShareWith(communities=list(communities), organisations=list(organisations)),
        )
    assert result.rejected == []


def root_for(base: str, actor: Actor, *, bearer: bool = False) -> ApiRoot:
    auth = {"auth": Bearer(actor.token)} if bearer else {"user": actor.email, "password": actor.token}
    server = Server(f"{base}/taxii2/", **auth)
    return server.api_roots[0]


def collection(base: str, actor: Actor, cid: str) -> Collection:
    return Collection(f"{base}/taxii2/cybercrisis/collections/{cid}/", user=actor.email, password=actor.token)


def community_id() -> str:
    return taxii.collection_id("community", COMMUNITY)


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=(COMMUNITY,))
    world.org("CERT-Bund", country="DE", communities=(COMMUNITY,))
    world.org("CERT-NL", country="NL", communities=(COMMUNITY,))
    world.org("Outsider", country="IT")
    return {
        "fr": world.user("CERT-FR"),
        "fr2": world.user("CERT-FR"),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
        "de": world.user("CERT-Bund"),
        "nl": world.user("CERT-NL"),
        "out": world.user("Outsider"),
    }


def ids_of(envelope: dict[str, Any]) -> list[str]:
    return [o["id"] for o in envelope.get("objects", [])]


def test_discovery_names_the_node_its_keys_its_organisation_and_the_api_root(
    live_server: str, cast: dict[str, Actor], settings: Any
) -> None:
    fr = cast["fr"]
    server = Server(f"{live_server}/taxii2/", user=fr.email, password=fr.token)
    assert server.title == settings.node_name
    assert server.default.url == f"{live_server}/taxii2/cybercrisis/"
    assert [r.url for r in server.api_roots] == [f"{live_server}/taxii2/cybercrisis/"]
    node = nodes.load(settings.data_dir)
    ident = server.custom_properties["x_cybercrisis_node"]
    assert ident["id"] == node.id and ident["name"] == settings.node_name
    assert {k["id"]: k["public_key"] for k in ident["keys"]} == node.public_keys()
    assert ident["organisation"] is None  # no node_organisation configured
    assert ident["peers"] == {}
    root = server.api_roots[0]
    assert root.versions == ["application/taxii+json;version=2.1"]
    assert root.max_content_length == settings.taxii_max_content_length


def test_discovery_resolves_the_node_organisation_by_short_name(
    serve: Any, settings: Any, cast: dict[str, Actor]
) -> None:
    base = serve(settings.model_copy(update={"node_organisation": "CERT-FR", "node_name": "fr-node"}))
    r = requests.get(f"{base}/taxii2/", auth=(cast["de"].email, cast["de"].token), timeout=10)
    assert r.status_code == 200 and r.headers["content-type"] == taxii.MEDIA_TAXII
    assert r.json()["title"] == "fr-node"
    assert r.json()["x_cybercrisis_node"]["organisation"] == cast["fr"].org_id


def test_each_user_sees_their_organisation_and_community_collections_only(
    live_server: str, cast: dict[str, Actor]
) -> None:
    fr_root = root_for(live_server, cast["fr"])
    seen = {c.id: c for c in fr_root.collections}
    org_id = taxii.collection_id("organisation", cast["fr"].org_id)
    assert set(seen) == {org_id, community_id()}
    assert seen[community_id()].title == "Csirts Network" and seen[community_id()].can_read
    assert seen[community_id()].can_write and seen[org_id].can_write
    assert seen[org_id].media_types == ["application/stix+json;version=2.1"]
    # A member of no community sees its organisation only; a viewer may read but not write.
    out = root_for(live_server, cast["out"], bearer=True)
    assert [c.id for c in out.collections] == [taxii.collection_id("organisation", cast["out"].org_id)]
    viewer = {c.id: c for c in root_for(live_server, cast["fr_viewer"]).collections}
    assert viewer[community_id()].can_read and not viewer[community_id()].can_write
    # Another organisation's collection does not exist for you.
    r = requests.get(
        f"{live_server}/taxii2/cybercrisis/collections/{org_id}/", auth=(cast["de"].email, cast["de"].token), timeout=10
    )
    assert r.status_code == 404 and r.json()["http_status"] == "404"


def test_paging_250_objects_by_100_returns_each_once_in_order_with_date_added_headers(
    live_server: str, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    objs = [indicator(name=f"i{n}") for n in range(250)]
    ingest(session_factory, cast["fr"], objs[:120], communities=[COMMUNITY])
    ingest(session_factory, cast["fr"], objs[120:], communities=[COMMUNITY])
    col = collection(live_server, cast["de"], community_id())
    pages = list(as_pages(col.get_objects, per_request=100))
    assert [len(p["objects"]) for p in pages] == [100, 100, 50]
    assert [p["more"] for p in pages] == [True, True, False] and "next" not in pages[-1]
    assert [i for p in pages for i in ids_of(p)] == [o["id"] for o in objs]
    # The date_added headers bound each page.
    r = requests.get(col.objects_url, params={"limit": 130}, auth=(cast["de"].email, cast["de"].token), timeout=10)
    first = db.scalars(select(StixObject.added_at).where(StixObject.id == objs[0]["id"])).one()
    last = db.scalars(select(StixObject.added_at).where(StixObject.id == objs[129]["id"])).one()
    assert r.headers["X-TAXII-Date-Added-First"] == taxii.stamp(first)
    assert r.headers["X-TAXII-Date-Added-Last"] == taxii.stamp(last)
    assert first < last  # two transactions, two dates


def test_added_after_returns_only_later_transactions(
    live_server: str, session_factory: sessionmaker[Session], cast: dict[str, Actor]
) -> None:
    early = [indicator() for _ in range(3)]
    late = [indicator() for _ in range(2)]
    ingest(session_factory, cast["fr"], early, communities=[COMMUNITY])
    col = collection(live_server, cast["de"], community_id())
    manifest = col.get_manifest()
    cut = manifest["objects"][-1]["date_added"]
    assert col.get_objects(added_after=cut) == {"more": False}
    ingest(session_factory, cast["fr"], late, communities=[COMMUNITY])
    assert ids_of(col.get_objects(added_after=cut)) == [o["id"] for o in late]
    assert len(ids_of(col.get_objects(added_after="2000-01-01T00:00:00Z"))) == 5
    # added_after and next together: the second page continues after the first.
    first = col.get_objects(added_after="2000-01-01T00:00:00Z", limit=2)
    second = col.get_objects(added_after="2000-01-01T00:00:00Z", limit=2, next=first["next"])
    assert ids_of(first) + ids_of(second) == [o["id"] for o in early + late][:4]


def test_match_filters_id_type_version_and_spec_version(
    live_server: str, session_factory: sessionmaker[Session], cast: dict[str, Actor]
) -> None:
    oid = f"indicator--{uuid.uuid4()}"
    other = indicator()
    ingest(session_factory, cast["fr"], [indicator(oid=oid, modified=T0)], communities=[COMMUNITY])
    ingest(session_factory, cast["fr"], [indicator(oid=oid, modified=T1), other], communities=[COMMUNITY])
    ingest(session_factory, cast["fr"], [indicator(oid=oid, modified=T2)], communities=[COMMUNITY])
    ident = {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid4()}",
        "created": T0,
        "modified": T0,
        "name": "someone",
        "identity_class": "organization",
    }
    ingest(session_factory, cast["fr"], [ident], communities=[COMMUNITY])
    col = collection(live_server, cast["nl"], community_id())

    def versions(**kw: Any) -> list[tuple[str, str]]:
        return [(o["id"], o["modified"]) for o in col.get_objects(**kw).get("objects", [])]

    assert versions() == [(other["id"], T0), (oid, T2), (ident["id"], T0)]  # last versions, in seq order
    assert versions(id=oid) == [(oid, T2)]
    assert versions(id=[oid, ident["id"]]) == [(oid, T2), (ident["id"], T0)]
    assert versions(type="identity") == [(ident["id"], T0)]
    assert versions(type=["identity", "indicator"], id=oid) == [(oid, T2)]
    assert versions(id=oid, version="first") == [(oid, T0)]
    assert versions(id=oid, version="all") == [(oid, T0), (oid, T1), (oid, T2)]
    assert versions(id=oid, version=["first", "last"]) == [(oid, T0), (oid, T2)]
    assert versions(id=oid, version=T1) == [(oid, T1)]
    assert versions(id=oid, version=[T0, "2026-11-28T11:00:00Z"]) == [(oid, T0), (oid, T2)]
    assert versions(spec_version="2.0") == []
    assert versions(spec_version="2.1", type="identity") == [(ident["id"], T0)]
    # One object by id, its versions and the manifest.
    assert [o["modified"] for o in col.get_object(oid)["objects"]] == [T2]
    assert [o["modified"] for o in col.get_object(oid, version="all")["objects"]] == [T0, T1, T2]
    assert col.object_versions(oid) == {"more": False, "versions": [T0, T1, T2]}
    first = col.object_versions(oid, limit=2)
    assert first["versions"] == [T0, T1] and first["more"]
    assert col.object_versions(oid, limit=2, next=first["next"]) == {"more": False, "versions": [T2]}
    manifest = col.get_manifest(id=oid, version="all")["objects"]
    assert [(m["id"], m["version"], m["media_type"]) for m in manifest] == [
        (oid, v, "application/stix+json;version=2.1") for v in (T0, T1, T2)
    ]
    assert all(m["date_added"].endswith("Z") and len(m["date_added"]) == 27 for m in manifest)
    r = requests.get(
        f"{col.objects_url}indicator--{uuid.uuid4()}/", auth=(cast["nl"].email, cast["nl"].token), timeout=10
    )
    assert r.status_code == 404


def test_served_objects_carry_origin_signature_and_shares_and_validate(
    live_server: str, session_factory: sessionmaker[Session], settings: Any, cast: dict[str, Actor]
) -> None:
    obj = indicator(marks=[STIX_MARKING_IDS[TLP.GREEN]])
    ingest(session_factory, cast["fr"], [obj], communities=[COMMUNITY])
    [served] = collection(live_server, cast["de"], community_id()).get_objects()["objects"]
    node = nodes.load(settings.data_dir)
    origin = served.pop(nodes.ORIGIN)
    assert origin["node"] == node.id and origin["owner"] == cast["fr"].org_id
    assert nodes.verify({**served, nodes.ORIGIN: origin}, origin, {node.id: node.public_keys()}) is None
    assert served.pop(nodes.SHARES) == [{"kind": "community", "target": COMMUNITY}]
    assert served == obj  # as received
    full = collection(live_server, cast["de"], community_id()).get_objects()["objects"][0]
    result = validate_instance(full, ValidationOptions(version="2.1"))
    assert result.is_valid, [str(e) for e in result.errors]


def test_answers_hold_only_what_each_user_may_read(
    live_server: str, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    fr, de, nl = cast["fr"], cast["de"], cast["nl"]
    green = indicator(marks=[STIX_MARKING_IDS[TLP.GREEN]])
    amber_to_fr = indicator(marks=[STIX_MARKING_IDS[TLP.AMBER]])
    red = indicator(marks=[STIX_MARKING_IDS[TLP.RED]])
    ingest(session_factory, de, [green], communities=[COMMUNITY])
    ingest(session_factory, de, [amber_to_fr], tlp="amber", organisations=[fr.org_id])
    ingest(session_factory, de, [red], tlp="red")
    community = {a: ids_of(collection(live_server, cast[a], community_id()).get_objects()) for a in ("fr", "nl")}
    assert community == {"fr": [green["id"]], "nl": [green["id"]]}  # AMBER to CERT-FR only: not the community's
    fr_org = ids_of(collection(live_server, fr, taxii.collection_id("organisation", fr.org_id)).get_objects())
    assert fr_org == [amber_to_fr["id"]]
    de_org = ids_of(collection(live_server, de, taxii.collection_id("organisation", de.org_id)).get_objects())
    assert de_org == [green["id"], amber_to_fr["id"], red["id"]]  # the RED one: its author is named
    de2 = World(session_factory)
    de2.orgs = {"CERT-Bund": de.org_id}
    colleague = de2.user("CERT-Bund")
    seen = ids_of(collection(live_server, colleague, taxii.collection_id("organisation", de.org_id)).get_objects())
    assert red["id"] not in seen and len(seen) == 2  # RED: never listed for anyone but its named recipients
    # Whatever is served, the access layer agrees.
    for actor in (fr, nl, colleague):
        who = principal(session_factory, actor)
        for cid in [c.id for c in root_for(live_server, actor).collections]:
            for oid in ids_of(collection(live_server, actor, cid).get_objects()):
                row = db.scalars(select(StixObject).where(StixObject.id == oid)).one()
                shares = db.scalars(select(Share).where(Share.object_id == row.share_id)).all()
                assert can_read(who, tlp=row.tlp, owner_org_id=row.owner_org_id, shares=shares)


def test_post_stores_objects_shared_with_the_collection_and_a_duplicate_post_changes_nothing(
    live_server: str, db: Session, cast: dict[str, Actor]
) -> None:
    col = collection(live_server, cast["fr"], community_id())
    objs = [indicator(), indicator(marks=[STIX_MARKING_IDS[TLP.RED]]), {"type": "indicator", "id": "bad"}]
    status = col.add_objects({"objects": objs})
    assert (status.status, status.total_count, status.success_count, status.failure_count) == ("complete", 3, 1, 2)
    assert status.successes == [{"id": objs[0]["id"], "version": T0}]
    assert [f["id"] for f in status.failures] == [objs[1]["id"], "bad"]
    assert "RED" in status.failures[0]["message"] or "red" in status.failures[0]["message"].lower()
    row = db.scalars(select(StixObject).where(StixObject.id == objs[0]["id"])).one()
    assert (row.tlp, row.owner_org_id, row.origin) == ("green", cast["fr"].org_id, f"taxii:{community_id()}")
    assert {(s.kind, s.target) for s in db.scalars(select(Share).where(Share.object_id == row.id))} == {
        ("community", COMMUNITY)
    }
    assert ids_of(collection(live_server, cast["de"], community_id()).get_objects()) == [objs[0]["id"]]
    # The status is kept for its author only.
    again = root_for(live_server, cast["fr"]).get_status(status.id)
    assert (again.status, again.success_count, again.failures) == ("complete", 1, status.failures)
    r = requests.get(
        f"{live_server}/taxii2/cybercrisis/status/{status.id}/", auth=(cast["fr2"].email, cast["fr2"].token), timeout=10
    )
    assert r.status_code == 404
    # Posting again: every valid object is a success, nothing new is stored.
    stored = count(db, StixObject)
    dup = col.add_objects({"objects": objs[:1]})
    assert (dup.success_count, dup.failure_count) == (1, 0)
    assert count(db, StixObject) == stored
    assert count(db, TaxiiStatus) == 2
    assert count(db, AuditEvent, AuditEvent.tag == "exchange:taxii:add") == 2
    # An organisation collection: AMBER by default, shared with that organisation.
    org = collection(live_server, cast["fr"], taxii.collection_id("organisation", cast["fr"].org_id))
    mine = indicator()
    assert org.add_objects({"objects": [mine]}).success_count == 1
    db.rollback()
    row = db.scalars(select(StixObject).where(StixObject.id == mine["id"])).one()
    assert row.tlp == "amber"


def test_signed_objects_from_a_peer_are_received_and_unsigned_tampering_is_refused(
    live_server: str, db: Session, settings: Any, cast: dict[str, Actor]
) -> None:
    node = nodes.load(settings.data_dir)
    ours = indicator()
    signed = {**ours, nodes.ORIGIN: node.sign(ours, cast["fr"].org_id, tlp="amber", shares=[], share_key=ours["id"])}
    col = collection(live_server, cast["fr"], community_id())
    status = col.add_objects({"objects": [signed]})
    assert status.success_count == 1  # our own object coming back: unchanged, never stored twice
    assert count(db, StixObject, StixObject.id == ours["id"]) == 0
    forged = {**signed, "name": "changed", nodes.ORIGIN: {**signed[nodes.ORIGIN], "node": "identity--x"}}
    status = col.add_objects({"objects": [forged]})
    assert status.failure_count == 1 and count(db, StixObject) == 0


def test_delete_rules(
    live_server: str, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    fr, de = cast["fr"], cast["de"]
    oid = f"indicator--{uuid.uuid4()}"
    ingest(session_factory, fr, [indicator(oid=oid, modified=T0)], communities=[COMMUNITY])
    ingest(session_factory, fr, [indicator(oid=oid, modified=T1)], communities=[COMMUNITY])
    url = f"{live_server}/taxii2/cybercrisis/collections/{community_id()}/objects/{oid}/"
    # Another organisation may read it but not delete it; a viewer of the holder neither.
    assert requests.delete(url, auth=(de.email, de.token), timeout=10).status_code == 403
    viewer = cast["fr_viewer"]
    assert requests.delete(url, auth=(viewer.email, viewer.token), timeout=10).status_code == 403
    assert requests.delete(url, auth=(cast["out"].email, cast["out"].token), timeout=10).status_code == 404
    # The holder deletes the last version; the previous one becomes the last.
    col = collection(live_server, fr, community_id())
    col.delete_object(oid)
    assert col.object_versions(oid)["versions"] == [T0]
    assert [o["modified"] for o in col.get_object(oid)["objects"]] == [T0]
    event = db.scalars(select(AuditEvent).where(AuditEvent.tag == "exchange:taxii:delete")).one()
    assert event.object_id == oid and event.actor_user_id == fr.user_id
    col.delete_object(oid, version="all")
    assert count(db, StixObject, StixObject.id == oid) == 0
    assert count(db, Share, Share.object_id == oid) == 0
    assert requests.delete(url, auth=(fr.email, fr.token), timeout=10).status_code == 404
    # A row that stands for one of this node's own objects changes through the platform only.
    derived = indicator()
    ingest(session_factory, fr, [derived], communities=[COMMUNITY])
    with unit_of_work(session_factory) as s:
        row = s.scalars(select(StixObject).where(StixObject.id == derived["id"])).one()
        s.add(Share(object_id="incident--00000000-0000-4000-8000-000000000001", kind="community", target=COMMUNITY))
        row.share_id = "incident--00000000-0000-4000-8000-000000000001"
    r = requests.delete(f"{col.objects_url}{derived['id']}/", auth=(fr.email, fr.token), timeout=10)
    assert r.status_code == 403 and "through the platform" in r.json()["description"]
    assert count(db, StixObject, StixObject.id == derived["id"]) == 1


def test_delete_refuses_an_imported_copy_of_a_local_object(
    live_server: str, client: Any, session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    from tests.exchange.test_stix_export import export, post_incident

    fr = cast["fr"]
    inc = post_incident(client, fr, entity=fr.org_id)
    bundle = export(client, fr, f"incidents/{inc['id']}")
    ingest(session_factory, fr, bundle["objects"], tlp="amber")
    cid = taxii.collection_id("organisation", fr.org_id)
    r = requests.delete(
        f"{live_server}/taxii2/cybercrisis/collections/{cid}/objects/{inc['id']}/",
        auth=(fr.email, fr.token),
        timeout=10,
    )
    assert r.status_code == 403 and "through the platform" in r.json()["description"]
    assert count(db, StixObject, StixObject.id == inc["id"]) == 1
