"""STIX 2.1 import into the object store: third-party bundles (ATT&CK for ICS) with custom objects, idempotent
re-import, the round trip of our own export, the bad-input matrix (whole-bundle refusals and per-object
rejections, atomic or not), markings -> TLP, who may read the imported copies, the API limits and the CLI."""

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
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.audit.models import AuditEvent
from cybercrisis.db import unit_of_work
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange import importer
from cybercrisis.exchange.models import StixObject
from tests.conftest import Actor, World, count, require_shared, shared_data
from tests.exchange.test_stix_export import export, post_incident

ATTACK = shared_data("attack", "ics-attack.json")
T0 = "2026-11-28T09:00:00.000Z"
T1 = "2026-11-28T10:00:00.000Z"
TLP1_WHITE = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
TLP1_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"


def indicator(*, marks: list[str] | None = None, oid: str | None = None, **over: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": oid or f"indicator--{uuid.uuid4()}",
        "created": T0,
        "modified": T0,
        "name": "C2 address",
        "pattern": "[ipv4-addr:value = '198.51.100.7']",
        "pattern_type": "stix",
        "valid_from": T0,
    }
    if marks is not None:
        obj["object_marking_refs"] = marks
    obj.update(over)
    return obj


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def post(client: TestClient, actor: Actor, body: Any, *, status: int = 200, **params: Any) -> dict[str, Any]:
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {**actor.headers, "Content-Type": "application/stix+json;version=2.1"}
    r = client.post("/api/v1/import/stix", content=raw, headers=headers, params=params)
    assert r.status_code == status, r.text
    return r.json()  # type: ignore[no-any-return]


def principal(factory: sessionmaker[Session], actor: Actor) -> Principal:
    with unit_of_work(factory) as s:
        return accounts.principal_for(s, s.get_one(User, actor.user_id))


