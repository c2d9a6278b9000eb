"""MISP import: MISP events converted to STIX 2.1 (checked against the MISP project's golden pairs) and stored in
the STIX object store, every event of a REST response, idempotently, with TLP 2.0 markings that never widen."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.accounts import service as accounts
from cybercrisis.accounts.models import User
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange import importer, misp_import
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.stix_common import marking_definition
from tests.conftest import Actor, World, count, require_shared, shared_data

MISP_DATA = shared_data("misp")
GOLDEN = MISP_DATA / "documentation" / "mapping" / "misp_attributes_to_stix21.json"
ORG = {"name": "MISP-Project", "uuid": "a0c22599-9e58-4da4-96ac-7051603fa951"}
EVENT_UUID = "5a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b00"
# The golden attribute types we do not convert like misp-stix's documentation: malware-sample needs the sample's
# zipped bytes, which the golden pair leaves out.
NOT_LIKE_GOLDEN = {"malware-sample"}


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in objects}


def without_markings(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "object_marking_refs"}


def by_ends(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Objects by id, a relationship's id replaced by its ends and type, there and where it is referred to."""
    names = {
        o["id"]: f"{o['source_ref']} {o['relationship_type']} {o['target_ref']}"
        for o in objects
        if o["type"] == "relationship"
    }
    renamed = copy.deepcopy(objects)
    for obj in renamed:
        obj["id"] = names.get(obj["id"], obj["id"])
        if "object_refs" in obj:
            obj["object_refs"] = [names.get(ref, ref) for ref in obj["object_refs"]]
    return by_id(renamed)


def event(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uuid": EVENT_UUID,
        "info": "Phishing wave against ministries",
        "date": "2026-11-20",
        "timestamp": "1795000000",
        "published": False,
        "Orgc": ORG,
        "Tag": [{"name": "tlp:amber"}, {"name": 'rsit:fraud="phishing"'}],
        "Attribute": [
            {
                "uuid": "6a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b01",
                "type": "domain",
                "category": "Network activity",
                "value": "login-gouv.example",
                "to_ids": True,
                "timestamp": "1795000000",
            },
            {
                "uuid": "6a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b02",
                "type": "ip-src",
                "category": "Network activity",
                "value": "203.0.113.9",
                "to_ids": False,
                "timestamp": "1795000000",
            },
        ],
    }
    body.update(over)
    return body


def test_every_attribute_type_of_the_golden_pairs_converts_exactly_like_misp_stix_documents_it() -> None:
    golden: dict[str, Any] = json.loads(require_shared(GOLDEN).read_text())
    assert len(golden) >= 80
    matched = []
    for misp_type, pair in golden.items():
        expected = pair["STIX"] if isinstance(pair["STIX"], list) else [pair["STIX"]]
        expected = [o for o in expected if o["type"] != "identity"]
        # The pairs show the to_ids variant (observed-data, indicator, based-on) or the plain one: try both.
        for to_ids in (True, False):
            attribute = dict(pair["MISP"], to_ids=to_ids)
            result = misp_import.to_stix(event(Attribute=[attribute], Tag=[], timestamp=attribute["timestamp"]))
            ours = by_id(result.objects)
            if all(o["id"] in ours and ours[o["id"]] == o for o in expected):
                matched.append(misp_type)
                break
        else:
            assert misp_type in NOT_LIKE_GOLDEN, f"{misp_type}: {json.dumps(result.objects)[:2000]}"
        # Never a crash, never an unmarked leftover: each attribute is converted or named in `rejected`.
        assert result.events == 1
    assert len(matched) == len(golden) - len(NOT_LIKE_GOLDEN)
    # The types our own export writes are among them (ip-dst, domain, url, email, hashes, CVEs, AS numbers).
    assert {"ip-dst", "domain", "url", "email", "md5", "sha1", "sha256", "vulnerability", "AS"} <= set(matched)
    ip = misp_import.to_stix(event(Attribute=[dict(golden["ip-dst"]["MISP"], to_ids=True)], Tag=[]))
    patterns = [o["pattern"] for o in ip.objects if o["type"] == "indicator"]
    assert patterns == ["[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '5.6.7.8']"]


