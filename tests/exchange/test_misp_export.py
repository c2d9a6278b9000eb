"""MISP export of incidents: the event, its tags and attributes, under the access layer, checked against MISP's own
golden mapping pairs and read back by pymisp."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymisp import MISPEvent

from tests.conftest import Actor, World, require_shared, shared_data

NOW = datetime.now(UTC).replace(microsecond=0)
GOLDEN = shared_data("misp", "documentation", "mapping")

# Our observable type, a raw value, and what the MISP attribute must be: type, value, category, to_ids.
OBSERVABLES: list[tuple[str, str, str, str, str, bool]] = [
    ("ipv4-addr", "198.51.100[.]7", "ip-dst", "198.51.100.7", "Network activity", True),
    ("ipv6-addr", "2001:db8::1", "ip-dst", "2001:db8::1", "Network activity", True),
    ("domain-name", "c2[.]evil.example", "domain", "c2.evil.example", "Network activity", True),
    ("url", "hxxps://evil.example/payload", "url", "https://evil.example/payload", "Network activity", True),
    ("email-addr", "Phisher[@]evil.example", "email", "phisher@evil.example", "Payload delivery", True),
    ("md5", "B2A5ABFEEF9E36964281A31E17B57C97", "md5", "b2a5abfeef9e36964281a31e17b57c97", "Payload delivery", True),
    (
        "sha1",
        "2920d5e6c579fce772e5506caf03af65579088bd",
        "sha1",
        "2920d5e6c579fce772e5506caf03af65579088bd",
        "Payload delivery",
        True,
    ),
    ("sha256", "7f" * 32, "sha256", "7f" * 32, "Payload delivery", True),
    ("cve", "cve-2017-11774", "vulnerability", "CVE-2017-11774", "External analysis", False),
    ("autonomous-system", "AS64500", "AS", "64500", "Network activity", False),
]


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("Outsider", type_="partner", country=None)
    return {"fr": world.user("CERT-FR"), "de": world.user("CERT-Bund"), "out": world.user("Outsider")}


def create(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "title": "Ransomware at a regional grid operator",
        "description": "Encrypted SCADA historians.",
        "tlp": "amber",
        "pap": "green",
        "aware_at": (NOW - timedelta(hours=2)).isoformat(),
        "occurred_at": (NOW - timedelta(days=1)).isoformat(),
        "countries": ["FR"],
        "sectors": ["energy", "health"],
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "root_cause": "malicious-actions",
        "threat_severity": "high",
        "impact_severity": "red",
        "outlook": "worsening",
        "tags": ['nis2:impact-subsectors-impacted="electricity"'],
        "observables": [{"type": "ipv4-addr", "value": "198.51.100.7"}],
        "share_with": {"communities": ["csirts-network"]},
    }
    b.update(over)
    r = client.post("/api/v1/incidents", json=b, headers=actor.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def export(client: TestClient, actor: Actor, incident_id: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/incidents/{incident_id}/misp", headers=actor.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert list(body) == ["Event"]
    return body["Event"]  # type: ignore[no-any-return]


def tags_of(event: dict[str, Any]) -> list[str]:
    return sorted(t["name"] for t in event.get("Tag", []))


def by_type(event: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for a in event.get("Attribute", []):
        out.setdefault(a["type"], []).append(a)
    return out


def all_observables(client: TestClient, actor: Actor, **over: Any) -> dict[str, Any]:
    items = [{"type": t, "value": raw} for t, raw, *_ in OBSERVABLES]
    return create(client, actor, observables=items, **over)


# --- the event -----------------------------------------------------------------------------------------------


def test_event_carries_the_incident_metadata_and_follows_its_lifecycle(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = create(client, cast["fr"])
    event = export(client, cast["fr"], inc["id"])
    assert event["uuid"] == inc["id"].removeprefix("incident--")
    assert event["info"] == "Ransomware at a regional grid operator"
    assert event["date"] == (NOW - timedelta(days=1)).date().isoformat()  # when it occurred, not when reported
    modified = int(datetime.fromisoformat(inc["modified"]).timestamp())
    assert int(event["timestamp"]) == int(event["publish_timestamp"]) == modified
    assert event["published"] is False
    assert (event["threat_level_id"], event["analysis"], event["distribution"]) == ("1", "0", "0")
    fr_uuid = cast["fr"].org_id.removeprefix("identity--")
    assert event["Orgc"] == event["Org"] == {"name": "CERT-FR", "uuid": fr_uuid}
    # The same incident is the same MISP event, export after export.
    assert export(client, cast["fr"], inc["id"]) == event

    # Moving the incident on moves the event: analysis, threat level, timestamp; the uuid stays.
    change = {"version": inc["version"], "status": "resolved", "threat_severity": "low", "title": "Ransomware (solved)"}
    r = client.patch(f"/api/v1/incidents/{inc['id']}", json=change, headers=cast["fr"].headers)
    assert r.status_code == 200, r.text
    later = export(client, cast["fr"], inc["id"])
    assert (later["uuid"], later["info"], later["analysis"], later["threat_level_id"]) == (
        event["uuid"],
        "Ransomware (solved)",
        "2",
        "3",
    )
    assert int(later["timestamp"]) >= int(event["timestamp"])

    # No occurrence time: the day of awareness; no threat severity: undefined (4); ongoing is analysis 1.
    bare = create(client, cast["fr"], occurred_at=None, threat_severity=None, tags=[])
    r = client.patch(
        f"/api/v1/incidents/{bare['id']}",
        json={"version": bare["version"], "status": "ongoing"},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 200, r.text
    plain = export(client, cast["fr"], bare["id"])
    assert plain["date"] == (NOW - timedelta(hours=2)).date().isoformat()
    assert (plain["threat_level_id"], plain["analysis"]) == ("4", "1")


def test_distribution_never_exceeds_the_tlp(client: TestClient, cast: dict[str, Actor]) -> None:
    expected = {"red": "0", "amber+strict": "0", "amber": "0", "green": "1", "clear": "3"}
    for tlp, distribution in expected.items():
        share: dict[str, Any] = {"communities": ["csirts-network"]} if tlp in ("amber", "green") else {}
        inc = create(client, cast["fr"], tlp=tlp, share_with=share)
        event = export(client, cast["fr"], inc["id"])
        assert event["distribution"] == distribution, tlp
        assert f"tlp:{tlp}" in tags_of(event)
        assert [t for t in tags_of(event) if t.startswith("tlp:")] == [f"tlp:{tlp}"]  # one TLP, TLP 2.0
        assert {a["distribution"] for a in event["Attribute"]} == {"5"}  # attributes inherit the event's


# --- access --------------------------------------------------------------------------------------------------


def test_readers_who_may_not_see_the_incident_get_404_like_for_a_missing_one(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    secret = create(
        client,
        cast["fr"],
        title="Wiper at a secret place",
        tlp="amber+strict",
        share_with={},
        observables=[{"type": "domain-name", "value": "secret-c2.example"}],
    )
    shared = create(client, cast["fr"])
    missing = f"incident--{uuid.uuid4()}"
    for actor in (cast["de"], cast["out"]):
        r = client.get(f"/api/v1/incidents/{secret['id']}/misp", headers=actor.headers)
        gone = client.get(f"/api/v1/incidents/{missing}/misp", headers=actor.headers)
        assert r.status_code == gone.status_code == 404
        assert "secret" not in r.text.lower() and "Wiper" not in r.text
    assert client.get(f"/api/v1/incidents/{secret['id']}/misp").status_code == 401
    # The community shares the AMBER one: CERT-Bund exports it; the outsider, not in the community, does not.
    assert export(client, cast["de"], shared["id"])["uuid"] == shared["id"].removeprefix("incident--")
    assert client.get(f"/api/v1/incidents/{shared['id']}/misp", headers=cast["out"].headers).status_code == 404

    # The owner exports its AMBER+STRICT incident: it stays with the receiving organisation.
    event = export(client, cast["fr"], secret["id"])
    assert event["info"] == "Wiper at a secret place" and event["distribution"] == "0"
    assert "tlp:amber+strict" in tags_of(event)
    assert [(a["type"], a["value"]) for a in event["Attribute"]] == [("domain", "secret-c2.example")]


# --- tags and attributes -------------------------------------------------------------------------------------


def test_tlp_pap_and_taxonomy_classification_become_misp_machine_tags(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = create(client, cast["fr"], tlp="green")
    assert tags_of(export(client, cast["fr"], inc["id"])) == sorted(
        [
            "tlp:green",
            "PAP:GREEN",
            'rsit:malicious-code="infected-system"',
            'nis:nature-root-cause="malicious-actions"',
            'nis:nature-severity="high"',
            'nis:impact-severity="red"',
            'nis:impact-outlook="worsening"',
            'nis2:impact-sectors-impacted="energy"',
            'nis2:impact-sectors-impacted="health"',
            'nis2:impact-subsectors-impacted="electricity"',  # the incident's own tag
        ]
    )
    # Tags given only as machine tags are the same MISP tags; no classification, no classification tags.
    tagged = create(
        client,
        cast["fr"],
        rsit_class=None,
        rsit_type=None,
        root_cause=None,
        threat_severity=None,
        impact_severity=None,
        outlook=None,
        sectors=[],
        tags=['rsit:intrusions="system-compromise"', 'nis:impact-outlook="stable"'],
    )
    assert tags_of(export(client, cast["fr"], tagged["id"])) == sorted(
        ["tlp:amber", "PAP:GREEN", 'rsit:intrusions="system-compromise"', 'nis:impact-outlook="stable"']
    )


def test_observables_become_attributes_of_the_misp_types(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = all_observables(client, cast["fr"])
    event = export(client, cast["fr"], inc["id"])
    got = {(a["type"], a["value"]): a for a in event["Attribute"]}
    assert len(got) == len(event["Attribute"]) == len(OBSERVABLES)
    for obs_type, _raw, misp_type, value, category, to_ids in OBSERVABLES:
        a = got[(misp_type, value)]
        assert (a["category"], a["to_ids"]) == (category, to_ids), obs_type
        assert int(a["timestamp"]) > 0
    uuids = [a["uuid"] for a in event["Attribute"]]
    assert len(set(uuids)) == len(uuids) and event["uuid"] not in uuids

    # Ranges and the victim's own addresses: recorded, but internal ones are not detection rules.
    more = create(
        client,
        cast["fr"],
        observables=[
            {"type": "ipv4-addr", "value": "203.0.113.0/24"},
            {"type": "ipv4-addr", "value": "10.1.2.3"},
            {"type": "ipv6-addr", "value": "fd00::5"},
        ],
    )
    attrs = {a["value"]: a for a in export(client, cast["fr"], more["id"])["Attribute"]}
    assert attrs["203.0.113.0/24"]["to_ids"] is True and attrs["203.0.113.0/24"]["comment"] == "network range"
    for internal in ("10.1.2.3", "fd00::5"):
        assert attrs[internal]["type"] == "ip-dst" and attrs[internal]["to_ids"] is False
        assert "internal" in attrs[internal]["comment"]
    # The same value in two incidents: two MISP attributes with their own uuids (MISP needs them unique).
    assert {a["uuid"] for a in event["Attribute"]}.isdisjoint(a["uuid"] for a in attrs.values())


def test_adding_observables_adds_attributes_and_keeps_the_existing_uuids(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = create(client, cast["fr"])
    before = export(client, cast["fr"], inc["id"])
    new = {"observables": [{"type": "sha256", "value": "ab" * 32}]}
    r = client.post(f"/api/v1/incidents/{inc['id']}/observables", json=new, headers=cast["fr"].headers)
    assert r.status_code == 200 and r.json() == {"added": 1}
    after = export(client, cast["fr"], inc["id"])
    assert [(a["type"], a["value"]) for a in after["Attribute"]] == [("ip-dst", "198.51.100.7"), ("sha256", "ab" * 32)]
    old = {a["value"]: a["uuid"] for a in before["Attribute"]}
    assert {a["value"]: a["uuid"] for a in after["Attribute"] if a["value"] in old} == old
    assert int(after["timestamp"]) >= int(before["timestamp"])


def test_attribute_types_and_categories_agree_with_the_misp_golden_pairs(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    require_shared(GOLDEN)
    pairs = [json.loads(p.read_text()) for p in sorted(GOLDEN.glob("*stix21*.json"))]
    golden: dict[str, dict[str, Any]] = {}
    for doc in pairs:
        for key, pair in doc.items():
            # misp_attributes_to_stix21.json: {"<misp type>": {"MISP": {...}, "STIX": ...}}
            if isinstance(pair, dict) and isinstance(pair.get("MISP"), dict) and pair["MISP"].get("type") == key:
                golden.setdefault(key, pair["MISP"])
    event = export(client, cast["fr"], all_observables(client, cast["fr"])["id"])
    exported = {a["type"]: a for a in event["Attribute"]}
    assert set(exported) == {"ip-dst", "domain", "url", "email", "md5", "sha1", "sha256", "vulnerability", "AS"}
    for misp_type, ours in exported.items():
        assert misp_type in golden, f"no golden pair for {misp_type}"
        assert (ours["type"], ours["category"]) == (golden[misp_type]["type"], golden[misp_type]["category"])
    # MISP stores AS numbers as digits, as in the golden pair.
    assert golden["AS"]["value"].isdigit() and exported["AS"]["value"].isdigit()


# --- reports and round trip ----------------------------------------------------------------------------------


def test_description_and_submitted_nis2_reports_become_event_reports(
    client: TestClient, cast: dict[str, Actor]
) -> None:
    inc = create(client, cast["fr"])
    assert [r["name"] for r in export(client, cast["fr"], inc["id"])["EventReport"]] == ["Incident description"]
    url = f"/api/v1/incidents/{inc['id']}/reports"
    for report in (
        {"kind": "early-warning", "summary": "Ransomware; OT affected.", "suspected_malicious": True},
        {"kind": "early-warning", "summary": "Ransomware; OT and IT affected.", "suspected_malicious": True},
        {"kind": "notification", "summary": "Assessment", "severity_and_impact": "Two substations offline."},
    ):
        r = client.post(url, json=report, headers=cast["fr"].headers)
        assert r.status_code == 201, r.text
    reports = {r["name"]: r for r in export(client, cast["fr"], inc["id"])["EventReport"]}
    assert set(reports) == {
        "Incident description",
        "NIS2 early warning (version 2)",
        "NIS2 incident notification (version 1)",
    }
    assert reports["Incident description"]["content"] == "Encrypted SCADA historians."
    warning = reports["NIS2 early warning (version 2)"]["content"]
    assert "OT and IT affected." in warning and "## Suspected malicious\n\ntrue" in warning
    assert "Two substations offline." in reports["NIS2 incident notification (version 1)"]["content"]
    ids = {
        r["kind"]: r["id"]
        for r in client.get(f"/api/v1/incidents/{inc['id']}", headers=cast["fr"].headers).json()["reports"]
    }
    assert reports["NIS2 early warning (version 2)"]["uuid"] == ids["early-warning"].removeprefix("report--")
    # The final report is not submitted yet: no event report for it.
    assert not any("final" in name for name in reports)


def test_pymisp_loads_the_export_and_keeps_everything(client: TestClient, cast: dict[str, Actor]) -> None:
    inc = all_observables(client, cast["fr"], tlp="amber+strict", share_with={})
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/reports",
        json={"kind": "early-warning", "summary": "OT down"},
        headers=cast["fr"].headers,
    )
    assert r.status_code == 201, r.text
    raw = client.get(f"/api/v1/incidents/{inc['id']}/misp", headers=cast["fr"].headers).text
    ours = json.loads(raw)["Event"]
    loaded = MISPEvent()
    loaded.load(raw)
    assert loaded.uuid == ours["uuid"] == inc["id"].removeprefix("incident--")
    assert loaded.info == ours["info"] and loaded.Orgc.name == "CERT-FR"
    assert (int(loaded.distribution), int(loaded.threat_level_id), int(loaded.analysis)) == (0, 1, 0)
    assert sorted(t.name for t in loaded.tags) == tags_of(ours)
    assert "tlp:amber+strict" in [t.name for t in loaded.tags]
    expected = sorted((misp_type, value) for _t, _r, misp_type, value, _c, _i in OBSERVABLES)
    assert sorted((a.type, a.value) for a in loaded.attributes) == expected
    assert {a.uuid: (a.category, a.to_ids) for a in loaded.attributes} == {
        a["uuid"]: (a["category"], a["to_ids"]) for a in ours["Attribute"]
    }
    assert sorted(er.name for er in loaded.event_reports) == sorted(er["name"] for er in ours["EventReport"])
    # Serialised again by pymisp, nothing is lost or changed.
    again = MISPEvent()
    again.load(loaded.to_json())
    assert (again.uuid, sorted(t.name for t in again.tags)) == (loaded.uuid, sorted(t.name for t in loaded.tags))
    assert sorted((a.type, a.value) for a in again.attributes) == expected
