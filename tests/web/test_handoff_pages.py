"""Law-enforcement hand-off pages: the list, handing over through the form, and one hand-off with its files, chain
of custody and forms.

Every form goes through `handoffs.service` as the API does; these tests drive the pages as a browser would (signed in
through the login form, CSRF token from the page) and check what was written, what was refused and what each reader
is shown.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access import sharing
from cybercrisis.access.policy import ORG
from cybercrisis.accounts.service import SYSTEM
from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.crises.models import Crisis, CrisisIncident
from cybercrisis.db import new_id, unit_of_work
from cybercrisis.directory import service as directory
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.handoffs.models import CustodyEntry, EvidenceFile, Handoff
from tests.conftest import Actor, World, count
from tests.web.conftest import HTML, csrf_on, sign_in

NOW = datetime.now(UTC).replace(microsecond=0)
EC3 = org_id_for_key("europol-ec3")
PCAP = bytes(range(256)) * 8  # 2 KiB: under the test server's body limit


@dataclass
class Scene:
    actors: dict[str, Actor]
    orgs: dict[str, str]
    a: str  # CERT-FR's flagged AMBER incident, shared with CERT-Bund
    b: str  # CERT-FR's incident, not flagged
    c: str  # CERT-Bund's flagged AMBER+STRICT incident: CERT-FR may not read it
    crisis: str  # CERT-Bund's flagged crisis linking a and c, shared with CERT-FR
    calm: str  # CERT-FR's crisis, not flagged

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
    """Crises are arranged as rows: these pages only read them (through the access layer)."""
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
def scene(client: TestClient, world: World, session_factory: sessionmaker[Session]) -> Scene:
    """Two CSIRTs with incidents and a crisis, a third CSIRT outside, two police units and Europol EC3."""
    world.community("csirts-network")
    for short, cc in (("CERT-FR", "FR"), ("CERT-Bund", "DE"), ("CERT-EE", "EE")):
        world.org(short, country=cc, communities=("csirts-network",))
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
    actors = {
        "fr": world.user("CERT-FR"),
        "fr_viewer": world.user("CERT-FR", roles=("viewer",)),
        "de": world.user("CERT-Bund"),
        "ee": world.user("CERT-EE"),
        "ofac": world.user("OFAC"),
        "bka": world.user("BKA"),
    }
    a = _incident(
        client,
        actors["fr"],
        [("ipv4-addr", "198.51.100.7"), ("domain-name", "evil.example")],
        share_with={"organisations": [world.orgs["CERT-Bund"]]},
    )
    b = _incident(
        client,
        actors["fr"],
        [("ipv4-addr", "198.51.100.8")],
        suspected_malicious=False,
        title="Outage at a ferry operator",
    )
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
    return Scene(actors, world.orgs, a, b, c, crisis, calm)


def text_of(page: str) -> str:
    """The visible words of a page, tags dropped and entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def post(client: TestClient, path: str, data: dict[str, Any], **kw: Any) -> Any:
    return client.post(path, data=data, headers=HTML, follow_redirects=False, **kw)


