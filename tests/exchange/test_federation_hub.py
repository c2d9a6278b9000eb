"""Hub and spoke with three real nodes (issue 15, ADR 0013 point 5): CERT-FR's and CERT-Bund's national nodes peer
with the EU hub (ENISA's) only; an early warning and its acknowledgement pass through the hub, one hop, signed by
their origin all the way.

FR (`a`) and the hub (`c`) run on SQLite files of their own; DE (`b`) runs on the test's database (SQLite and
PostgreSQL). The operators' steps are the CLI commands docs/federation.md shows; the sync rounds and the answer
deliveries are run by the test, in the order the jobs would run them.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.config import Settings
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


def _key(node: NodeProc) -> str:
    return next(line.split()[1] for line in node.cli("node", "show").stdout.splitlines() if "current" in line)


def _count(node: NodeProc, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(node.database_url.removeprefix("sqlite:///"))) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_an_early_warning_and_its_acknowledgement_pass_through_the_hub_one_hop_and_never_amber_strict(
    three: tuple[NodeProc, NodeProc, NodeProc], settings: Settings, session_factory: sessionmaker[Session]
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
    c.cli("peer", "sync")
    status, done = _http("GET", f"{b.url}/api/v1/alerts/{alert['id']}", de)
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
