"""Hub and spoke with three real nodes (issue 15, ADR 0013 points 3 and 5): CERT-FR's and CERT-Bund's national
nodes peer with the EU hub (ENISA's) only; an early warning and its acknowledgement pass through the hub, one hop,
signed by their origin all the way (never AMBER+STRICT); the hub runs a crisis from both nodes' incidents and moves
it to EU-CyCLONe with the agreements its model needs, each given on the agreeing organisation's own node, one of
them killed and restarted with its answer queued; CERT-FR asks for assistance and CERT-Bund's offer, made on its node,
is accepted on CERT-FR's; ENISA's statement is approved by both on their own nodes; each Member State contributes
on its own node to the hub's operational report.

FR (`a`) and the hub (`c`) run on SQLite files of their own; DE (`b`) runs on the test's database (SQLite and
PostgreSQL). The operators' steps are the CLI commands docs/federation.md shows; the sync rounds and the answer
deliveries are run by the test, in the order the jobs would run them.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
from cybercrisis.crises.escalation import DEFAULT_MODEL
from cybercrisis.db import make_engine, make_sessionmaker
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.exchange.answers_out import deliver_due
from tests.conftest import TEST_OUTBOUND_ALLOW, TEST_SECRET_KEY
from tests.exchange.test_federation_nodes import DE, NodeProc, _http, _node_id
from tests.exchange.test_stix_export import incident_body

pytestmark = [pytest.mark.slow]

ENISA = org_id_for_key("enisa")
LATER = timedelta(minutes=10)  # past any retry delay


@pytest.fixture
def three(tmp_path: Path, settings: Settings) -> Iterator[tuple[NodeProc, NodeProc, NodeProc]]:
    a = NodeProc("node-fr", "CERT-FR", tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "a.log")
    b = NodeProc("node-de", "CERT-Bund", settings.data_dir, settings.effective_database_url, tmp_path / "b.log")
    c = NodeProc("eu-hub", "ENISA", tmp_path / "c", f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "c.log")
    a.data_dir.mkdir()
    c.data_dir.mkdir()
    try:
        for n in (a, b, c):
            n.spawn()
        for n in (a, b, c):
            n.wait_ready()
        yield a, b, c
    finally:
        for n in (a, b, c):
            n.stop()


def _factory(node: NodeProc) -> tuple[sessionmaker[Session], Settings]:
    """The hub's database and settings, for running its delivery job in the test's process."""
    s = Settings(
        data_dir=node.data_dir,
        database_url=node.database_url,
        secret_key=TEST_SECRET_KEY,
        jobs_enabled=False,
        outbound_allow=TEST_OUTBOUND_ALLOW,
    )
    return make_sessionmaker(make_engine(node.database_url)), s


def _model_needing(folder: Path, stage: str, approvers: list[str]) -> Path:
    """The shipped escalation model, with `approvers` needed to enter `stage`."""
    model = json.loads(DEFAULT_MODEL.read_text())
    for s in model["stages"]:
        if s["key"] == stage:
            s["approvers"] = approvers
    path = folder / "escalation.json"
    path.write_text(json.dumps(model))
    return path


def _key(node: NodeProc) -> str:
    return next(line.split()[1] for line in node.cli("node", "show").stdout.splitlines() if "current" in line)


def _count(node: NodeProc, sql: str, *params: str) -> int:
    with contextlib.closing(sqlite3.connect(node.database_url.removeprefix("sqlite:///"))) as conn:
        return int(conn.execute(sql, params).fetchone()[0])


def test_an_early_warning_goes_through_the_hub_and_a_crisis_there_moves_with_agreements_given_on_national_nodes(
    three: tuple[NodeProc, NodeProc, NodeProc],
    settings: Settings,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    a, b, c = three
    # The hub peers with both national nodes and relays between them; each national node peers with the hub only.
    c.cli("peer", "add", a.url, "--token", a.token("coordinator@enisa.example"), "--direction", "both", "--relay")
    c.cli("peer", "add", b.url, "--token", b.token("coordinator@enisa.example"), "--direction", "both", "--relay")
    a.cli("peer", "add", c.url, "--token", c.token("analyst@cert-fr.example"), "--direction", "pull")
    b.cli("peer", "add", c.url, "--token", c.token("analyst@cert-bund.example"), "--direction", "pull")
    # Each national operator pins the other's node through the hub, with the key the other's operator confirmed.
    b.cli("node", "pin", _node_id(a), "--via", c.url, "--fingerprint", _key(a), "--speaks-for", "CERT-FR")
    a.cli("node", "pin", _node_id(b), "--via", c.url, "--fingerprint", _key(b), "--speaks-for", "CERT-Bund")
    # A hub cannot pass off a key of its own as a national node's.
    forged = b.cli(
        "node", "pin", _node_id(a), "--via", c.url, "--fingerprint", _key(c), "--speaks-for", "CERT-FR", ok=False
    )
    assert forged.returncode != 0 and "lists no key" in forged.stdout + forged.stderr

    fr = a.token("analyst@cert-fr.example")
    status, inc = _http(
        "POST", f"{a.url}/api/v1/incidents", fr, incident_body(share_with={"communities": ["csirts-network"]})
    )
    assert status == 201, inc
    strict = incident_body(tlp="amber+strict", share_with={"organisations": [DE, ENISA]}, title="For CERT-Bund only")
    status, only_de = _http("POST", f"{a.url}/api/v1/incidents", fr, strict)
    assert status == 201, only_de
    warning = {
        "title": "Wiper spreading to grid operators",
        "body": "Block 198.51.100.7 now.",
        "tlp": "amber",
        "recipients": {"communities": ["csirts-network"]},
    }
    status, alert = _http("POST", f"{a.url}/api/v1/alerts", fr, warning)
    assert status == 201, alert

    # One round on the hub: it pulls from FR, then pushes FR's first-hand versions on to DE.
    out = c.cli("peer", "sync").stdout
    assert "rejected 0" in out, out
    de = b.token("analyst@cert-bund.example")
    status, replica = _http("GET", f"{b.url}/api/v1/alerts/{alert['id']}", de)
    assert status == 200, replica
    assert replica["held_at"]["node"] == _node_id(a) and DE in replica["pending"]
    assert replica["held_at"]["organisation"] == org_id_for_key("fr-csirt")  # as CERT-Bund's operator pinned it
    status, incident = _http("GET", f"{b.url}/api/v1/incidents/{inc['id']}", de)
    assert status == 200 and incident["held_at"]["node"] == _node_id(a), incident
    # AMBER+STRICT is for the named organisation only: the hub holds it (ENISA is named), never passes it on.
    assert _http("GET", f"{c.url}/api/v1/incidents/{only_de['id']}", c.token("coordinator@enisa.example"))[0] == 200
    assert _http("GET", f"{b.url}/api/v1/incidents/{only_de['id']}", de)[0] == 404
    # DE pulling from the hub as well: FR's versions it has are unchanged, the AMBER+STRICT ones are refused with the
    # reason (CERT-Bund's account may read them on the hub, but they arrive only from FR's node).
    pulled = b.cli("peer", "sync").stdout
    assert "TLP:AMBER+STRICT is never relayed" in pulled, pulled
    assert _http("GET", f"{b.url}/api/v1/incidents/{only_de['id']}", de)[0] == 404

    # DE acknowledges on its own node; the answer goes to the hub, which keeps it for FR ...
    status, acked = _http("POST", f"{b.url}/api/v1/alerts/{alert['id']}/acknowledge", de)
    assert status == 200 and acked["answers"][0]["state"] == "queued", acked
    now = datetime.now(UTC)
    assert deliver_due(session_factory, settings, now + LATER).relayed == 1
    # ... and forwards it, signed by DE's node, to FR, which applies it once.
    hub_factory, hub_settings = _factory(c)
    assert deliver_due(hub_factory, hub_settings, now + LATER).applied == 1
    status, at_origin = _http("GET", f"{a.url}/api/v1/alerts/{alert['id']}", fr)
    assert DE in [x["organisation"] for x in at_origin["acknowledged"]], at_origin
    assert _count(a, "SELECT count(*) FROM answer_receipts") == 1
    # DE asks the hub again: applied. The new version of the alert reaches DE through the hub.
    assert deliver_due(session_factory, settings, now + 2 * LATER).applied == 1
    # The hub's own federation job may be running a round at the same moment (the relayed answer woke it): a round
    # of ours then finds nothing left to pull while that round's push is still on its way. A second round settles
    # it either way; a third would mean the version never travels.
    for _ in range(3):
        c.cli("peer", "sync")
        status, done = _http("GET", f"{b.url}/api/v1/alerts/{alert['id']}", de)
        if DE in [x["organisation"] for x in done["acknowledged"]]:
            break
    assert DE in [x["organisation"] for x in done["acknowledged"]] and done["answers"][0]["state"] == "applied", done
    # The hub runs a crisis from what both national nodes share: FR's incident and DE's, held there as replicas.
    status, de_inc = _http(
        "POST",
        f"{b.url}/api/v1/incidents",
        de,
        incident_body(title="Wiper at a DE grid operator", share_with={"communities": ["csirts-network"]}),
    )
    assert status == 201, de_inc
    c.cli("peer", "sync")
    enisa = c.token("coordinator@enisa.example")
    crisis_in = {
        "title": "Wiper campaign against grid operators",
        "justification": "Significant impact in two Member States.",
        "criteria": ["multi-member-state-impact"],
        "incidents": [inc["id"], de_inc["id"]],
    }
    status, crisis = _http("POST", f"{c.url}/api/v1/crises", enisa, crisis_in)
    assert status == 201, crisis
    status, room = _http("GET", f"{c.url}/api/v1/crises/{crisis['id']}", enisa)
    assert status == 200, room
    assert {i["id"] for i in room["incidents"]} == {inc["id"], de_inc["id"]}  # both Member States' incidents
    assert "multi-member-state-impact" in room["evidenced"], room["evidenced"]  # FR and DE: from the replicas

    # Delivered again (a crash between the hub's send and its record): still applied once at FR.
    assert deliver_due(hub_factory, hub_settings, now + 2 * LATER).applied == 0
    assert _count(a, "SELECT count(*) FROM audit_events WHERE tag = 'alerts:alert:acknowledge'") == 1

    # The hub's operator restarts it with the deployment's escalation model changed (a rule of the test, not law):
    # operational coordination in EU-CyCLONe now needs the agreement of the two Member States' CSIRTs.
    c.stop()
    c.extra = {"CYBERCRISIS_ESCALATION_MODEL": str(_model_needing(tmp_path, "eu-cyclone", ["fr-csirt", "de-csirt"]))}
    c.start()
    # The hub proposes the move; CERT-FR and CERT-Bund each agree on their own node.
    move_in = {"to": "eu-cyclone", "rationale": "Two Member States' grids are hit.", "share_with_approvers": True}
    status, move = _http("POST", f"{c.url}/api/v1/crises/{crisis['id']}/escalations", enisa, move_in)
    assert status == 201 and move["state"] == "pending", move
    c.cli("peer", "sync")  # the hub's own crisis goes to both national nodes directly
    b.cli("user", "create", "--org", "CERT-Bund", "--role", "coordinator", "--email", "coordinator@cert-bund.example")
    de_coord = b.token("coordinator@cert-bund.example")
    status, held = _http("GET", f"{b.url}/api/v1/crises/{crisis['id']}", de_coord)
    assert status == 200 and held["held_at"]["node"] == _node_id(c), held
    assert {i["id"] for i in held["incidents"]} == {inc["id"], de_inc["id"]}  # FR's through the hub, and its own
    assert [e["state"] for e in held["escalations"]] == ["pending"]
    # CERT-Bund agrees on its own node; the node is killed with the answer queued, and restarted.
    path = f"/api/v1/crises/{crisis['id']}/escalations/{move['id']}/approve"
    status, sent = _http("POST", f"{b.url}{path}", de_coord, {"comment": "BSI and CERT-Bund agree"})
    assert status == 200 and sent["answer"]["state"] == "queued", sent
    b.stop(kill=True)
    b.start()
    assert deliver_due(session_factory, settings, now + 3 * LATER).applied == 1
    assert deliver_due(session_factory, settings, now + 4 * LATER).applied == 0  # nothing is left to send
    # CERT-FR agrees on its own node: the last agreement; the hub applies the move under its model.
    fr_admin = a.token("admin@cert-fr.example")
    status, sent = _http("POST", f"{a.url}{path}", fr_admin, {})
    assert status == 200 and sent["answer"]["state"] == "queued", sent
    fr_factory, fr_settings = _factory(a)
    assert deliver_due(fr_factory, fr_settings, now + 3 * LATER).applied == 1
    status, room = _http("GET", f"{c.url}/api/v1/crises/{crisis['id']}", enisa)
    assert room["stage"] == "eu-cyclone" and room["escalations"][0]["state"] == "done", room
    assert _count(c, "SELECT count(*) FROM answer_receipts") == 2
    agreed = "SELECT count(*) FROM audit_events WHERE tag = 'crises:escalation:agree' AND object_id = ?"
    assert _count(c, agreed, move["id"]) == 2
    # The move travels back: both national nodes show the crisis in EU-CyCLONe, their answers applied.
    c.cli("peer", "sync")
    for node, token in ((b, de_coord), (a, fr_admin)):
        status, held = _http("GET", f"{node.url}/api/v1/crises/{crisis['id']}", token)
        assert held["stage"] == "eu-cyclone" and held["escalations"][0]["state"] == "done", held
        assert held["escalations"][0]["answer"]["state"] == "applied", held
        agreeing = {x["org"]["id"] for x in held["escalations"][0]["approvals"] if x["verdict"] == "agree"}
        assert agreeing == {org_id_for_key("fr-csirt"), DE}, held

    # The hub narrows the crisis to CERT-FR: the withdrawal reaches CERT-Bund's node, where the replica disappears
    # for CERT-Bund; CERT-FR's node keeps it (revocation travels, ADR 0013).
    narrowed = {"tlp": "amber", "share_with": {"organisations": [org_id_for_key("fr-csirt")]}}
    status, _ = _http("PUT", f"{c.url}/api/v1/crises/{crisis['id']}/sharing", enisa, narrowed)
    assert status == 200
    c.cli("peer", "sync")
    assert _http("GET", f"{b.url}/api/v1/crises/{crisis['id']}", de_coord)[0] == 404
    status, held = _http("GET", f"{a.url}/api/v1/crises/{crisis['id']}", fr_admin)
    assert status == 200 and held["share_with"]["organisations"] == [org_id_for_key("fr-csirt")], held

    # CERT-FR asks the CSIRTs Network for help on its node; the hub passes the request on to CERT-Bund's node.
    ask = {
        "needs": ["forensics"],
        "description": "Wiper at a grid operator; need forensic help on OT images.",
        "urgency": "immediate",
        "recipients": {"communities": ["csirts-network"], "organisations": [], "reserve": False},
        "affected_entity": "Grid operator",
        "entity_type": "essential",
        "impact": "red",
        "severity": "high",
        "spillover": "medium",
        "tlp": "amber",
    }
    status, request = _http("POST", f"{a.url}/api/v1/assistance-requests", fr, ask)
    assert status == 201, request
    c.cli("peer", "sync")
    status, held = _http("GET", f"{b.url}/api/v1/assistance-requests/{request['id']}", de)
    assert status == 200 and held["held_at"]["node"] == _node_id(a) and held["state"] == "open", held
    # An offer is AMBER+STRICT, for the requester only: it never goes through the hub. CERT-Bund's node says so
    # until the two national nodes peer directly (bilateral, as the topologies say); then the offer goes to FR's
    # node, which makes it there.
    offer = {"capability": "forensics", "people": 2, "available_from": "2030-01-01T06:00:00Z", "conditions": ""}
    path = f"/api/v1/assistance-requests/{request['id']}/offers"
    status, refused = _http("POST", f"{b.url}{path}", de, offer)
    assert status == 409 and "never through a hub" in refused["detail"], refused
    b.cli("peer", "add", a.url, "--token", a.token("analyst@cert-bund.example"), "--direction", "pull")
    a.cli("peer", "add", b.url, "--token", b.token("analyst@cert-fr.example"), "--direction", "pull")
    status, sent = _http("POST", f"{b.url}{path}", de, offer)
    assert status == 202 and sent["state"] == "queued" and sent["input"]["people"] == 2, sent
    assert deliver_due(session_factory, settings, now + 5 * LATER).applied == 1
    assert _count(c, "SELECT count(*) FROM answers WHERE act = 'assistance.offer'") == 0  # the hub never held it
    status, mine = _http("GET", f"{a.url}/api/v1/assistance-requests/{request['id']}", fr)
    [made] = mine["offers"]
    assert made["offerer"] == DE and made["people"] == 2 and made["tlp"] == "amber+strict", mine
    # CERT-FR accepts it on its node: the request is in support, and so it is on CERT-Bund's node too.
    status, accepted = _http(
        "POST", f"{a.url}/api/v1/assistance-requests/{request['id']}/offers/{made['id']}/accept", fr, {}
    )
    assert status == 200 and accepted["state"] == "accepted", accepted
    b.cli("peer", "sync")  # now a peer of FR's node, CERT-Bund's node takes FR's versions from it directly
    status, held = _http("GET", f"{b.url}/api/v1/assistance-requests/{request['id']}", de)
    assert held["state"] == "in-support" and [x["state"] for x in held["answers"]] == ["applied"], held
    assert _count(a, "SELECT count(*) FROM assistance_offers WHERE request_id = ?", request["id"]) == 1  # made once
    # The offer comes back to CERT-Bund's node (it is AMBER+STRICT: directly), accepted.
    [back] = held["offers"]
    assert (back["id"], back["state"], back["offerer"]) == (made["id"], "accepted", DE), held

    # ENISA drafts a statement on the hub for CERT-FR and CERT-Bund to approve; each approves on its own node.
    fr_csirt = org_id_for_key("fr-csirt")
    statement = {
        "kind": "statement",
        "title": "Wiper against grid operators: what the public should know",
        "body": "Two grid operators were hit. Power supply holds.",
        "language": "en",
        "approvers": [fr_csirt, DE],
        "tlp": "amber",
    }
    status, comm = _http("POST", f"{c.url}/api/v1/communications", enisa, statement)
    assert status == 201, comm
    c.cli("peer", "sync")
    for node, token in ((b, de_coord), (a, fr_admin)):
        path = f"/api/v1/communications/{comm['id']}/approve"
        status, sent = _http("POST", f"{node.url}{path}", token, {"version": 1, "comment": ""})
        assert status == 200 and sent["held_at"]["node"] == _node_id(c), sent
        assert [x["state"] for x in sent["answers"]] == ["queued"], sent
    assert deliver_due(session_factory, settings, now + 6 * LATER).applied == 1
    assert deliver_due(fr_factory, fr_settings, now + 6 * LATER).applied == 1
    status, at_hub = _http("GET", f"{c.url}/api/v1/communications/{comm['id']}", enisa)
    assert at_hub["state"] == "approved" and at_hub["waiting_for"] == [], at_hub
    c.cli("peer", "sync")  # the approved statement travels back to both approvers' nodes
    status, held = _http("GET", f"{b.url}/api/v1/communications/{comm['id']}", de_coord)
    assert held["state"] == "approved" and {x["org"] for x in held["approvals"]} == {fr_csirt, DE}, held

    # Each Member State submits its national contribution on its own node; the hub's operational report, published
    # there, takes its figures from both (and the technical one counts both Member States' incidents).
    period = {
        "period_start": (now - timedelta(days=1)).isoformat(),
        "period_end": (now + timedelta(days=1)).isoformat(),
    }
    national = {
        **period,
        "status": "degraded",
        "outlook": "worsening",
        "sectors": [{"sector": "energy", "impact": "red"}],
        "narrative": "Wiper at grid operators.",
        "tlp": "amber",
        "share_with": {"communities": ["csirts-network"]},
    }
    status, fr_c = _http("POST", f"{a.url}/api/v1/contributions", fr, national | {"country": "FR"})
    assert status == 201, fr_c
    status, de_c = _http("POST", f"{b.url}/api/v1/contributions", de, national | {"country": "DE", "status": "normal"})
    assert status == 201, de_c
    c.cli("peer", "sync")
    status, held = _http("GET", f"{c.url}/api/v1/contributions/{de_c['id']}", enisa)
    assert status == 200 and held["held_at"]["node"] == _node_id(b) and held["status"] == "normal", held
    audience = {"share_with": {"communities": ["csirts-network"]}}
    status, report = _http("POST", f"{c.url}/api/v1/sitreps", enisa, period | {"level": "operational"} | audience)
    assert status == 201, report
    figures = str(report["figures"])
    assert fr_c["id"] in figures and de_c["id"] in figures, report["figures"]
    second = c.token("secretariat@enisa.example")  # four eyes: another ENISA coordinator approves
    status, report = _http("POST", f"{c.url}/api/v1/sitreps/{report['id']}/approve", second, {"version": 1})
    assert status == 200, report
    status, report = _http("POST", f"{c.url}/api/v1/sitreps/{report['id']}/publish", enisa, {"version": 1})
    assert status == 200 and report["state"] == "published", report
    # Each Member State's latest word is the one from its own node (the demo's contributions are there too).
    countries = report["figures"]["countries"]
    assert countries["FR"]["status"] == "degraded" and fr_c["id"] in countries["FR"]["sources"], countries
    assert countries["DE"]["status"] == "normal" and de_c["id"] in countries["DE"]["sources"], countries
    # The published report reaches the national nodes of its audience, which compute each reader's figures from the
    # sources it carries that the reader may read there: CERT-FR's node holds CERT-Bund's contribution too.
    c.cli("peer", "sync")
    a.cli("peer", "sync")
    status, held = _http("GET", f"{a.url}/api/v1/sitreps/{report['id']}", fr)
    assert status == 200 and held["held_at"]["node"] == _node_id(c) and held["state"] == "published", held
    countries = held["figures"]["countries"]
    assert countries["FR"]["status"] == "degraded" and fr_c["id"] in countries["FR"]["sources"], countries
    assert countries["DE"]["status"] == "normal" and de_c["id"] in countries["DE"]["sources"], countries
    status, report = _http("POST", f"{c.url}/api/v1/sitreps", enisa, period | {"level": "technical"})
    assert status == 201, report
    assert inc["id"] in str(report["figures"]) and de_inc["id"] in str(report["figures"]), report["figures"]