def api_handoff(client: TestClient, scene: Scene, actor: str = "fr", **over: Any) -> str:
    body = {
        "incident": scene.a,
        "recipient": scene.orgs["OFAC"],
        "reason": "Extortion note on the servers.",
        "observables": [{"type": "ipv4-addr", "value": "198.51.100.7"}],
        **over,
    }
    r = client.post("/api/v1/handoffs", json=body, headers=scene[actor].headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def written(db: Session) -> tuple[int, ...]:
    rows = [count(db, m) for m in (Handoff, CustodyEntry, EvidenceFile)]
    return (*rows, count(db, AuditEvent, AuditEvent.tag.like("handoffs:%")))


def custody(db: Session, hid: str) -> list[tuple[int, str, str | None, str | None, list[str], str]]:
    db.rollback()
    rows = db.scalars(select(CustodyEntry).where(CustodyEntry.handoff_id == hid).order_by(CustodyEntry.seq))
    return [(e.seq, e.action, e.from_org_id, e.to_org_id, e.items, e.note) for e in rows]


def tags(db: Session, hid: str) -> list[str]:
    db.rollback()
    return list(db.scalars(select(AuditEvent.tag).where(AuditEvent.object_id == hid).order_by(AuditEvent.seq)))


def says(page: str, words: str) -> bool:
    """The page says it, whatever the capitals (pages start service messages with one)."""
    return words.lower() in html.unescape(page).lower()


def form_html(page: str, form_id: str) -> str:
    found = re.search(rf'<form[^>]*id="{form_id}".*?</form>', page, re.S)
    assert found, (form_id, page)
    return found.group(0)


# --- the list and one hand-off ----------------------------------------------------------------------------------


def test_list_and_page_show_the_handoff_to_its_readers_and_nothing_to_others(
    client: TestClient, scene: Scene, db: Session
) -> None:
    hid = api_handoff(
        client,
        scene,
        observables=[{"type": "ipv4-addr", "value": "198.51.100.7"}, {"type": "domain-name", "value": "evil.example"}],
    )
    up = client.post(
        f"/api/v1/handoffs/{hid}/files",
        headers=scene["fr"].headers,
        files={"file": ("capture.pcap", PCAP, "application/octet-stream")},
    )
    assert up.status_code == 201, up.text
    fid, digest = up.json()["id"], hashlib.sha256(PCAP).hexdigest()

    # The police unit: it sees the hand-off, the incident by id only (it may not read it), and may acknowledge.
    sign_in(client, scene["ofac"].email)
    listing = client.get("/handoffs", headers=HTML)
    assert listing.status_code == 200
    row = re.search(rf'<tr>\s*<th scope="row"><a href="/handoffs/{hid}">.*?</tr>', listing.text, re.S)
    assert row, listing.text
    words = text_of(row.group(0))
    for expected in (
        "To OFAC",
        scene.a,
        "not shared with you",
        "CERT-FR",
        "Handed over: awaiting receipt",
        "TLP:AMBER+STRICT",
    ):
        assert expected in words, (expected, words)
    assert re.findall(r'<td class="num">(\d+)</td>', row.group(0)) == ["2", "1"]  # observables, files
    assert f'href="/incidents/{scene.a}"' not in listing.text

    page = client.get(f"/handoffs/{hid}", headers=HTML)
    assert page.status_code == 200
    words = text_of(page.text)
    for expected in (
        "Hand-off to OFAC organisation",
        "TLP:AMBER+STRICT",
        "Extortion note on the servers.",
        "198.51.100.7",
        "evil.example",
        "capture.pcap",
        "2.0 KiB (2,048 bytes)",
        digest,
        "Chain of custody",
        "Handed over",
        "a user of CERT-FR",
        "ipv4-addr:198.51.100.7",
        "(capture.pcap)",
        "Timeline",
        "Evidence file added",
    ):
        assert expected in words, (expected, words)
    assert f'href="/api/v1/handoffs/{hid}/files/{fid}"' in page.text
    for download in (f"/api/v1/handoffs/{hid}/package", f"/api/v1/handoffs/{hid}/package.zip"):
        assert f'href="{download}"' in page.text
    assert 'id="receive-form"' in page.text and "Acknowledge receipt" in page.text
    assert 'id="file-form"' not in page.text and 'id="transfer-form"' not in page.text  # not the sender; not received
    assert 'id="note-form"' in page.text
    # The sender's staff are named by organisation only; the custody table is in order.
    assert scene["fr"].email not in page.text
    seqs = re.findall(r'<tr class="custody-[a-z-]+">\s*<td class="num">(\d+)</td>', page.text)
    assert seqs == ["1", "2"]

    # The download links work with the page's session cookie: the same bytes, the manifest, the zip.
    got = client.get(f"/api/v1/handoffs/{hid}/files/{fid}")
    assert got.status_code == 200 and got.content == PCAP and got.headers["x-evidence-sha256"] == digest
    manifest = client.get(f"/api/v1/handoffs/{hid}/package").json()
    assert manifest["files"][0]["sha256"] == digest and len(manifest["custody"]) == 2
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/v1/handoffs/{hid}/package.zip").content))
    assert json.loads(archive.read("manifest.json"))["handoff"]["id"] == hid
    assert archive.read(manifest["files"][0]["archive_path"]) == PCAP

    # The sender sees who of its own staff acted, and the incident by title.
    sign_in(client, scene["fr"].email)
    page = client.get(f"/handoffs/{hid}", headers=HTML)
    assert scene["fr"].email in page.text and f'href="/incidents/{scene.a}"' in page.text
    assert 'id="file-form"' in page.text and 'id="receive-form"' not in page.text

    # Another CSIRT that reads the incident, and another police unit, neither list nor open it.
    for outsider in ("de", "bka"):
        sign_in(client, scene[outsider].email)
        assert client.get(f"/handoffs/{hid}", headers=HTML).status_code == 404
        assert client.get(f"/api/v1/handoffs/{hid}/files/{fid}").status_code == 404
        assert hid not in client.get("/handoffs", headers=HTML).text


def test_list_filters_by_state_and_explains_a_bad_address(client: TestClient, scene: Scene) -> None:
    first = api_handoff(client, scene)
    second = api_handoff(client, scene, recipient=EC3)
    assert client.post(f"/api/v1/handoffs/{first}/receive", headers=scene["ofac"].headers).status_code == 200
    sign_in(client, scene["fr"].email)
    everything = client.get("/handoffs", headers=HTML).text
    assert everything.index(second) < everything.index(first)  # newest first
    received = client.get("/handoffs?state=received", headers=HTML)
    assert first in received.text and second not in received.text and "Received" in text_of(received.text)
    for bad in ("/handoffs?state=lost", "/handoffs?cursor=forged"):
        r = client.get(bad, headers=HTML)
        assert r.status_code == 422 and ('role="alert"' in r.text), r.text
        assert first not in r.text


# --- handing over -----------------------------------------------------------------------------------------------


def test_new_form_offers_law_enforcement_and_the_observables_the_sender_may_see(
    client: TestClient, scene: Scene
) -> None:
    sign_in(client, scene["fr"].email)
    incident_page = client.get(f"/incidents/{scene.a}", headers=HTML).text
    link = f'<a href="/handoffs/new?incident={scene.a}">Hand over to law enforcement</a>'
    assert link in incident_page
    assert "/handoffs/new" not in client.get(f"/incidents/{scene.b}", headers=HTML).text  # not flagged: no link

    page = client.get(f"/handoffs/new?incident={scene.a}", headers=HTML)
    assert page.status_code == 200
    form = form_html(page.text, "handoff-form")
    recipients = re.findall(r'<option value="(identity--[^"]+)"', form)
    assert sorted(recipients) == sorted([scene.orgs["OFAC"], scene.orgs["BKA"], EC3])  # no CSIRT
    assert re.findall(r'name="observables" value="([^"]+)"', form) == [
        "domain-name:evil.example",
        "ipv4-addr:198.51.100.7",
    ]
    assert "ipv4-addr: 198.51.100.7" in text_of(form)
    checked = re.findall(r'name="tlp" value="([^"]+)"[^>]*?( checked)?>', form)
    assert checked == [("amber+strict", " checked"), ("amber", "")]
    assert f'name="incident" value="{scene.a}"' in form and ">Hand over</button>" in form

    # For the crisis: the values of its incidents CERT-FR may read; not CERT-Bund's AMBER+STRICT one.
    crisis_form = form_html(client.get(f"/handoffs/new?crisis={scene.crisis}", headers=HTML).text, "handoff-form")
    assert re.findall(r'name="observables" value="([^"]+)"', crisis_form) == [
        "domain-name:evil.example",
        "ipv4-addr:198.51.100.7",
    ]
    assert "203.0.113.9" not in crisis_form and f'name="crisis" value="{scene.crisis}"' in crisis_form

    # Not flagged: the service's words, and no form.
    for address in (f"/handoffs/new?incident={scene.b}", f"/handoffs/new?crisis={scene.calm}"):
        r = client.get(address, headers=HTML)
        assert r.status_code == 409 and says(r.text, "flag it as suspected criminal first")
        assert "handoff-form" not in r.text
    both = client.get(f"/handoffs/new?incident={scene.a}&crisis={scene.crisis}", headers=HTML)
    assert both.status_code == 422 and says(both.text, "exactly one of incident or crisis")
    assert "handoff-form" not in client.get("/handoffs/new", headers=HTML).text
    # What the sender may not read is not found; a viewer may not hand over.
    assert client.get(f"/handoffs/new?incident={scene.c}", headers=HTML).status_code == 404
    sign_in(client, scene["fr_viewer"].email)
    assert client.get(f"/handoffs/new?incident={scene.a}", headers=HTML).status_code == 403
    assert "/handoffs/new" not in client.get(f"/incidents/{scene.a}", headers=HTML).text


def test_handing_over_through_the_form_records_it_and_shows_it(client: TestClient, scene: Scene, db: Session) -> None:
    sign_in(client, scene["fr"].email)
    token = csrf_on(client, f"/handoffs/new?incident={scene.a}")
    r = post(
        client,
        "/handoffs/new",
        {
            "csrf_token": token,
            "incident": scene.a,
            "recipient": scene.orgs["OFAC"],
            "tlp": "amber+strict",
            "reason": "The operator filed a complaint.",
            "observables": ["ipv4-addr:198.51.100.7", "domain-name:evil.example"],
        },
    )
    assert r.status_code == 303, r.text
    found = re.fullmatch(r"/handoffs/(handoff--[0-9a-f-]{36})\?done=created", r.headers["location"])
    assert found, r.headers["location"]
    hid = found.group(1)
    db.rollback()
    h = db.get(Handoff, hid)
    assert h is not None and (h.incident_id, h.recipient_org_id, h.tlp, h.reason) == (
        scene.a,
        scene.orgs["OFAC"],
        "amber+strict",
        "The operator filed a complaint.",
    )
    assert h.observables == [
        {"type": "ipv4-addr", "value": "198.51.100.7"},
        {"type": "domain-name", "value": "evil.example"},
    ]
    assert custody(db, hid) == [
        (
            1,
            "handed-over",
            scene.orgs["CERT-FR"],
            scene.orgs["OFAC"],
            ["ipv4-addr:198.51.100.7", "domain-name:evil.example"],
            "",
        )
    ]
    assert tags(db, hid) == ["handoffs:handoff:create"]
    page = client.get(r.headers["location"], headers=HTML)
    assert "The evidence package was handed over" in page.text and 'id="file-form"' in page.text

    # A crisis, marked AMBER, with a value from one of its incidents.
    r = post(
        client,
        "/handoffs/new",
        {
            "csrf_token": token,
            "crisis": scene.crisis,
            "recipient": EC3,
            "tlp": "amber",
            "reason": "Same group across two Member States.",
            "observables": ["ipv4-addr:198.51.100.7"],
        },
    )
    assert r.status_code == 303, r.text
    db.rollback()
    h2 = db.get(Handoff, r.headers["location"].split("/")[-1].split("?")[0])
    assert h2 is not None and (h2.crisis_id, h2.incident_id, h2.tlp, h2.recipient_org_id) == (
        scene.crisis,
        None,
        "amber",
        EC3,
    )


def test_refused_handoff_keeps_the_input_and_writes_nothing(client: TestClient, scene: Scene, db: Session) -> None:
    sign_in(client, scene["fr"].email)
    token = csrf_on(client, f"/handoffs/new?incident={scene.a}")
    before = written(db)
    good = {
        "csrf_token": token,
        "incident": scene.a,
        "recipient": scene.orgs["OFAC"],
        "tlp": "amber+strict",
        "reason": "Extortion; a complaint was filed.",
        "observables": ["domain-name:evil.example"],
    }
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"recipient": "", "reason": " "}, 422, "recipient", "Choose the law-enforcement organisation"),
        ({"recipient": scene.orgs["CERT-Bund"]}, 422, "recipient", "is not a law-enforcement organisation"),
        ({"tlp": "green"}, 422, "tlp", "TLP:AMBER+STRICT or TLP:AMBER"),
        (
            {"observables": ["domain-name:evil.example", "ipv4-addr:203.0.113.9"]},
            422,
            "observables",
            "ipv4-addr:203.0.113.9",
        ),
        ({"observables": ["no colon"]}, 422, "observables", "not an observable of the form type:value"),
    ]
    for change, status, field, phrase in cases:
        r = post(client, "/handoffs/new", {**good, **change})
        assert r.status_code == status, (change, r.text)
        form = form_html(r.text, "handoff-form")
        error = re.search(rf'<p class="field-error" id="f-{field}-error">(.*?)</p>', form, re.S)
        assert error and says(error.group(1), phrase), (change, form)
        # What was typed and ticked is still there.
        if change.get("reason") is None:
            assert "Extortion; a complaint was filed.</textarea>" in form
        if "domain-name:evil.example" in change.get("observables", good["observables"]):
            assert 'value="domain-name:evil.example" checked' in form
    # Not flagged any more by the time it is posted: the service's words, no form.
    r = post(client, "/handoffs/new", {**good, "incident": scene.b, "observables": []})
    assert r.status_code == 409 and says(r.text, "flag it as suspected criminal first")
    # Without the form's token: refused before anything else.
    r = post(client, "/handoffs/new", {**good, "csrf_token": ""})
    assert r.status_code == 403 and says(r.text, "the form expired")
    assert written(db) == before