def test_a_rest_response_with_several_events_converts_every_event_like_the_golden_bundle() -> None:
    golden = json.loads(require_shared(MISP_DATA / "tests" / "test_events_collection_stix21.json").read_text())[
        "objects"
    ]
    ours: list[dict[str, Any]] = []
    for name in ("test_events_collection_1.json", "test_events_collection_2.json"):
        result = misp_import.convert((MISP_DATA / "tests" / name).read_text())
        assert result.events == 2 and result.rejected == []
        ours += result.objects
    # Every event, one grouping each, nothing more, nothing less. (The golden bundle's relationships have random
    # ids; current misp-stix derives them from their ends, which re-import needs: compare relationships by ends.)
    assert by_ends(ours) == by_ends(golden)
    groupings = sorted(o["id"] for o in ours if o["type"] == "grouping")
    assert groupings == sorted(
        f"grouping--{e['Event']['uuid']}"
        for n in (1, 2)
        for e in json.loads((MISP_DATA / "tests" / f"test_events_collection_{n}.json").read_text())["response"]
    )
    # The same events as a list, as {"Event": ...} items, or one bare event give the same objects.
    both = json.loads((MISP_DATA / "tests" / "test_events_collection_1.json").read_text())["response"]
    assert misp_import.to_stix(both).objects == misp_import.to_stix({"response": both}).objects
    assert by_id(misp_import.to_stix([e["Event"] for e in both]).objects) == by_id(misp_import.to_stix(both).objects)
    assert misp_import.to_stix(both[0]).objects == misp_import.to_stix(both[0]["Event"]).objects


def test_tlp_tags_become_tlp2_markings_that_every_object_of_the_event_inherits_and_never_widen() -> None:
    red_ip = {
        "uuid": "6a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b03",
        "type": "ip-dst",
        "category": "Network activity",
        "value": "198.51.100.66",
        "to_ids": True,
        "timestamp": "1795000000",
        "Tag": [{"name": "tlp:red"}],
    }
    base = event()
    result = misp_import.to_stix(dict(base, Attribute=[*base["Attribute"], red_ip]))
    objects = by_id(result.objects)
    grouping = objects[f"grouping--{EVENT_UUID}"]
    assert grouping["name"] == "Phishing wave against ministries"
    assert 'rsit:fraud="phishing"' in grouping["labels"] and "tlp:amber" not in grouping["labels"]
    amber, red = STIX_MARKING_IDS[TLP.AMBER], STIX_MARKING_IDS[TLP.RED]
    for obj in result.objects:
        if obj["type"] in ("identity", "marking-definition"):
            assert "object_marking_refs" not in obj, obj
            continue
        # The red attribute's objects are red; so is a relationship to them (it reveals its ends).
        of_red = "1b03" in obj["id"] or "1b03" in obj.get("source_ref", "")
        expected = [red] if of_red else [amber]
        assert obj["object_marking_refs"] == expected, obj
    # The red value is in no object marked wider than red.
    assert all(o.get("object_marking_refs") == [red] for o in result.objects if "198.51.100.66" in json.dumps(o))
    # Marking definitions: exactly the OASIS TLP 2.0 ones used, no TLP 1.0 ones.
    markings = [o for o in result.objects if o["type"] == "marking-definition"]
    assert markings == [marking_definition(TLP.AMBER), marking_definition(TLP.RED)]
    # tlp:white is TLP 1.0: CLEAR; a published event is a report (as MISP converts it).
    white = misp_import.to_stix(event(Tag=[{"name": "tlp:white"}], published=True, publish_timestamp="1795000000"))
    report = by_id(white.objects)[f"report--{EVENT_UUID}"]
    assert report["object_marking_refs"] == [STIX_MARKING_IDS[TLP.CLEAR]]
    assert [o["id"] for o in white.objects if o["type"] == "marking-definition"] == [STIX_MARKING_IDS[TLP.CLEAR]]
    # No TLP tag: no marking, the importer's default TLP applies.
    plain = misp_import.to_stix(event(Tag=[]))
    assert not any("object_marking_refs" in o or o["type"] == "marking-definition" for o in plain.objects)


def test_an_event_without_uuids_or_timestamps_converts_to_the_same_objects_every_time() -> None:
    bare = {
        "info": "Hand-written event",
        "date": "2026-11-21",
        "Tag": [{"name": "tlp:green"}],
        "Attribute": [
            {"type": "url", "category": "Network activity", "value": "https://evil.example/a", "to_ids": True}
        ],
    }
    first, second = misp_import.to_stix(copy.deepcopy(bare)), misp_import.to_stix(copy.deepcopy(bare))
    assert first.objects == second.objects and first.rejected == []
    container = next(o for o in first.objects if o["type"] == "grouping")
    assert container["modified"] == container["created"] == "2026-11-21T00:00:00.000Z"  # the event's date
    indicator = next(o for o in first.objects if o["type"] == "indicator")
    assert indicator["pattern"] == "[url:value = 'https://evil.example/a']"
    assert indicator["modified"] == "2026-11-21T00:00:00.000Z"
    # Another event: other ids.
    other = misp_import.to_stix(dict(copy.deepcopy(bare), info="Another event"))
    assert {o["id"] for o in other.objects if o["type"] != "marking-definition"}.isdisjoint(
        {o["id"] for o in first.objects}
    )


