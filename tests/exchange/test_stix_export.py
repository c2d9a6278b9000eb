"""STIX 2.1 export: valid bundles (stix2-validator), fixed TLP 2.0 markings, taxonomy labels, the round trip,
and nothing the reader may not see (404 for the object, no hidden id anywhere in a report's bundle)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from stix2validator import ValidationOptions, validate_instance  # type: ignore[import-untyped]

from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.exchange import stix_bundles, stix_common, stix_read
from cybercrisis.incidents.schemas import IncidentIn
from tests.conftest import Actor, World

NOW = datetime.now(UTC).replace(microsecond=0)
START = (NOW - timedelta(hours=12)).isoformat()
END = (NOW + timedelta(hours=12)).isoformat()
TLP2_EXT = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"


def valid(bundle: dict[str, Any] | str) -> dict[str, Any]:
    """The bundle, asserted valid by the OASIS validator (its messages shown when not)."""
    data = json.loads(bundle) if isinstance(bundle, str) else bundle
    result = validate_instance(data, ValidationOptions(version="2.1"))
    assert result.is_valid, "\n".join(str(e) for e in result.errors)
    return data


def by_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [o for o in bundle["objects"] if o["type"] == kind]


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.community("eu-cyclone", "operational")
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network", "eu-cyclone"))
    world.org("Outsider", country="IT")
    world.org("Grid", type_="entity", country="FR", parent="CERT-FR")
    return {
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "enisa2": world.user("ENISA", roles=("coordinator",)),
        "out": world.user("Outsider"),
    }


def incident_body(**over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "title": "Wiper at a grid operator",
        "description": "Destructive malware on SCADA jump hosts.",
        "tlp": "amber",
        "pap": "green",
        "aware_at": (NOW - timedelta(hours=5)).isoformat(),
        "occurred_at": (NOW - timedelta(hours=8)).isoformat(),
        "countries": ["FR", "DE"],
        "sectors": ["energy"],
        "entity_name": "Grid SA",
        "entity_type": "qualified-trust-service-provider",
        "entity_category": "essential",
        "rsit_class": "intrusions",
        "rsit_type": "system-compromise",
        "root_cause": "malicious-actions",
        "threat_severity": "high",
        "impact_severity": "red",
        "outlook": "worsening",
        "suspected_malicious": True,
        "cross_border": True,
        "tags": ['nis2:impact-sectors-impacted="health"'],
        "facts": {"users_affected": 120000, "unavailability_minutes": 45},
        "observables": [
            {"type": "ipv4-addr", "value": "198.51.100.7"},
            {"type": "ipv6-addr", "value": "2001:db8::1"},
            {"type": "domain-name", "value": "evil.example"},
            {"type": "url", "value": "hxxp://evil[.]example/payload"},
            {"type": "email-addr", "value": "ops@evil.example"},
            {"type": "sha256", "value": "a" * 64},
            {"type": "md5", "value": "b" * 32},
            {"type": "autonomous-system", "value": "AS64500"},
            {"type": "cve", "value": "CVE-2024-3400"},
        ],
        "share_with": {"organisations": []},
    }
    b.update(over)
    return b


def post_incident(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/incidents", json=incident_body(**over), headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def export(client: TestClient, actor: Actor, path: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/{path}/stix", headers=actor.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/stix+json;version=2.1"
    return valid(r.text)


def test_incident_bundle_is_valid_and_carries_incident_core_markings_labels_observables_and_reports(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = post_incident(client, cast["fr"], entity=cast["fr"].org_id)
    warning = {"kind": "early-warning", "summary": "Wiper suspected.", "suspected_malicious": True}
    r = client.post(f"/api/v1/incidents/{inc['id']}/reports", headers=cast["fr"].headers, json=warning)
    assert r.status_code == 201, r.text
    b = export(client, cast["fr"], f"incidents/{inc['id']}")
    [sdo] = by_type(b, "incident")
    assert sdo["id"] == inc["id"] and sdo["name"] == inc["title"] and sdo["description"] == inc["description"]
    assert sdo["created_by_ref"] == cast["fr"].org_id
    assert sdo["object_marking_refs"] == ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]
    core = sdo["extensions"][stix_common.INCIDENT_CORE]
    assert core == {
        "extension_type": "property-extension",
        "determination": "suspected",
        "investigation_status": "new",
        "criticality": 95,
        "impacted_entity_counts": {"individuals": 120000},
    }
    labels = set(sdo["labels"])
    assert {
        'rsit:intrusions="system-compromise"',
        'nis:impact-severity="red"',
        'nis:nature-severity="high"',
        'nis:nature-root-cause="malicious-actions"',
        'nis:impact-outlook="worsening"',
        "tlp:amber",
        "PAP:GREEN",
        'nis2:impact-sectors-impacted="energy"',
        'nis2:impact-sectors-impacted="health"',
    } <= labels
    # The marking-definition is the OASIS TLP 2.0 object itself, and nothing unreferenced rides along.
    markings = {m["id"]: m for m in by_type(b, "marking-definition")}
    amber = markings["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]
    assert amber["name"] == "TLP:AMBER" and amber["created"] == "2022-10-01T00:00:00.000Z"
    assert amber["extensions"] == {TLP2_EXT: {"extension_type": "property-extension", "tlp_2_0": "amber"}}
    assert STIX_MARKING_IDS[TLP.RED] not in markings and STIX_MARKING_IDS[TLP.AMBER_STRICT] not in markings
    # Observables: SCOs and a vulnerability, each linked to the incident, each marked like the incident.
    scos = {
        o["type"]: o
        for o in b["objects"]
        if o["type"] in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "autonomous-system")
    }
    assert scos["url"]["value"] == "http://evil.example/payload" and scos["autonomous-system"]["number"] == 64500
    assert all(o["object_marking_refs"] == sdo["object_marking_refs"] for o in scos.values())
    files = by_type(b, "file")
    assert sorted(next(iter(f["hashes"])) for f in files) == ["MD5", "SHA-256"]
    [vuln] = by_type(b, "vulnerability")
    assert vuln["name"] == "CVE-2024-3400" and vuln["external_references"][0]["external_id"] == "CVE-2024-3400"
    rels = {(r["relationship_type"], r["target_ref"]) for r in by_type(b, "relationship")}
    linked = {o["id"] for o in [*scos.values(), *files, vuln]}
    assert {t for k, t in rels if k == "related-to"} == linked
    assert ("impacts", cast["fr"].org_id) in rels
    assert sorted(loc["country"] for loc in by_type(b, "location")) == ["DE", "FR"]
    identities = {i["id"]: i for i in by_type(b, "identity")}
    assert identities[cast["fr"].org_id]["identity_class"] == "organization"
    # The submitted early warning is a note about the incident; unsubmitted obligations are not exported.
    [note] = by_type(b, "note")
    assert note["object_refs"] == [inc["id"]] and "Wiper suspected." in note["content"]
    assert note["abstract"] == "NIS2 early warning (version 1)"
    assert note["object_marking_refs"] == sdo["object_marking_refs"]


def test_every_tlp_maps_to_its_fixed_marking_definition_and_reexport_is_identical(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    for tlp in TLP:
        share = {"organisations": [cast["de"].org_id]} if tlp in (TLP.GREEN, TLP.AMBER) else {}
        inc = post_incident(client, cast["fr"], tlp=tlp.value, share_with=share, observables=[])
        b = export(client, cast["fr"], f"incidents/{inc['id']}")
        [sdo] = by_type(b, "incident")
        assert sdo["object_marking_refs"] == [STIX_MARKING_IDS[tlp]]
        assert f"tlp:{tlp.value}" in sdo["labels"]
        names = {m["id"]: m["name"] for m in by_type(b, "marking-definition")}
        assert names[STIX_MARKING_IDS[tlp]] == tlp.label
    # Same data, same bytes: ids and the bundle id are derived, not random.
    first = client.get(f"/api/v1/incidents/{inc['id']}/stix", headers=cast["fr"].headers).content
    assert client.get(f"/api/v1/incidents/{inc['id']}/stix", headers=cast["fr"].headers).content == first


def test_round_trip_ours_to_stix_to_ours_loses_nothing_stix_carries(client: TestClient, cast: dict[str, Actor]) -> None:
    body = incident_body(entity=cast["fr"].org_id)
    inc = post_incident(client, cast["fr"], **{k: v for k, v in body.items() if k != "share_with"})
    b = export(client, cast["fr"], f"incidents/{inc['id']}")
    back = stix_read.incident_from_stix(json.dumps(b))
    assert back.pop("status") == "new"
    again = IncidentIn.model_validate(back)  # what STIX carried is a valid incident of ours
    original = IncidentIn.model_validate(body)
    fields = set(IncidentIn.model_fields) - {"share_with"}
    observables = {(o.type, o.value) for o in again.observables}
    assert ("url", "http://evil.example/payload") in observables and ("cve", "CVE-2024-3400") in observables
    assert len(observables) == len(original.observables)
    for key in sorted(fields - {"observables"}):
        mine, theirs = getattr(again, key), getattr(original, key)
        assert (sorted(mine) if key == "countries" else mine) == (sorted(theirs) if key == "countries" else theirs), key
    # Importing it again and exporting gives the same STIX, apart from ids and times.
    copy = client.post("/api/v1/incidents", json=again.model_dump(mode="json"), headers=cast["fr"].headers)
    assert copy.status_code == 201, copy.text
    b2 = export(client, cast["fr"], f"incidents/{copy.json()['id']}")
    [one], [two] = by_type(b, "incident"), by_type(b2, "incident")
    for key in ("name", "description", "labels", "object_marking_refs"):
        assert one[key] == two[key]
    strip = {"aware_at", "occurred_at", "reports"}  # the NIS2 reports' clocks: ids of their own, times
    ours = stix_common.EXTENSION_ID
    assert {k: v for k, v in one["extensions"][ours].items() if k not in strip} == {
        k: v for k, v in two["extensions"][ours].items() if k not in strip
    }
    kinds = [[r["kind"] for r in b["extensions"][ours]["reports"]] for b in (one, two)]
    assert kinds[0] == kinds[1] and kinds[0], kinds
    assert {o["id"] for o in b["objects"] if o["type"] not in ("incident", "relationship")} == {
        o["id"] for o in b2["objects"] if o["type"] not in ("incident", "relationship")
    }
    # A status later in the lifecycle travels too (investigation_status new|open|closed, ours exact).
    inc2 = client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()
    r = client.patch(
        f"/api/v1/incidents/{inc['id']}",
        json={"version": inc2["version"], "status": "contained"},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 200, r.text
    b3 = export(client, cast["fr"], f"incidents/{inc['id']}")
    [sdo3] = by_type(b3, "incident")
    core = sdo3["extensions"][stix_common.INCIDENT_CORE]
    assert (core["investigation_status"], core["determination"]) == ("open", "successful-attempt")
    assert stix_read.incident_from_stix(b3)["status"] == "contained"


def test_third_party_incident_is_read_from_standard_fields_and_bad_input_is_named() -> None:
    third = {
        "type": "bundle",
        "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
        "objects": [
            {
                "type": "incident",
                "spec_version": "2.1",
                "id": "incident--2cd7d65c-a2a8-4e52-8d5b-7c3a5b5b2e10",
                "created": "2026-01-10T08:00:00.000Z",
                "modified": "2026-01-10T08:00:00.000Z",
                "name": "Phishing wave",
                "labels": ['rsit:fraud="phishing"', "free text"],
                "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],
                "extensions": {
                    stix_common.INCIDENT_CORE: {
                        "extension_type": "property-extension",
                        "determination": "suspected",
                        "investigation_status": "open",
                        "impacted_entity_counts": {"individuals": 30},
                    }
                },
            },
            {
                "type": "domain-name",
                "spec_version": "2.1",
                "id": "domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5",
                "value": "login-bank.example",
            },
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": "relationship--1e7f3a4c-3bb1-4d0e-a7e0-3f0b5f1c2a11",
                "created": "2026-01-10T08:00:00.000Z",
                "modified": "2026-01-10T08:00:00.000Z",
                "relationship_type": "related-to",
                "source_ref": "incident--2cd7d65c-a2a8-4e52-8d5b-7c3a5b5b2e10",
                "target_ref": "domain-name--3c10e93f-798e-5a26-a0c1-08156efab7f5",
            },
        ],
    }
    got = stix_read.incident_from_stix(third)
    assert (got["tlp"], got["status"], got["rsit_class"], got["rsit_type"]) == ("green", "ongoing", "fraud", "phishing")
    assert got["observables"] == [{"type": "domain-name", "value": "login-bank.example"}]
    assert got["facts"] == {"users_affected": 30} and got["tags"] == []
    assert got["aware_at"] == datetime(2026, 1, 10, 8, tzinfo=UTC)
    from cybercrisis.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no incident"):
        stix_read.incident_from_stix({"type": "bundle", "id": third["id"], "objects": third["objects"][1:]})
    unmarked = dict(third["objects"][0], object_marking_refs=[], labels=[])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="no TLP marking"):
        stix_read.incident_from_stix([unmarked])
    with pytest.raises(InvalidInput, match="not JSON"):
        stix_read.incident_from_stix("{not json")


def test_reader_who_may_not_see_an_object_gets_404_for_its_stix(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = post_incident(client, cast["fr"])  # AMBER, shared with nobody else
    alert = client.post(
        "/api/v1/alerts",
        headers=cast["fr"].headers,
        json={
            "title": "Wiper",
            "body": "IoCs attached.",
            "tlp": "amber",
            "recipients": {"organisations": [cast["de"].org_id]},
        },
    ).json()
    rep = client.post(
        "/api/v1/sitreps",
        json={"level": "technical", "period_start": START, "period_end": END},
        headers=cast["enisa"].headers,
    ).json()
    for path in (f"incidents/{inc['id']}", f"alerts/{alert['id']}", f"sitreps/{rep['id']}"):
        r = client.get(f"/api/v1/{path}/stix", headers=cast["out"].headers)
        assert r.status_code == 404, (path, r.text)
        assert client.get(f"/api/v1/{path}/stix").status_code == 401
    assert client.get(f"/api/v1/incidents/{inc['id']}/stix", headers=cast["de"].headers).status_code == 404
    missing = "incident--00000000-0000-4000-8000-000000000000"
    assert client.get(f"/api/v1/incidents/{missing}/stix", headers=cast["fr"].headers).status_code == 404


def test_alert_bundle_refers_to_its_incident_only_for_readers_who_may_see_it(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = post_incident(client, cast["fr"])  # AMBER, CERT-FR only
    r = client.post(
        "/api/v1/alerts",
        headers=cast["fr"].headers,
        json={
            "title": "Wiper hitting grid operators",
            "body": "Block 198.51.100.7 now.",
            "tlp": "amber",
            "incident": inc["id"],
            "recipients": {"organisations": [cast["de"].org_id]},
        },
    )
    assert r.status_code == 201, r.text
    alert = r.json()
    mine = export(client, cast["fr"], f"alerts/{alert['id']}")
    [report] = by_type(mine, "report")
    assert report["object_refs"] == [inc["id"]] and report["description"] == "Block 198.51.100.7 now."
    assert report["object_marking_refs"] == [STIX_MARKING_IDS[TLP.AMBER]] and "early-warning" in report["labels"]
    r = client.get(f"/api/v1/alerts/{alert['id']}/stix", headers=cast["de"].headers)
    theirs = valid(r.text)
    assert inc["id"] not in r.text and inc["title"] not in r.text
    [report] = by_type(theirs, "report")
    assert report["object_refs"] == [cast["fr"].org_id] and report["name"] == "Wiper hitting grid operators"


def test_sitrep_bundle_is_the_report_as_this_reader_sees_it(client: TestClient, cast: dict[str, Actor]) -> None:
    shared = post_incident(client, cast["fr"], tlp="green", share_with={"communities": ["csirts-network"]})
    hidden = post_incident(
        client, cast["fr"], title="Insider at a hospital", share_with={"organisations": [cast["enisa"].org_id]}
    )
    rep = client.post(
        "/api/v1/sitreps",
        json={"level": "technical", "period_start": START, "period_end": END},
        headers=cast["enisa"].headers,
    ).json()
    assert (
        client.post(
            f"/api/v1/sitreps/{rep['id']}/approve", json={"version": 1}, headers=cast["enisa2"].headers
        ).status_code
        == 200
    )
    r = client.post(f"/api/v1/sitreps/{rep['id']}/publish", json={"version": 1}, headers=cast["enisa"].headers)
    assert r.status_code == 200, r.text
    author = export(client, cast["enisa"], f"sitreps/{rep['id']}")
    [report] = by_type(author, "report")
    assert report["object_refs"] == sorted([shared["id"], hidden["id"]])
    assert report["object_marking_refs"] == [STIX_MARKING_IDS[TLP.AMBER]]
    r = client.get(f"/api/v1/sitreps/{rep['id']}/stix", headers=cast["de"].headers)
    reader = valid(r.text)
    [report] = by_type(reader, "report")
    assert report["object_refs"] == [shared["id"]]
    assert report["object_marking_refs"] == [STIX_MARKING_IDS[TLP.GREEN]] and "tlp:green" in report["labels"]
    assert hidden["id"] not in r.text and "Insider" not in r.text and STIX_MARKING_IDS[TLP.AMBER] not in r.text


def test_cli_exports_one_valid_bundle_of_what_the_user_may_see_with_counts(
    client: TestClient,
    cast: dict[str, Actor],
    run,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    mine = post_incident(client, cast["fr"])
    clear = post_incident(
        client,
        cast["de"],
        tlp="clear",
        title="Public DDoS",
        observables=[{"type": "ipv4-addr", "value": "198.51.100.7"}],
    )
    hidden = post_incident(client, cast["de"], title="German secret", observables=[])
    client.post(
        f"/api/v1/incidents/{mine['id']}/reports",
        headers=cast["fr"].headers,
        json={"kind": "early-warning", "summary": "Wiper suspected."},
    )
    client.post(
        "/api/v1/alerts",
        headers=cast["fr"].headers,
        json={
            "title": "Wiper",
            "body": "IoCs.",
            "tlp": "amber",
            "incident": mine["id"],
            "recipients": {"organisations": [cast["de"].org_id]},
        },
    )
    out = tmp_path / "all.json"
    proc = run("export", "stix", "--out", str(out), "--as", cast["fr"].email)
    bundle = valid(out.read_text())
    text = out.read_text()
    assert hidden["id"] not in text and "German secret" not in text
    assert {o["id"] for o in by_type(bundle, "incident")} == {mine["id"], clear["id"]}
    assert len({o["id"] for o in bundle["objects"]}) == len(bundle["objects"])  # every object once
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.startswith("exported 2 incidents, 10 observables, 1 reports, 1 alerts, 0 situation reports: ")
    assert f"{len(bundle['objects'])} STIX objects" in summary
    # The operator sees TLP:CLEAR only; --since in the future exports nothing but stays a valid bundle.
    run("export", "stix", "--out", str(out))
    assert {o["id"] for o in by_type(valid(out.read_text()), "incident")} == {clear["id"]}
    later = (NOW + timedelta(days=1)).isoformat()
    proc = run("export", "stix", "--out", str(out), "--as", cast["fr"].email, "--since", later)
    assert by_type(valid(out.read_text()), "incident") == [] and "exported 0 incidents" in proc.stdout
    # Errors: one line, exit 1, and the previous file is left as it was.
    before = out.read_text()
    for args in (("--since", "yesterday"), ("--since", "2026-01-01T00:00"), ("--as", "nobody@example.org")):
        proc = run("export", "stix", "--out", str(out), *args, ok=False)
        assert proc.returncode == 1 and "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert out.read_text() == before
    proc = run("export", "stix", "--out", str(tmp_path / "no" / "dir.json"), ok=False)
    assert proc.returncode == 1 and "no directory" in proc.stderr


def test_export_loads_observables_and_reports_per_batch_not_per_incident(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    import io

    from sqlalchemy import event

    from cybercrisis.accounts.models import User
    from cybercrisis.accounts.service import principal_for

    for n in range(12):
        values = [{"type": "ipv4-addr", "value": f"198.51.100.{n}"}, {"type": "domain-name", "value": f"x{n}.example"}]
        post_incident(client, cast["fr"], title=f"Incident {n}", observables=values)
    reader = principal_for(db, db.get(User, cast["fr"].user_id))  # type: ignore[arg-type]
    statements: list[str] = []
    engine = db.get_bind()

    def seen(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", seen)
    try:
        buf = io.StringIO()
        writer = stix_bundles.BundleWriter(buf)
        counts = stix_bundles.export_all(db, writer, reader=reader, settings=client.app.state.settings)  # type: ignore[attr-defined]
        writer.finish(db)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert (counts.incidents, counts.observables) == (12, 24)
    valid(buf.getvalue())
    assert len(statements) < 25, "\n".join(statements)