# --- files, receipt, transfer and notes -------------------------------------------------------------------------


def test_sender_adds_files_through_the_form_with_or_without_its_digest(
    client: TestClient, scene: Scene, db: Session, settings: Settings
) -> None:
    hid = api_handoff(client, scene)
    sign_in(client, scene["fr"].email)
    token = csrf_on(client, f"/handoffs/{hid}")
    form = form_html(client.get(f"/handoffs/{hid}", headers=HTML).text, "file-form")
    assert 'enctype="multipart/form-data"' in form and ">Add file</button>" in form and "as computed by you" in form
    limit = re.search(r"data-max-bytes=(\d+)", form)  # what the page's script checks before sending a file
    assert limit and len(PCAP) < int(limit.group(1)) <= settings.evidence_max_bytes

    digest = hashlib.sha256(PCAP).hexdigest()
    r = post(
        client,
        f"/handoffs/{hid}/files",
        {"csrf_token": token, "sha256": digest.upper()},
        files={"file": ("capture.pcap", PCAP, "application/vnd.tcpdump.pcap")},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/handoffs/{hid}?done=file#files", r.text
    r = post(
        client,
        f"/handoffs/{hid}/files",
        {"csrf_token": token},
        files={"file": ("notes.txt", b"ransom note text", "text/plain")},
    )
    assert r.status_code == 303
    db.rollback()
    files = db.scalars(select(EvidenceFile).where(EvidenceFile.handoff_id == hid).order_by(EvidenceFile.id)).all()
    assert [(f.name, f.sha256, f.size) for f in files] == [
        ("capture.pcap", digest, len(PCAP)),
        ("notes.txt", hashlib.sha256(b"ransom note text").hexdigest(), 16),
    ]
    assert [c[1:5] for c in custody(db, hid)][1:] == [
        ("handed-over", scene.orgs["CERT-FR"], scene.orgs["OFAC"], [f.sha256]) for f in files
    ]
    assert tags(db, hid) == ["handoffs:handoff:create", "handoffs:file:add", "handoffs:file:add"]

    # Refused: a changed file, a malformed digest, the same content again, no file, no token. Nothing written.
    before = written(db)
    refusals: list[tuple[dict[str, str], tuple[str, bytes] | None, int, str]] = [
        ({"sha256": "0" * 64}, ("capture2.pcap", PCAP + b"!"), 422, "the file changed in transit"),
        ({"sha256": "abc"}, ("capture2.pcap", b"other"), 422, "64 hexadecimal characters"),
        ({}, ("again.pcap", PCAP), 409, "already in the package"),
        ({}, None, 422, "Choose the file to add"),
    ]
    for extra, upload, status, phrase in refusals:
        files_arg = {"file": (upload[0], upload[1], "application/octet-stream")} if upload else None
        r = post(client, f"/handoffs/{hid}/files", {"csrf_token": token, **extra}, files=files_arg)
        assert r.status_code == status and says(r.text, phrase), (extra, r.text)
        form = form_html(r.text, "file-form")
        assert "The file was not added" in r.text and says(form, phrase)
        if extra.get("sha256"):
            assert f'value="{extra["sha256"]}"' in form  # the digest typed is kept
    r = post(client, f"/handoffs/{hid}/files", {"csrf_token": ""}, files={"file": ("x.bin", b"x", "text/plain")})
    assert r.status_code == 403
    assert written(db) == before

    # The recipient may not add files; once it acknowledged receipt, nobody may.
    sign_in(client, scene["ofac"].email)
    r = post(
        client,
        f"/handoffs/{hid}/files",
        {"csrf_token": csrf_on(client, f"/handoffs/{hid}")},
        files={"file": ("x.bin", b"police", "text/plain")},
    )
    assert r.status_code == 403 and says(r.text, "only the organisation that handed it over")
    assert written(db) == before


def test_holder_acknowledges_transfers_and_everyone_notes_in_the_chain_of_custody(
    client: TestClient, scene: Scene, db: Session
) -> None:
    fr, ofac, bka = scene.orgs["CERT-FR"], scene.orgs["OFAC"], scene.orgs["BKA"]
    hid = api_handoff(client, scene, onward=[bka, EC3])  # the units the sender lets it travel on to
    # The sender does not acknowledge receipt for the recipient.
    sign_in(client, scene["fr"].email)
    before = written(db)
    r = post(client, f"/handoffs/{hid}/receive", {"csrf_token": csrf_on(client, f"/handoffs/{hid}")})
    assert r.status_code == 403 and says(r.text, "only the organisation holding it now (OFAC)")
    assert written(db) == before

    sign_in(client, scene["ofac"].email)
    token = csrf_on(client, f"/handoffs/{hid}")
    assert post(client, f"/handoffs/{hid}/receive", {"note": "x"}).status_code == 403  # no token
    r = post(client, f"/handoffs/{hid}/receive", {"csrf_token": token, "note": "Received on the secure channel."})
    assert r.status_code == 303 and r.headers["location"] == f"/handoffs/{hid}?done=received#custody"
    page = client.get(r.headers["location"], headers=HTML).text
    assert "the package is sealed" in page and 'id="receive-form"' not in page and "sealed" in text_of(page)
    form = form_html(page, "transfer-form")
    assert re.findall(r'<option value="(identity--[^"]+)"', form) == sorted(
        [bka, EC3], key=lambda o: {bka: "BKA", EC3: "Europol EC3"}[o]
    )
    assert ">Transfer</button>" in form

    # Transfer refused: nobody chosen, a CSIRT. What was typed stays; nothing written.
    before = written(db)
    refusals = (("", "Choose the law-enforcement organisation"), (scene.orgs["CERT-Bund"], "not a law-enforcement"))
    for to, phrase in refusals:
        r = post(client, f"/handoffs/{hid}/transfer", {"csrf_token": token, "to": to, "note": "For the German case."})
        assert r.status_code == 422, r.text
        form = form_html(r.text, "transfer-form")
        assert 'id="tf-to-error"' in form and says(form, phrase) and "For the German case.</textarea>" in form
    assert written(db) == before
    r = post(client, f"/handoffs/{hid}/transfer", {"csrf_token": token, "to": bka, "note": "For the German case."})
    assert r.status_code == 303 and r.headers["location"] == f"/handoffs/{hid}?done=transferred#custody"

    # The new holder reads it, acknowledges it in turn, and adds a note; an empty note is refused.
    sign_in(client, scene["bka"].email)
    token = csrf_on(client, f"/handoffs/{hid}")
    assert 'id="receive-form"' in client.get(f"/handoffs/{hid}", headers=HTML).text
    assert post(client, f"/handoffs/{hid}/receive", {"csrf_token": token}).status_code == 303
    before = written(db)
    r = post(client, f"/handoffs/{hid}/notes", {"csrf_token": token, "note": "  "})
    assert r.status_code == 422 and 'id="nf-note-error"' in form_html(r.text, "note-form")
    assert written(db) == before
    r = post(client, f"/handoffs/{hid}/notes", {"csrf_token": token, "note": "Case opened, ref. 42."})
    assert r.status_code == 303 and r.headers["location"] == f"/handoffs/{hid}?done=note#custody"

    items = ["ipv4-addr:198.51.100.7"]
    assert custody(db, hid) == [
        (1, "handed-over", fr, ofac, items, ""),
        (2, "received", fr, ofac, items, "Received on the secure channel."),
        (3, "transferred", ofac, bka, items, "For the German case."),
        (4, "received", ofac, bka, items, ""),
        (5, "note", bka, None, [], "Case opened, ref. 42."),
    ]
    assert tags(db, hid) == [
        "handoffs:handoff:create",
        "handoffs:handoff:receive",
        "handoffs:handoff:transfer",
        "handoffs:handoff:receive",
        "handoffs:handoff:note",
    ]
    # The page shows the chain in order, in words; the sender sees who holds it now.
    sign_in(client, scene["fr"].email)
    page = client.get(f"/handoffs/{hid}", headers=HTML).text
    rows = re.findall(r'<tr class="custody-([a-z-]+)">\s*<td class="num">(\d+)</td>', page)
    assert rows == [("handed-over", "1"), ("received", "2"), ("transferred", "3"), ("received", "4"), ("note", "5")]
    words = text_of(page)
    assert "Held by BKA" in words and "Case opened, ref. 42." in words and "a user of BKA" in words
    assert 'id="file-form"' not in page and 'id="receive-form"' not in page and 'id="transfer-form"' not in page