def test_bad_input_is_refused_or_reported_naming_the_event_and_the_attribute() -> None:
    refused = {
        "{not json": "not JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        '"a string"': "not a MISP event",
        '{"foo": 1}': "not a MISP event",
        '{"response": []}': "no MISP event in the response",
        '{"response": {"Attribute": []}}': "without a list of events",
        "[1, 2]": "no MISP event in the list",
        '{"Event": "x"}': "not a MISP event",
    }
    for text, message in refused.items():
        with pytest.raises(InvalidInput) as caught:
            misp_import.convert(text)
        assert message in caught.value.detail, (text, caught.value.detail)
        assert caught.value.errors == [{"field": "file", "message": caught.value.detail}]
    with pytest.raises(InvalidInput, match="not UTF-8"):
        misp_import.convert(b"\xff\xfe{")

    unknown = {"uuid": "7a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b00", "type": "foo-bar", "category": "Other", "value": "x"}
    bad_md5 = {
        "uuid": "7a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b01",
        "type": "md5",
        "category": "Payload delivery",
        "value": "nothex",
        "to_ids": True,
    }
    base = event()
    response = {
        "response": [
            {"Event": dict(base, Attribute=[*base["Attribute"], unknown, bad_md5, "junk"])},
            {"Orgc": ORG},  # no info: not an event
            {"Event": event(uuid="5a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b99", info="Second event", Attribute=[])},
        ]
    }
    result = misp_import.to_stix(response)
    assert result.events == 2  # the good parts of the file are converted
    rejected = {r.where: r.reason for r in result.rejected}
    md5 = f"event {EVENT_UUID} attribute 7a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b01 (md5)"
    assert set(rejected) == {
        f"event {EVENT_UUID} attribute 7a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b00",
        md5,
        f"event {EVENT_UUID} attribute #4",
        "response[1]",
    }
    assert rejected[f"event {EVENT_UUID} attribute 7a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b00"] == (
        "unknown MISP attribute type 'foo-bar'"
    )
    assert "32 hexadecimal" in rejected[md5]
    assert rejected[f"event {EVENT_UUID} attribute #4"] == "not a MISP attribute (expected an object)"
    assert rejected["response[1]"] == 'not a MISP event ({"Event": {...}} or an event)'
    ids = {o["id"] for o in result.objects}
    assert f"grouping--{EVENT_UUID}" in ids and "grouping--5a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b99" in ids
    assert "indicator--6a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b01" in ids
    assert not any("7a1e4b8e" in i for i in ids)
    assert str(result.rejected[0]) == "response[1]: " + rejected["response[1]"]