def listed_ids(client: TestClient, actor: Actor, **params: Any) -> list[str]:
    r = client.get("/api/v1/stix-objects", headers=actor.headers, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return [o["id"] for o in r.json()["items"]]


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Outsider", country="IT")
    return {
        "fr": world.user("CERT-FR"),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
        "de": world.user("CERT-Bund"),
        "out": world.user("Outsider"),
    }


def test_attack_for_ics_is_imported_whole_with_custom_objects_kept_and_reimport_changes_nothing(
    session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    data = json.loads(require_shared(ATTACK).read_text())
    objects = importer.bundle_objects(data)
    custom = [o for o in objects if o["type"].startswith("x-") or any(k.startswith("x_") for k in o)]
    fr = principal(session_factory, cast["fr"])
    seen: list[int] = []
    with unit_of_work(session_factory) as s:
        result = importer.ingest(s, actor=fr, objects=objects, origin="file:ics-attack.json", progress=seen.append)
    assert (result.imported, result.unchanged, result.rejected) == (1826, 0, [])
    assert result.custom == len(custom) > 1800
    assert sum(seen) == 1826 and len(seen) == 2  # progress after each batch of 1,000
    assert count(db, StixObject) == 1826
    assert count(db, StixObject, StixObject.custom.is_(True)) == len(custom)
    assert count(db, StixObject, StixObject.tlp == "amber", StixObject.owner_org_id == cast["fr"].org_id) == 1826
    # Custom objects are stored exactly as received.
    matrix = next(o for o in objects if o["type"] == "x-mitre-matrix")
    row = db.scalars(select(StixObject).where(StixObject.id == matrix["id"])).one()
    assert row.data == matrix and row.origin == "file:ics-attack.json" and row.custom
    events = db.scalars(select(AuditEvent).where(AuditEvent.tag == "exchange:import:stix")).all()
    assert len(events) == 1
    assert json.loads(events[0].summary) == {
        "origin": "file:ics-attack.json",
        "imported": 1826,
        "unchanged": 0,
        "rejected": 0,
        "custom": len(custom),
        "atomic": False,
        "default_tlp": "amber",
    }
    assert count(db, Share, Share.object_id == matrix["id"]) == 0  # AMBER by default: the importer's org only

    with unit_of_work(session_factory) as s:
        again = importer.ingest(s, actor=fr, objects=objects, origin="file:ics-attack.json", atomic=True)
    assert (again.imported, again.unchanged, again.rejected, again.custom) == (0, 1826, [], 0)
    assert count(db, StixObject) == 1826


def test_our_own_incident_export_round_trips_through_the_api_without_touching_the_incident_share_list(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    inc = post_incident(client, cast["fr"], share_with={"organisations": [cast["de"].org_id]})
    exported = export(client, cast["fr"], f"incidents/{inc['id']}")
    shares_before = count(db, Share, Share.object_id == inc["id"])
    # The incident is in the store already: published as STIX when it was created (exchange/publish.py).
    published = set(db.scalars(select(StixObject.id).where(StixObject.origin == f"local:{inc['id']}")))
    assert inc["id"] in published
    out = post(client, cast["fr"], exported, tlp="green")
    # What was published is unchanged; the bundle's reference objects (identities, markings) are new.
    reference = [o for o in exported["objects"] if o["id"] not in published]
    assert {o["type"] for o in reference} <= {"identity", "marking-definition", "extension-definition"}
    assert out["rejected"] == [] and out["unchanged"] == len(exported["objects"]) - len(reference)
    # Our export uses standard properties only (our NIS2 fields travel in a declared extension): nothing custom.
    assert out["imported"] == len(reference) and out["custom"] == 0
    assert count(db, Share, Share.object_id == inc["id"]) == shares_before

    r = client.get(f"/api/v1/stix-objects/{inc['id']}", headers=cast["fr"].headers)
    assert r.status_code == 200, r.text
    [version] = r.json()["versions"]
    sdo = next(o for o in exported["objects"] if o["id"] == inc["id"])
    assert version["object"] == sdo and version["tlp"] == "amber" and version["type"] == "incident"
    assert version["origin"] == f"local:{inc['id']}"
    # The stored copy of an incident follows the incident's own share list: DE reads it, the outsider does not.
    assert client.get(f"/api/v1/stix-objects/{inc['id']}", headers=cast["de"].headers).status_code == 200
    assert client.get(f"/api/v1/stix-objects/{inc['id']}", headers=cast["out"].headers).status_code == 404

    again = post(client, cast["fr"], exported)
    assert (again["imported"], again["unchanged"], again["rejected"]) == (0, len(exported["objects"]), [])
    assert count(db, StixObject) == len(exported["objects"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"type": "bundle", "objects": [', "malformed JSON: Expecting value at line 1, column 32"),
        ('{"type": "report"}', 'not a STIX bundle: expected a JSON object with "type": "bundle"'),
        ("[]", "not a STIX bundle"),
        ('{"type": "bundle", "id": "bundle--1", "objects": {}}', '"objects" is not a list'),
        ('{"type": "bundle", "spec_version": "2.0", "objects": []}', "the bundle has spec_version '2.0'"),
        (json.dumps(bundle(indicator(), indicator(spec_version="2.0"))), "object #1 (indicator--"),
    ],
    ids=["malformed", "not-a-bundle", "array", "objects-not-list", "stix-2.0-bundle", "stix-2.0-object"],
)
def test_inputs_that_are_not_stix_21_bundles_are_refused_whole(
    client: TestClient, db: Session, cast: dict[str, Actor], body: str, message: str
) -> None:
    out = post(client, cast["fr"], body, status=422)
    assert message in out["detail"], out
    assert count(db, StixObject) == 0 and count(db, AuditEvent, AuditEvent.tag == "exchange:import:stix") == 0


def bad_matrix() -> tuple[list[dict[str, Any] | Any], dict[int, str]]:
    """A bundle's objects: two valid (one custom), the rest each wrong in one way; index -> expected reason."""
    objects: list[Any] = [
        indicator(),
        {
            "type": "x-acme-widget",
            "spec_version": "2.1",
            "id": f"x-acme-widget--{uuid.uuid4()}",
            "created": T0,
            "modified": T0,
            "x_acme_colour": "blue",
        },
        indicator(oid="indicator--not-a-uuid"),
        indicator(oid=f"malware--{uuid.uuid4()}"),
        indicator(modified="2026-11-28T10:00:00"),
        indicator(marks=["marking-definition--00000000-0000-4000-8000-000000000000"]),
        {"id": f"indicator--{uuid.uuid4()}"},
        "not an object",
        indicator(created="yesterday"),
        indicator(spec_version=None) | {"spec_version": None},
    ]
    del objects[9]["spec_version"]
    reasons = {
        2: "'not-a-uuid' is not a UUID",
        3: "does not match its type 'indicator'",
        4: "modified '2026-11-28T10:00:00' has no time zone",
        5: "object_marking_refs: unknown marking definition marking-definition--00000000-0000-4000-8000-000000000000",
        6: "type is missing",
        7: "object #7 is not a JSON object",
        8: "created 'yesterday' is not an RFC 3339 timestamp",
        9: "spec_version is missing",
    }
    return objects, reasons


def test_bad_objects_are_rejected_with_their_reason_atomic_refuses_all_and_otherwise_valid_ones_are_kept(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    objects, reasons = bad_matrix()
    refused = post(client, cast["fr"], bundle(*objects), status=422, atomic="true")
    assert "8 object(s) rejected, so nothing was imported (atomic)" in refused["detail"]
    assert {e["index"]: e["message"] for e in refused["errors"]}.keys() == reasons.keys()
    assert count(db, StixObject) == 0 and count(db, AuditEvent, AuditEvent.tag == "exchange:import:stix") == 0

    out = post(client, cast["fr"], bundle(*objects))
    assert (out["imported"], out["unchanged"], out["custom"]) == (2, 0, 1)
    assert [r["index"] for r in out["rejected"]] == sorted(reasons)
    for r in out["rejected"]:
        assert reasons[r["index"]] in r["reason"], r
        expected_id = objects[r["index"]].get("id") if isinstance(objects[r["index"]], dict) else None
        assert r["id"] == expected_id
    assert sorted(listed_ids(client, cast["fr"])) == sorted([objects[0]["id"], objects[1]["id"]])
    assert count(db, StixObject) == 2


def test_markings_set_the_tlp_strictest_first_and_marking_definitions_are_known_from_the_input_or_the_store(
    session_factory: sessionmaker[Session], db: Session, cast: dict[str, Actor]
) -> None:
    statement = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": T0,
        "definition_type": "statement",
        "definition": {"statement": "Copyright ACME"},
    }
    objs = {
        "green": indicator(marks=[STIX_MARKING_IDS[TLP.GREEN]]),
        "white": indicator(marks=[TLP1_WHITE]),
        "red": indicator(marks=[TLP1_AMBER, STIX_MARKING_IDS[TLP.RED], statement["id"]]),
        "stated": indicator(marks=[statement["id"]]),
        "sco": {"type": "ipv4-addr", "id": f"ipv4-addr--{uuid.uuid4()}", "value": "198.51.100.7"},
    }
    fr = principal(session_factory, cast["fr"])
    with unit_of_work(session_factory) as s:
        result = importer.ingest(s, actor=fr, objects=[*objs.values(), statement], origin="t", default_tlp="amber")
    assert (result.imported, result.rejected) == (6, [])
    tlp = dict(db.execute(select(StixObject.id, StixObject.tlp)).all())
    assert {k: tlp[o["id"]] for k, o in objs.items()} == {
        "green": "green",
        "white": "clear",
        "red": "red",
        "stated": "amber",
        "sco": "amber",
    }
    sco = db.scalars(select(StixObject).where(StixObject.id == objs["sco"]["id"])).one()
    assert sco.modified == importer.NO_MODIFIED.replace(tzinfo=sco.modified.tzinfo)
    # RED: the importer is named, so it still reads its copy; GREEN went to the importer's community by default.
    assert count(db, Share, Share.object_id == objs["red"]["id"], Share.target == cast["fr"].user_id) == 1
    assert count(db, Share, Share.object_id == objs["green"]["id"], Share.target == "csirts-network") == 1

    # A later import may refer to the stored marking definition; an unknown one is still rejected.
    later = indicator(marks=[statement["id"]])
    unknown = indicator(marks=[f"marking-definition--{uuid.uuid4()}"])
    with unit_of_work(session_factory) as s:
        result = importer.ingest(s, actor=fr, objects=[later, unknown], origin="t")
    assert result.imported == 1 and [r.id for r in result.rejected] == [unknown["id"]]
    assert "unknown marking definition" in result.rejected[0].reason


def test_imported_objects_are_read_as_their_tlp_and_share_list_allow_and_are_404_otherwise(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    amber, green, shared = indicator(), indicator(marks=[STIX_MARKING_IDS[TLP.GREEN]]), indicator()
    post(client, cast["fr"], bundle(amber, green))
    post(client, cast["fr"], bundle(shared), organisation=cast["de"].org_id)
    assert set(listed_ids(client, cast["fr"])) == {amber["id"], green["id"], shared["id"]}
    assert set(listed_ids(client, cast["fr_viewer"])) == {amber["id"], green["id"], shared["id"]}
    assert set(listed_ids(client, cast["de"])) == {green["id"], shared["id"]}  # community member; named org
    assert listed_ids(client, cast["out"]) == []
    for who, oid, status in [
        ("de", amber["id"], 404),
        ("de", green["id"], 200),
        ("out", green["id"], 404),
        ("out", shared["id"], 404),
        ("fr", amber["id"], 200),
    ]:
        assert client.get(f"/api/v1/stix-objects/{oid}", headers=cast[who].headers).status_code == status
    r = client.get(f"/api/v1/stix-objects/{amber['id']}", headers=cast["de"].headers)
    assert amber["id"] in r.json()["detail"] and "indicator" not in r.text.replace(amber["id"], "").lower().replace(
        "no stix object", ""
    )
    # Recipients that the marking does not allow: the object is rejected, nothing else is.
    red = indicator(marks=[STIX_MARKING_IDS[TLP.RED]])
    out = post(client, cast["fr"], bundle(red, indicator()), community="csirts-network")
    assert out["imported"] == 1 and [r["id"] for r in out["rejected"]] == [red["id"]]
    assert "TLP:RED is shared with named users only" in out["rejected"][0]["reason"]
    # Recipients that do not exist refuse the whole import.
    bad = post(client, cast["fr"], bundle(indicator()), status=422, organisation="identity--nope")
    assert "unknown organisation" in bad["detail"]
    assert count(db, StixObject) == 4


def test_versions_are_idempotent_and_an_id_held_by_another_organisation_is_not_taken_over(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    v0 = indicator(marks=[STIX_MARKING_IDS[TLP.GREEN]])
    v1 = v0 | {"modified": T1, "name": "C2 address (confirmed)"}
    assert post(client, cast["fr"], bundle(v0, v0))["unchanged"] == 1  # repeated in the input: stored once
    out = post(client, cast["fr"], bundle(v0, v1))
    assert (out["imported"], out["unchanged"]) == (1, 1)
    r = client.get(f"/api/v1/stix-objects/{v0['id']}", headers=cast["de"].headers)
    assert [v["object"]["name"] for v in r.json()["versions"]] == ["C2 address", "C2 address (confirmed)"]
    assert count(db, Share, Share.object_id == v0["id"]) == 1  # shares are per object, written once

    # DE may not add a version (nor recipients) to FR's object; the outsider's copy would otherwise be readable
    # by FR's community.
    v2 = v0 | {"modified": "2026-11-28T11:00:00Z"}
    out = post(client, cast["de"], bundle(v2), organisation=cast["out"].org_id)
    assert out["imported"] == 0 and "held on this node by another organisation" in out["rejected"][0]["reason"]
    assert count(db, StixObject, StixObject.id == v0["id"]) == 2 and count(db, Share, Share.object_id == v0["id"]) == 1


def test_import_needs_the_permission_and_a_body_within_the_limit_and_listing_pages_by_seq(
    client: TestClient, db: Session, cast: dict[str, Actor]
) -> None:
    assert client.post("/api/v1/import/stix", content=json.dumps(bundle(indicator()))).status_code == 401
    post(client, cast["fr_viewer"], bundle(indicator()), status=403)
    big = bundle(*[indicator(description="x" * 1000) for _ in range(80)])
    r = client.post("/api/v1/import/stix", content=json.dumps(big), headers=cast["fr"].headers)
    assert r.status_code == 413, r.text
    assert count(db, StixObject) == 0

    objs = [indicator() for _ in range(5)] + [
        {"type": "ipv4-addr", "id": f"ipv4-addr--{uuid.uuid4()}", "value": "192.0.2.1"}
    ]
    post(client, cast["fr"], bundle(*objs))
    pages, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, "type": "indicator"} | ({"after": after} if after is not None else {})
        page = client.get("/api/v1/stix-objects", headers=cast["fr"].headers, params=params).json()
        pages.append([o["id"] for o in page["items"]])
        after = page["next"]
        if after is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == [o["id"] for o in objs[:5]]  # arrival order, no repeats
    assert listed_ids(client, cast["fr"], type="ipv4-addr") == [objs[5]["id"]]


def test_ingest_refuses_actors_without_permission_or_bad_default_tlp(
    session_factory: sessionmaker[Session], cast: dict[str, Actor]
) -> None:
    fr = principal(session_factory, cast["fr"])
    with unit_of_work(session_factory) as s, pytest.raises(InvalidInput, match=r"TLP:WHITE is TLP 1\.0"):
        importer.ingest(s, actor=fr, objects=[indicator()], origin="t", default_tlp="white")
    viewer = principal(session_factory, cast["fr_viewer"])
    from cybercrisis.errors import PermissionDenied

    with unit_of_work(session_factory) as s, pytest.raises(PermissionDenied):
        importer.ingest(s, actor=viewer, objects=[indicator()], origin="t")


def test_cli_prints_the_summary_and_rejections_and_exits_1_on_unusable_input(
    run: Any, db: Session, tmp_path: Path, cast: dict[str, Actor]
) -> None:
    objects, reasons = bad_matrix()
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(bundle(*objects)))
    email = cast["fr"].email

    refused = run("import", "stix", str(path), "--as", email, "--atomic", ok=False)
    assert refused.returncode == 1 and "nothing was imported (atomic)" in refused.stderr
    assert count(db, StixObject) == 0

    out = run("import", "stix", str(path), "--as", email, "--tlp", "green", "--share-with-org", cast["de"].org_id)
    lines = out.stdout.splitlines()
    assert lines[0] == "imported 2, unchanged 0, rejected 8 (custom 1)"
    assert [line.split(" ", 2)[0] for line in lines[1:]] == [str(i) for i in sorted(reasons)]
    assert reasons[3] in lines[2] and objects[3]["id"] in lines[2]
    assert count(db, StixObject, StixObject.tlp == "green") == 2
    assert count(db, Share, Share.target == cast["de"].org_id) == 2
    again = run("import", "stix", str(path), "--as", email)
    assert again.stdout.splitlines()[0] == "imported 0, unchanged 2, rejected 8 (custom 0)"

    (tmp_path / "v20.json").write_text(json.dumps({"type": "bundle", "spec_version": "2.0", "objects": []}))
    for args, message in [
        ((str(tmp_path / "missing.json"), "--as", email), "cannot read"),
        ((str(tmp_path / "v20.json"), "--as", email), "not a STIX 2.1 bundle"),
        ((str(path), "--as", "nobody@example.org"), "no user nobody@example.org"),
    ]:
        proc = run("import", "stix", *args, ok=False)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
    assert count(db, StixObject) == 2


def test_marking_references_are_checked_in_both_places_and_each_refusal_names_where() -> None:
    from cybercrisis.exchange.import_checks import Candidate, Rejected, check

    green = STIX_MARKING_IDS[TLP.GREEN]
    statement = f"marking-definition--{uuid.uuid4()}"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"object_marking_refs": "nope"}, "object_marking_refs is not a list of marking-definition ids"),
        ({"object_marking_refs": [green, 7]}, "object_marking_refs is not a list of marking-definition ids"),
        ({"object_marking_refs": ["indicator--x"]}, "object_marking_refs: 'indicator--x' is not a marking-definition"),
        ({"granular_markings": None}, "granular_markings is not a list of objects"),
        ({"granular_markings": ["x"]}, "granular_markings is not a list of objects"),
        ({"granular_markings": [{"marking_ref": "x--1", "selectors": ["name"]}]}, "granular_markings: 'x--1' is not"),
    ]
    for extra, reason in cases:
        got = check(0, indicator() | extra)
        assert isinstance(got, Rejected) and got.reason.startswith(reason), (extra, got)
    both = check(
        3, indicator(marks=[green]) | {"granular_markings": [{"marking_ref": statement, "selectors": ["name"]}]}
    )
    assert isinstance(both, Candidate) and both.markings == [green, statement]
