"""Law-enforcement hand-offs through the API: evidence packages, hashed files and the chain of custody, under TLP."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import threading
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.access.policy import ORG
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis, CrisisIncident
from cybercrisis.db import new_id, unit_of_work
from cybercrisis.directory import service as directory
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.errors import InvalidInput
from cybercrisis.handoffs import evidence
from cybercrisis.handoffs.models import CustodyEntry, EvidenceFile, Handoff
from cybercrisis.notify.models import OutboxMessage
from tests.conftest import Actor, World, count
from tests.notify.helpers import add_contact, outbox

NOW = datetime.now(UTC).replace(microsecond=0)
EC3 = org_id_for_key("europol-ec3")
MISSING = "incident--00000000-0000-4000-8000-000000000000"
LIMIT = 4096  # evidence_max_bytes in these tests
PCAP = bytes(range(256)) * 12  # 3072 bytes: under the limit


@dataclass
class Scene:
    actors: dict[str, Actor]
    orgs: dict[str, str]
    a: str  # CERT-FR's flagged incident, AMBER, shared with CERT-Bund
    b: str  # CERT-FR's incident, not flagged
    c: str  # CERT-Bund's flagged incident, AMBER+STRICT, CERT-Bund only
    crisis: str  # CERT-Bund's flagged crisis linking a and c, shared with CERT-FR
    calm_crisis: str  # CERT-FR's crisis, not flagged
    settings: Settings

    def __getitem__(self, key: str) -> Actor:
        return self.actors[key]


def _incident(client: TestClient, actor: Actor, observables: list[tuple[str, str]], **over: Any) -> str:
    body = {
        "title": "Ransomware at a regional rail operator",
        "tlp": "amber",
        "countries": ["FR"],
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "suspected_malicious": True,
        "observables": [{"type": t, "value": v} for t, v in observables],
        **over,
    }
    r = client.post("/api/v1/incidents", json=body, headers=actor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _crisis(factory: sessionmaker[Session], owner: str, *, flagged: bool, incidents: list[str], to: list[str]) -> str:
    """Crises are arranged as rows: this module only reads them (through the access layer)."""
    with unit_of_work(factory) as s:
        c = Crisis(
            id=new_id("crisis"),
            owner_org_id=owner,
            tlp="amber",
            title="Coordinated ransomware campaign",
            justification="multi-member-state-impact",
            stage="csirts-network",
            suspected_criminal=flagged,
        )
        s.add(c)
        s.flush()
        sharing.write(s, object_id=c.id, entries=[(ORG, o) for o in to], added_by=owner)
        s.add_all(CrisisIncident(crisis_id=c.id, incident_id=i) for i in incidents)
        return c.id


@pytest.fixture
def scene(client: TestClient, world: World, settings: Settings, session_factory: sessionmaker[Session]) -> Scene:
    """Two CSIRTs with incidents and a crisis, a third one outside, two police units, Europol EC3 and ENISA."""
    settings.evidence_max_bytes = LIMIT
    world.community("csirts-network")
    for short, cc in (("CERT-FR", "FR"), ("CERT-Bund", "DE"), ("CERT-EE", "EE")):
        world.org(short, country=cc, communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network",))
    world.org("OFAC", type_="law-enforcement", country="FR")
    world.org("BKA", type_="law-enforcement", country="DE")
    with unit_of_work(session_factory) as s:  # Europol EC3 is known by its directory key, whatever its type
        directory.create_organisation(
            s,
            actor=SYSTEM,
            name="Europol European Cybercrime Centre",
            short_name="Europol EC3",
            type_="eu-body",
            country=None,
            levels=["technical"],
            communities=[],
            org_id=EC3,
        )
    world.orgs["EC3"] = EC3
    for short in ("CERT-FR", "OFAC", "BKA", "EC3"):
        add_contact(session_factory, world.orgs[short], "email", f"desk@{short.lower()}.example")
    actors = {
        "fr": world.user("CERT-FR"),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
        "de": world.user("CERT-Bund"),
        "ee": world.user("CERT-EE"),
        "ofac": world.user("OFAC"),
        "bka": world.user("BKA"),
        "ec3": world.user("EC3"),
    }
    a = _incident(
        client,
        actors["fr"],
        [("ipv4-addr", "198.51.100.7"), ("domain-name", "evil.example")],
        share_with={"organisations": [world.orgs["CERT-Bund"]]},
    )
    b = _incident(client, actors["fr"], [("ipv4-addr", "198.51.100.8")], suspected_malicious=False)
    c = _incident(
        client,
        actors["de"],
        [("ipv4-addr", "203.0.113.9"), ("ipv4-addr", "198.51.100.7")],
        tlp="amber+strict",
        countries=["DE"],
    )
    crisis = _crisis(
        session_factory, world.orgs["CERT-Bund"], flagged=True, incidents=[a, c], to=[world.orgs["CERT-FR"]]
    )
    calm = _crisis(session_factory, world.orgs["CERT-FR"], flagged=False, incidents=[a], to=[])
    return Scene(actors, world.orgs, a, b, c, crisis, calm, settings)


def body(scene: Scene, **over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "incident": scene.a,
        "recipient": scene.orgs["OFAC"],
        "reason": "Extortion note left on the encrypted servers; the operator filed a complaint.",
        "observables": [
            {"type": "ipv4-addr", "value": "198.51.100[.]7"},
            {"type": "domain-name", "value": "Evil.Example"},
        ],
    }
    b.update(over)
    return b


def handoff(client: TestClient, scene: Scene, actor: str = "fr", **over: Any) -> dict[str, Any]:
    r = client.post("/api/v1/handoffs", json=body(scene, **over), headers=scene[actor].headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def upload(
    client: TestClient, scene: Scene, hid: str, data: bytes, actor: str = "fr", name: str = "capture.pcap", **form: str
) -> Any:
    files = {"file": (name, data, "application/vnd.tcpdump.pcap")}
    return client.post(f"/api/v1/handoffs/{hid}/files", files=files, data=form, headers=scene[actor].headers)


def written(db: Session) -> tuple[int, ...]:
    return tuple(count(db, m) for m in (Handoff, CustodyEntry, EvidenceFile, Share, OutboxMessage, AuditEvent))


def stored(settings: Settings) -> list[Path]:
    root = settings.data_dir / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# --- creating -------------------------------------------------------------------------------------------------


def test_incident_handoff_reaches_the_recipient_only_starting_the_chain_of_custody(
    client: TestClient, scene: Scene, db: Session
) -> None:
    h = handoff(client, scene)
    assert h["id"].startswith("handoff--") and h["incident"] == scene.a and h["crisis"] is None
    assert (h["state"], h["tlp"], h["sealed"]) == ("handed-over", "amber+strict", False)
    assert h["observables"] == [
        {"type": "ipv4-addr", "value": "198.51.100.7"},
        {"type": "domain-name", "value": "evil.example"},
    ]
    assert (h["sender"]["short_name"], h["recipient"]["short_name"], h["holder"]["short_name"]) == (
        "CERT-FR",
        "OFAC",
        "OFAC",
    )
    assert h["share_with"] == {"organisations": [scene.orgs["OFAC"]], "communities": [], "users": []}
    [first] = h["custody"]
    assert (first["seq"], first["action"], first["from_org"]["id"], first["to_org"]["id"], first["by"]) == (
        1,
        "handed-over",
        scene.orgs["CERT-FR"],
        scene.orgs["OFAC"],
        scene["fr"].user_id,
    )
    assert first["items"] == ["ipv4-addr:198.51.100.7", "domain-name:evil.example"]
    assert [e["tag"] for e in h["timeline"]] == ["handoffs:handoff:create"]
    summary = h["timeline"][0]["summary"]
    assert summary == {
        "incident": scene.a,
        "crisis": None,
        "recipient": scene.orgs["OFAC"],
        "observables": 2,
        "tlp": "amber+strict",
    }
    # The recipient reads and lists it; a third CSIRT and another police unit neither read nor list it.
    assert client.get(f"/api/v1/handoffs/{h['id']}", headers=scene["ofac"].headers).json()["id"] == h["id"]
    assert [i["id"] for i in client.get("/api/v1/handoffs", headers=scene["ofac"].headers).json()["items"]] == [h["id"]]
    for outsider in ("ee", "bka", "de"):
        assert client.get(f"/api/v1/handoffs/{h['id']}", headers=scene[outsider].headers).status_code == 404
        assert client.get(f"/api/v1/handoffs/{h['id']}/package", headers=scene[outsider].headers).status_code == 404
        assert client.get("/api/v1/handoffs", headers=scene[outsider].headers).json()["items"] == []
    # The recipient is told, with nothing of the package in the message.
    [msg] = outbox(db, OutboxMessage.event == "handoffs:handoff:create")
    assert msg.target == "desk@ofac.example" and msg.object_id == h["id"]
    text = msg.subject + msg.body + json.dumps(msg.payload)
    assert "TLP:AMBER+STRICT" in msg.subject and "CERT-FR" in msg.subject
    assert "198.51.100.7" not in text and "evil.example" not in text and "Extortion" not in text


def test_europol_ec3_is_a_recipient_and_amber_is_a_marking(client: TestClient, scene: Scene) -> None:
    h = handoff(client, scene, recipient=EC3, tlp="AMBER", observables=[])
    assert (h["recipient"]["short_name"], h["tlp"], h["custody"][0]["items"]) == ("Europol EC3", "amber", [])
    assert client.get(f"/api/v1/handoffs/{h['id']}", headers=scene["ec3"].headers).status_code == 200


def test_bad_handoffs_are_refused_clearly_and_write_nothing(client: TestClient, scene: Scene, db: Session) -> None:
    before = written(db)
    enisa = scene.orgs["ENISA"]
    cases: list[tuple[str, dict[str, Any], int, str]] = [
        ("fr", {"incident": scene.b}, 409, "flag it as suspected criminal first"),
        ("fr", {"incident": None, "crisis": scene.calm_crisis}, 409, "flag it as suspected criminal first"),
        ("fr", {"recipient": enisa}, 422, "ENISA is not a law-enforcement organisation"),
        ("fr", {"recipient": scene.orgs["CERT-FR"]}, 422, "not a law-enforcement organisation"),
        ("fr", {"recipient": "identity--00000000-0000-4000-8000-000000000000"}, 422, "no organisation with id"),
        ("fr", {"observables": [{"type": "ipv4-addr", "value": "203.0.113.9"}]}, 422, "ipv4-addr:203.0.113.9"),
        ("fr", {"observables": [{"type": "ipv4-addr", "value": "not an address"}]}, 422, "observables[0]"),
        ("fr", {"observables": [{"type": "registry-key", "value": "HKLM"}]}, 422, "not an observable type"),
        ("fr", {"incident": None}, 422, "exactly one of incident or crisis"),
        ("fr", {"crisis": scene.crisis}, 422, "exactly one of incident or crisis"),
        ("fr", {"incident": MISSING}, 404, "no incident"),
        ("fr", {"incident": None, "crisis": "crisis--00000000-0000-4000-8000-000000000000"}, 404, "no crisis"),
        ("fr", {"incident": scene.c}, 404, "no incident"),  # CERT-Bund's AMBER+STRICT incident: unseen by CERT-FR
        ("fr", {"tlp": "red"}, 422, "TLP:RED"),
        ("fr", {"tlp": "green"}, 422, "TLP:AMBER+STRICT or TLP:AMBER"),
        ("fr", {"tlp": "clear"}, 422, "TLP:AMBER+STRICT or TLP:AMBER"),
        ("fr", {"tlp": "white"}, 422, "TLP 1.0"),
        ("fr", {"reason": " "}, 422, "reason"),
        ("fr_viewer", {}, 403, "handoffs:handoff:write"),
        ("ofac", {}, 404, "no incident"),  # the police unit cannot hand over what it cannot read
    ]
    for actor, change, status, says in cases:
        r = client.post("/api/v1/handoffs", json=body(scene, **change), headers=scene[actor].headers)
        assert (r.status_code, says in r.text) == (status, True), (change, r.text)
    # Items not visible are all named, in the field that was wrong.
    r = client.post(
        "/api/v1/handoffs",
        headers=scene["fr"].headers,
        json=body(
            scene,
            observables=[
                {"type": "ipv4-addr", "value": "198.51.100.7"},
                {"type": "ipv4-addr", "value": "203.0.113.9"},
                {"type": "ipv4-addr", "value": "198.51.100.8"},
            ],
        ),
    )
    [error] = r.json()["errors"]
    assert error["field"] == "observables" and error["items"] == ["ipv4-addr:203.0.113.9", "ipv4-addr:198.51.100.8"]
    # An unknown hand-off is not found, whatever is asked of it.
    ghost = "/api/v1/handoffs/handoff--00000000-0000-4000-8000-000000000000"
    asks: list[tuple[str, str, dict[str, str] | None]] = [
        ("GET", "", None),
        ("GET", "/package", None),
        ("GET", "/package.zip", None),
        ("GET", "/files/1", None),
        ("POST", "/receive", None),
        ("POST", "/notes", {"note": "x"}),
        ("POST", "/transfer", {"to": scene.orgs["BKA"]}),
    ]
    for method, path, payload in asks:
        assert client.request(method, ghost + path, json=payload, headers=scene["ofac"].headers).status_code == 404
    assert upload(client, scene, ghost.rsplit("/", 1)[-1], PCAP).status_code == 404
    assert written(db) == before
    assert stored(scene.settings) == []


def test_crisis_handoff_carries_only_what_the_sender_may_read_and_no_wider(
    client: TestClient, scene: Scene, db: Session
) -> None:
    base = {"incident": None, "crisis": scene.crisis}
    before = written(db)
    # 203.0.113.9 was sighted only in CERT-Bund's AMBER+STRICT incident, which CERT-FR cannot read: refused, and in
    # the same words as a value sighted nowhere, so the refusal tells nothing about other organisations' incidents.
    secret = client.post(
        "/api/v1/handoffs",
        json=body(scene, **base, observables=[{"type": "ipv4-addr", "value": "203.0.113.9"}]),
        headers=scene["fr"].headers,
    )
    nowhere = client.post(
        "/api/v1/handoffs",
        json=body(scene, **base, observables=[{"type": "ipv4-addr", "value": "203.0.113.99"}]),
        headers=scene["fr"].headers,
    )
    assert secret.status_code == nowhere.status_code == 422
    assert secret.json()["detail"].replace("203.0.113.9", "X") == nowhere.json()["detail"].replace("203.0.113.99", "X")
    # CERT-Bund reads both incidents, but the value from its AMBER+STRICT one may not leave as AMBER.
    wide = body(
        scene,
        **base,
        recipient=scene.orgs["BKA"],
        tlp="amber",
        observables=[{"type": "ipv4-addr", "value": "203.0.113.9"}],
    )
    r = client.post("/api/v1/handoffs", json=wide, headers=scene["de"].headers)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "tlp" and "TLP:AMBER+STRICT" in r.json()["detail"]
    assert written(db) == before
    # A value CERT-FR sees in the crisis's AMBER incident goes over; so does CERT-Bund's own value, strictly marked.
    h = handoff(client, scene, **base, observables=[{"type": "ipv4-addr", "value": "198.51.100.7"}])
    assert (h["crisis"], h["incident"], h["custody"][0]["items"]) == (scene.crisis, None, ["ipv4-addr:198.51.100.7"])
    de = handoff(
        client,
        scene,
        "de",
        **base,
        recipient=scene.orgs["BKA"],
        observables=[{"type": "ipv4-addr", "value": "203.0.113.9"}],
    )
    assert de["sender"]["short_name"] == "CERT-Bund" and de["tlp"] == "amber+strict"
    crisis_list = client.get(f"/api/v1/handoffs?crisis={scene.crisis}", headers=scene["fr"].headers).json()
    assert [i["id"] for i in crisis_list["items"]] == [h["id"]]  # CERT-FR does not see CERT-Bund's hand-off


# --- evidence files -------------------------------------------------------------------------------------------


def test_evidence_file_is_hashed_on_arrival_stored_by_digest_and_downloaded_unchanged(
    client: TestClient, scene: Scene, db: Session
) -> None:
    h = handoff(client, scene)
    digest = hashlib.sha256(PCAP).hexdigest()
    r = upload(client, scene, h["id"], PCAP, name="../../etc/capture 1.pcap", sha256=digest.upper())
    assert r.status_code == 201, r.text
    f = r.json()
    assert (f["sha256"], f["size"], f["name"], f["media_type"]) == (
        digest,
        len(PCAP),
        "capture 1.pcap",
        "application/vnd.tcpdump.pcap",
    )
    path = scene.settings.data_dir / "evidence" / digest[:2] / digest
    assert stored(scene.settings) == [path] and path.read_bytes() == PCAP
    # The recipient downloads the same bytes, with the digest recorded on arrival in the headers.
    got = client.get(f"/api/v1/handoffs/{h['id']}/files/{f['id']}", headers=scene["ofac"].headers)
    assert got.status_code == 200 and got.content == PCAP
    assert got.headers["x-evidence-sha256"] == digest
    assert got.headers["repr-digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(PCAP).digest()).decode() + ":"
    assert got.headers["content-disposition"].startswith("attachment")
    for who, url in (
        ("ee", f"/api/v1/handoffs/{h['id']}/files/{f['id']}"),
        ("ofac", f"/api/v1/handoffs/{h['id']}/files/{f['id'] + 1}"),
    ):
        assert client.get(url, headers=scene[who].headers).status_code == 404
    # The chain names the file by digest; the audit trail records its size and id, not its digest.
    detail = client.get(f"/api/v1/handoffs/{h['id']}", headers=scene["fr"].headers).json()
    assert [(e["seq"], e["action"], e["items"]) for e in detail["custody"]][1:] == [(2, "handed-over", [digest])]
    assert detail["files"] == [f]
    assert detail["timeline"][-1]["tag"] == "handoffs:file:add"
    assert detail["timeline"][-1]["summary"] == {"file": f["id"], "size": len(PCAP)}
    # The same content twice in one package is refused; another hand-off shares the stored copy.
    before = written(db)
    assert upload(client, scene, h["id"], PCAP, name="again.pcap").status_code == 409
    assert written(db) == before
    other = handoff(client, scene, recipient=EC3)
    assert upload(client, scene, other["id"], PCAP).status_code == 201
    assert stored(scene.settings) == [path]
    # A file whose store copy lost bytes is not served as if it were the evidence.
    path.write_bytes(PCAP[:-1])
    broken = client.get(f"/api/v1/handoffs/{h['id']}/files/{f['id']}", headers=scene["ofac"].headers)
    assert broken.status_code == 500 and "no longer has its recorded size" in broken.json()["detail"]


def test_oversized_tampered_or_misplaced_files_are_refused_and_leave_nothing(
    client: TestClient, scene: Scene, db: Session
) -> None:
    h = handoff(client, scene)
    before = written(db)
    big = upload(client, scene, h["id"], b"x" * (LIMIT + 1))
    assert big.status_code == 413 and f"at most {LIMIT} bytes" in big.json()["detail"]
    tampered = upload(client, scene, h["id"], PCAP, sha256=hashlib.sha256(PCAP + b"!").hexdigest())
    assert tampered.status_code == 422 and "the file changed in transit" in tampered.json()["detail"]
    assert tampered.json()["errors"][0]["received"] == hashlib.sha256(PCAP).hexdigest()
    malformed = upload(client, scene, h["id"], PCAP, sha256="abc")
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "sha256"
    assert upload(client, scene, h["id"], PCAP, actor="ofac").status_code == 403  # only the sender adds files
    assert upload(client, scene, h["id"], PCAP, actor="ee").status_code == 404  # unseen
    assert upload(client, scene, h["id"], PCAP, actor="fr_viewer").status_code == 403
    assert client.post(f"/api/v1/handoffs/{h['id']}/files", headers=scene["fr"].headers).status_code == 422
    assert written(db) == before
    assert stored(scene.settings) == []  # neither blobs nor half-written temporary files
    # Exactly at the limit is accepted.
    assert upload(client, scene, h["id"], b"y" * LIMIT).status_code == 201


# --- chain of custody -----------------------------------------------------------------------------------------


def test_custody_chain_follows_handover_receipt_and_transfers_in_order(
    client: TestClient, scene: Scene, db: Session
) -> None:
    # The sender names the units the package may travel on to: only the originator widens who reads it.
    h = handoff(client, scene, onward=[scene.orgs["BKA"], EC3])
    hid, url = h["id"], f"/api/v1/handoffs/{h['id']}"
    assert upload(client, scene, hid, PCAP).status_code == 201
    digest = hashlib.sha256(PCAP).hexdigest()
    everything = ["ipv4-addr:198.51.100.7", "domain-name:evil.example", digest]
    # Only the holder acknowledges, once; transfers come after receipt.
    assert client.post(f"{url}/receive", headers=scene["fr"].headers).status_code == 403
    assert (
        client.post(f"{url}/transfer", json={"to": scene.orgs["BKA"]}, headers=scene["ofac"].headers).status_code == 409
    )
    r = client.post(f"{url}/receive", json={"note": "Received by duty officer"}, headers=scene["ofac"].headers)
    assert r.status_code == 200 and (r.json()["state"], r.json()["sealed"]) == ("received", True)
    assert (
        r.json()["custody"][-1]["items"] == everything and r.json()["custody"][-1]["note"] == "Received by duty officer"
    )
    assert client.post(f"{url}/receive", headers=scene["ofac"].headers).status_code == 409
    # The package is sealed: no more files.
    before = written(db)
    assert upload(client, scene, hid, b"late evidence").status_code == 409
    assert written(db) == before and len(stored(scene.settings)) == 1
    # Transfers go to law enforcement only, by the holder only.
    for who, to, status in (
        ("fr", scene.orgs["BKA"], 403),
        ("ofac", scene.orgs["ENISA"], 422),
        ("ofac", scene.orgs["OFAC"], 422),
        ("bka", scene.orgs["BKA"], 403),
    ):
        assert client.post(f"{url}/transfer", json={"to": to}, headers=scene[who].headers).status_code == status
    assert written(db) == before
    r = client.post(
        f"{url}/transfer", json={"to": scene.orgs["BKA"], "note": "German suspects"}, headers=scene["ofac"].headers
    )
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["holder"]["short_name"]) == ("handed-over", "BKA")
    assert sorted(r.json()["share_with"]["organisations"]) == sorted([scene.orgs["OFAC"], scene.orgs["BKA"], EC3])
    # The new holder reads it and acknowledges; the previous one can no longer act as holder.
    assert client.get(url, headers=scene["ee"].headers).status_code == 404
    assert client.post(f"{url}/transfer", json={"to": EC3}, headers=scene["ofac"].headers).status_code == 403
    assert client.post(f"{url}/receive", headers=scene["bka"].headers).status_code == 200
    assert client.post(f"{url}/transfer", json={"to": EC3}, headers=scene["bka"].headers).status_code == 200
    r = client.post(f"{url}/notes", json={"note": "Complaint number 2026/123"}, headers=scene["fr"].headers)
    assert r.status_code == 201 and (r.json()["seq"], r.json()["action"], r.json()["note"]) == (
        7,
        "note",
        "Complaint number 2026/123",
    )
    assert client.post(f"{url}/notes", json={"note": "x"}, headers=scene["ee"].headers).status_code == 404
    assert client.post(f"{url}/notes", json={"note": " "}, headers=scene["fr"].headers).status_code == 422
    detail = client.get(url, headers=scene["ec3"].headers).json()
    fr, ofac, bka = scene["fr"].user_id, scene["ofac"].user_id, scene["bka"].user_id
    assert [
        (e["seq"], e["action"], (e["from_org"] or {}).get("short_name"), (e["to_org"] or {}).get("short_name"), e["by"])
        for e in detail["custody"]
    ] == [
        (1, "handed-over", "CERT-FR", "OFAC", fr),
        (2, "handed-over", "CERT-FR", "OFAC", fr),
        (3, "received", "CERT-FR", "OFAC", ofac),
        (4, "transferred", "OFAC", "BKA", ofac),
        (5, "received", "OFAC", "BKA", bka),
        (6, "transferred", "BKA", "Europol EC3", bka),
        (7, "note", "CERT-FR", None, fr),
    ]
    assert [e["items"] for e in detail["custody"]][2:6] == [everything] * 4
    assert detail["custody"][3]["note"] == "German suspects"
    assert [e["at"] for e in detail["custody"]] == sorted(e["at"] for e in detail["custody"])
    assert [e["tag"] for e in detail["timeline"]] == [
        "handoffs:handoff:create",
        "handoffs:file:add",
        "handoffs:handoff:receive",
        "handoffs:handoff:transfer",
        "handoffs:handoff:receive",
        "handoffs:handoff:transfer",
        "handoffs:handoff:note",
    ]
    # Who was told: the sender of each receipt, and each new holder.
    told = {(m.event, m.target) for m in outbox(db, OutboxMessage.object_id == hid)}
    assert told == {
        ("handoffs:handoff:create", "desk@ofac.example"),
        ("handoffs:handoff:receive", "desk@cert-fr.example"),
        ("handoffs:handoff:receive", "desk@ofac.example"),
        ("handoffs:handoff:transfer", "desk@bka.example"),
        ("handoffs:handoff:transfer", "desk@ec3.example"),
    }


def _wait_until_blocked(s: Session) -> None:
    """PostgreSQL: until another connection of this database waits for a lock (SQLite writers queue on BEGIN)."""
    if s.get_bind().dialect.name != "postgresql":
        return
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    for _ in range(3000):
        if s.scalar(waiting):
            return
        threading.Event().wait(0.01)  # a poll on a condition, not a guess at how long the other side takes
    raise AssertionError("the request never waited for the hand-off row")


def test_a_custody_link_waits_for_the_one_being_written_and_takes_the_next_number(
    app: FastAPI, client: TestClient, scene: Scene, session_factory: sessionmaker[Session]
) -> None:
    hid = handoff(client, scene)["id"]
    codes: list[int] = []

    def note() -> None:
        with TestClient(app) as own:
            codes.append(
                own.post(
                    f"/api/v1/handoffs/{hid}/notes", json={"note": "second"}, headers=scene["ofac"].headers
                ).status_code
            )

    worker = threading.Thread(target=note)
    with unit_of_work(session_factory) as s:  # another writer holds the hand-off, mid-way through link 2
        s.execute(select(Handoff.id).where(Handoff.id == hid).with_for_update())
        s.add(
            CustodyEntry(
                handoff_id=hid, seq=2, action="note", from_org_id=scene.orgs["CERT-FR"], items=[], note="first"
            )
        )
        s.flush()
        worker.start()
        _wait_until_blocked(s)
    worker.join()
    assert codes == [201]
    custody = client.get(f"/api/v1/handoffs/{hid}", headers=scene["fr"].headers).json()["custody"]
    assert [(e["seq"], e["note"]) for e in custody] == [(1, ""), (2, "first"), (3, "second")]


# --- the package ----------------------------------------------------------------------------------------------


def test_package_manifest_and_zip_carry_observables_files_and_chain(client: TestClient, scene: Scene) -> None:
    h = handoff(client, scene)
    second = b"%PDF-1.7 ransom note" * 10
    f1 = upload(client, scene, h["id"], PCAP).json()
    f2 = upload(client, scene, h["id"], second, name="note.pdf").json()
    assert client.post(f"/api/v1/handoffs/{h['id']}/receive", headers=scene["ofac"].headers).status_code == 200
    r = client.get(f"/api/v1/handoffs/{h['id']}/package", headers=scene["ofac"].headers)
    assert r.status_code == 200
    m = r.json()
    assert (m["format"], m["marking"]) == ("cybercrisis-evidence-manifest/1", "TLP:AMBER+STRICT")
    assert m["handoff"]["id"] == h["id"] and m["handoff"]["incident"] == scene.a and m["handoff"]["sealed"] is True
    assert (m["handoff"]["sender"]["short_name"], m["handoff"]["holder"]["short_name"]) == ("CERT-FR", "OFAC")
    assert m["generated_for"]["organisation"]["short_name"] == "OFAC"
    assert m["observables"] == h["observables"]
    assert [(f["name"], f["size"], f["sha256"]) for f in m["files"]] == [
        ("capture.pcap", len(PCAP), hashlib.sha256(PCAP).hexdigest()),
        ("note.pdf", len(second), hashlib.sha256(second).hexdigest()),
    ]
    assert [(e["seq"], e["action"]) for e in m["custody"]] == [
        (1, "handed-over"),
        (2, "handed-over"),
        (3, "handed-over"),
        (4, "received"),
    ]
    assert "Ransomware at a regional rail operator" not in r.text  # the incident is named by id only
    z = client.get(f"/api/v1/handoffs/{h['id']}/package.zip", headers=scene["ofac"].headers)
    assert z.status_code == 200 and z.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(z.content)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["manifest.json", f"files/{f1['id']}-capture.pcap", f"files/{f2['id']}-note.pdf"]
        inner = json.loads(archive.read("manifest.json"))
        assert {k: v for k, v in inner.items() if k != "generated_at"} == {
            k: v for k, v in m.items() if k != "generated_at"
        }
        for f in inner["files"]:
            assert hashlib.sha256(archive.read(f["archive_path"])).hexdigest() == f["sha256"]
    assert client.get(f"/api/v1/handoffs/{h['id']}/package.zip", headers=scene["ee"].headers).status_code == 404


def test_zip_stream_breaks_off_when_the_store_no_longer_holds_the_evidence(tmp_path: Path) -> None:
    blob = evidence.store(io.BytesIO(PCAP), data_dir=tmp_path, max_bytes=LIMIT)
    path = evidence.path_for(tmp_path, blob.sha256)
    member = evidence.ZipMember("files/1-capture.pcap", path, blob.sha256)
    assert (
        zipfile.ZipFile(io.BytesIO(b"".join(evidence.zip_stream({"f": 1}, [member])))).read("files/1-capture.pcap")
        == PCAP
    )
    path.write_bytes(bytes(reversed(PCAP)))  # same size, other bytes
    with pytest.raises(evidence.EvidenceUnavailable, match="changed in the store"):
        b"".join(evidence.zip_stream({"f": 1}, [member]))
    again = evidence.store(io.BytesIO(PCAP), data_dir=tmp_path, max_bytes=LIMIT)
    assert (again.sha256, again.created) == (blob.sha256, False)  # stored once; the altered copy is not replaced
    assert evidence.clean_name("..\\..\\a b.exe") == "a b.exe" and evidence.clean_name("") == "evidence"
    with pytest.raises(InvalidInput):  # refused, not replaced: tests/handoffs/test_evidence_names.py
        evidence.clean_name("a\x00b.exe")
    assert evidence.clean_media_type("text/html; charset=utf-8") == "text/html"
    assert evidence.clean_media_type("<script>") == "application/octet-stream"


# --- lists ----------------------------------------------------------------------------------------------------


def test_list_filters_by_incident_crisis_and_state_and_pages_without_repeats(client: TestClient, scene: Scene) -> None:
    made = [handoff(client, scene)["id"] for _ in range(3)]
    on_crisis = handoff(
        client,
        scene,
        incident=None,
        crisis=scene.crisis,
        observables=[{"type": "domain-name", "value": "evil.example"}],
    )["id"]
    assert client.post(f"/api/v1/handoffs/{made[0]}/receive", headers=scene["ofac"].headers).status_code == 200
    fr = scene["fr"].headers

    def ids(query: str) -> list[str]:
        r = client.get(f"/api/v1/handoffs?{query}", headers=fr)
        assert r.status_code == 200, r.text
        return [i["id"] for i in r.json()["items"]]

    assert ids(f"incident={scene.a}") == made[::-1]
    assert ids(f"crisis={scene.crisis}") == [on_crisis]
    assert ids("state=received") == [made[0]]
    assert ids("state=handed-over") == [on_crisis, *made[:0:-1]]
    seen: list[str] = []
    cursor = ""
    while True:
        page = client.get(f"/api/v1/handoffs?limit=2{cursor}", headers=fr).json()
        seen += [i["id"] for i in page["items"]]
        if not page["next"]:
            break
        cursor = f"&cursor={page['next']}"
    assert seen == [on_crisis, *made[::-1]]
    first = client.get("/api/v1/handoffs?limit=1", headers=fr).json()["items"][0]
    assert (first["observables"], first["sender"], first["recipient"]) == (1, scene.orgs["CERT-FR"], scene.orgs["OFAC"])
    assert client.get("/api/v1/handoffs?state=closed-ish", headers=fr).status_code == 422
    assert client.get("/api/v1/handoffs?cursor=forged", headers=fr).status_code == 422
    assert client.get("/api/v1/handoffs", headers=scene["bka"].headers).json()["items"] == []


def test_my_work_asks_the_holder_to_acknowledge_receipt_and_nobody_else(client: TestClient, scene: Scene) -> None:
    """Issue 19 (My work): a hand-off waits on the organisation holding it until it acknowledges receipt; after a
    transfer, on the next holder."""

    def waiting(actor: str) -> list[str]:
        got = client.get("/api/v1/my-work", headers=scene[actor].headers)
        assert got.status_code == 200, got.text
        items = got.json()["items"]
        return [i["object_id"] for i in items if i["kind"] == "handoff-receipt"]

    h = handoff(client, scene, onward=[scene.orgs["BKA"]])
    url = f"/api/v1/handoffs/{h['id']}"
    assert waiting("ofac") == [h["id"]]
    assert waiting("fr") == [] and waiting("bka") == [] and waiting("ec3") == []
    assert client.post(f"{url}/receive", headers=scene["ofac"].headers).status_code == 200
    assert waiting("ofac") == []
    r = client.post(f"{url}/transfer", json={"to": scene.orgs["BKA"]}, headers=scene["ofac"].headers)
    assert r.status_code == 200, r.text
    assert waiting("bka") == [h["id"]] and waiting("ofac") == []