# --- stored in the STIX object store ----------------------------------------------------------------------------


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    return {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund")}


def ingest_as(db: Session, actor: Actor, objects: list[dict[str, Any]]) -> importer.ImportResult:
    user = db.scalars(select(User).where(User.id == actor.user_id)).one()
    result = importer.ingest(db, actor=accounts.principal_for(db, user), objects=objects, origin="misp:test")
    db.commit()
    return result


def test_our_own_misp_export_imports_back_as_the_incident_grouping_with_its_tlp_and_tags(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    r = client.post(
        "/api/v1/incidents",
        headers=cast["fr"].headers,
        json={
            "title": "Wiper at a water utility",
            "description": "SCADA wiped.",
            "tlp": "amber",
            "pap": "green",
            "aware_at": "2026-11-20T08:00:00+00:00",
            "countries": ["FR"],
            "sectors": ["drinking-water"],
            "rsit_class": "malicious-code",
            "rsit_type": "infected-system",
            "tags": ['nis2:impact-subsectors-impacted="drinking-water-subsector"'],
            "observables": [
                {"type": "ipv4-addr", "value": "198.51.100.7"},
                {"type": "domain-name", "value": "c2.example"},
                {"type": "sha256", "value": "7f" * 32},
                {"type": "cve", "value": "CVE-2017-11774"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    incident = r.json()
    exported = client.get(f"/api/v1/incidents/{incident['id']}/misp", headers=cast["fr"].headers).json()

    result = misp_import.to_stix(json.loads(json.dumps(exported)))
    assert result.rejected == [] and result.events == 1
    objects = by_id(result.objects)
    container = objects["grouping--" + incident["id"].split("--", 1)[1]]  # unpublished, as we export it
    assert container["name"] == "Wiper at a water utility"
    assert 'rsit:malicious-code="infected-system"' in container["labels"]
    assert 'nis2:impact-subsectors-impacted="drinking-water-subsector"' in container["labels"]
    patterns = sorted(o["pattern"] for o in result.objects if o["type"] == "indicator")
    assert patterns == sorted(
        [
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.7']",
            "[domain-name:value = 'c2.example']",
            f"[file:hashes.'SHA-256' = '{'7f' * 32}']",
        ]
    )
    assert [o["name"] for o in result.objects if o["type"] == "vulnerability"] == ["CVE-2017-11774"]
    assert any(o["type"] == "note" and o["content"] == "SCADA wiped." for o in result.objects)

    first = ingest_as(db, cast["de"], result.objects)
    assert (first.imported, first.unchanged, first.rejected) == (len(result.objects), 0, [])
    imported = StixObject.origin.not_like("local:%")  # not the incident itself, published as STIX at creation
    stored = db.scalars(select(StixObject).where(imported)).all()
    assert {s.id for s in stored} == set(objects)
    # Every object of the AMBER event is stored AMBER (the marking definitions themselves are public).
    assert {s.id: s.tlp for s in stored if s.type not in ("marking-definition", "identity")} == {
        i: "amber" for i, o in objects.items() if o["type"] not in ("marking-definition", "identity")
    }
    # Importing the same export again changes nothing.
    again = ingest_as(db, cast["de"], misp_import.to_stix(exported).objects)
    assert (again.imported, again.unchanged) == (0, len(result.objects))
    assert count(db, StixObject, imported) == len(result.objects)


# --- the command line -----------------------------------------------------------------------------------------


def test_cli_imports_every_event_of_a_response_file_and_reimport_changes_nothing(
    run: Callable[..., Any], cast: dict[str, Actor], db: Session, tmp_path: Path
) -> None:
    src = require_shared(MISP_DATA / "tests" / "test_events_collection_2.json")
    expected = misp_import.convert(src.read_text())
    proc = run("import", "misp", str(src), "--as", cast["fr"].email, "--tlp", "green")
    assert (
        proc.stdout.strip().splitlines()[-1] == f"imported {len(expected.objects)}, unchanged 0, rejected 0 (custom 0)"
    )
    stored = db.scalars(select(StixObject)).all()
    assert {s.id for s in stored} == {o["id"] for o in expected.objects}
    assert sorted(s.id for s in stored if s.type == "grouping") == [
        "grouping--50bf87fc-d134-499f-9e26-806cbe89ed37",
        "grouping--71356f2b-eefe-48db-a93a-4aa2233e3a59",
    ]
    assert {s.tlp for s in stored} == {"green"}  # no TLP tag in these events: --tlp applies
    proc = run("import", "misp", str(src), "--as", cast["fr"].email, "--tlp", "green")
    assert (
        proc.stdout.strip().splitlines()[-1] == f"imported 0, unchanged {len(expected.objects)}, rejected 0 (custom 0)"
    )

    # A file with one bad attribute: reported by name; --atomic refuses all of it and writes nothing.
    partly = tmp_path / "partly.json"
    bad = {"uuid": "7a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b00", "type": "foo-bar", "category": "Other", "value": "x"}
    base = event()
    partly.write_text(json.dumps({"response": [{"Event": dict(base, Attribute=[*base["Attribute"], bad])}]}))
    before = count(db, StixObject)
    proc = run("import", "misp", str(partly), "--as", cast["fr"].email, "--atomic", ok=False)
    assert proc.returncode == 1 and "foo-bar" in proc.stderr and "Traceback" not in proc.stderr
    assert count(db, StixObject) == before
    proc = run("import", "misp", str(partly), "--as", cast["fr"].email)
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("imported ") and lines[0].endswith(", rejected 1 (custom 0)")
    assert lines[1:] == [
        f"event {EVENT_UUID} attribute 7a1e4b8e-0a6c-4c2a-9b1e-3f2d8c7a1b00: unknown MISP attribute type 'foo-bar'"
    ]
    assert count(db, StixObject) > before

    # Not JSON, not MISP, no such file, no such user: one line, exit 1, nothing written.
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "stix.json").write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": []}))
    after = count(db, StixObject)
    for args in (
        (str(tmp_path / "broken.json"), "--as", cast["fr"].email),
        (str(tmp_path / "stix.json"), "--as", cast["fr"].email),
        (str(tmp_path / "missing.json"), "--as", cast["fr"].email),
        (str(src), "--as", "nobody@example.org"),
    ):
        proc = run("import", "misp", *args, ok=False)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert count(db, StixObject) == after
