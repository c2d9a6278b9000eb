"""Two real nodes (`cybercrisis serve --demo` processes) syncing over TAXII 2.1: issue 5, ADR 0008.

Node A (CERT-FR's) runs on its own SQLite file; node B (CERT-Bund's) runs on the test's database (SQLite and
PostgreSQL), so that the test inspects B with `session_factory`. Both load the same demo directory, so
organisation ids and collection ids are the same on both. Peers are added and synced with the CLI, as an
operator would (in the test's process: only the servers need to be processes of their own).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.config import Settings
from cybercrisis.db import make_engine, make_sessionmaker, unit_of_work
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.exchange import federation
from cybercrisis.exchange.models import Peer, PeerCursor, StixObject
from cybercrisis.exchange.signer import sign_pending
from tests.conftest import TEST_OUTBOUND_ALLOW, TEST_SECRET_KEY, Ran, count, invoke_cli

pytestmark = [pytest.mark.slow]  # each test starts its own two nodes: workers may run them side by side

CLI = str(Path(sys.executable).with_name("cybercrisis"))
START_TIMEOUT = 90.0
FR, DE, NL = org_id_for_key("fr-csirt"), org_id_for_key("de-csirt"), org_id_for_key("nl-csirt")
T0 = "2026-11-28T09:00:00.000Z"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class NodeProc:
    """One cybercrisis node: a data directory, a database and a `serve` process."""

    name: str
    organisation: str
    data_dir: Path
    database_url: str
    log: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None
    extra: dict[str, str] = field(default_factory=dict)  # more settings, as the operator's environment gives them

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery(self) -> str:
        return f"{self.url}/taxii2/"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CYBERCRISIS_DATA_DIR": str(self.data_dir),
            "CYBERCRISIS_DATABASE_URL": self.database_url,
            "CYBERCRISIS_NODE_NAME": self.name,
            "CYBERCRISIS_NODE_ORGANISATION": self.organisation,
            # The key that seals peer tokens: the test's in-process sync rounds on B must open what `peer add` sealed.
            "CYBERCRISIS_SECRET_KEY": TEST_SECRET_KEY,
            "CYBERCRISIS_JOBS_ENABLED": "false",  # the test runs the sync rounds itself
            "CYBERCRISIS_OUTBOUND_ALLOW": TEST_OUTBOUND_ALLOW,  # both nodes listen on 127.0.0.1
            "CYBERCRISIS_ARGON2_TIME_COST": "1",
            "CYBERCRISIS_ARGON2_MEMORY_KIB": "1024",
            "COLUMNS": "250",
            **self.extra,
        }

    def spawn(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [CLI, "serve", "--demo", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"node {self.name} exited with {self.process.returncode}:\n{self.log.read_text()}")
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
                urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response,  # noqa: S310 - our own server
            ):
                if response.status == 200:
                    return
            time.sleep(0.2)
        pytest.fail(f"node {self.name} did not become ready:\n{self.log.read_text()}")

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def cli(self, *args: str, ok: bool = True) -> Ran:
        """A command on this node, as its operator would type it: run in the test's process (the servers are real)."""
        proc = invoke_cli(*args, env=self.env)
        if ok:
            assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
        return proc

    def token(self, email: str) -> str:
        return self.cli("token", "create", "--user", email).stdout.strip().splitlines()[-1]

    def import_stix(self, tmp: Path, objects: list[dict[str, Any]], *args: str, who: str) -> None:
        path = tmp / f"bundle-{uuid.uuid4().hex[:8]}.json"
        path.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}))
        self.cli("import", "stix", str(path), "--as", who, *args)

    def settings(self) -> Settings:
        return Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            secret_key="x" * 48,
            jobs_enabled=False,
            outbound_allow=TEST_OUTBOUND_ALLOW,
        )


def indicator(n: int, *, marks: list[str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": T0,
        "modified": T0,
        "name": f"C2 address {n}",
        "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
        "pattern_type": "stix",
        "valid_from": T0,
    }
    if marks:
        obj["object_marking_refs"] = marks
    return obj


def green(n: int) -> dict[str, Any]:
    # Marked: an unmarked object's TLP is the importing node's default, which does not travel (see the report).
    return indicator(n, marks=[STIX_MARKING_IDS[TLP.GREEN]])


def amber(n: int) -> dict[str, Any]:
    return indicator(n, marks=[STIX_MARKING_IDS[TLP.AMBER]])


@pytest.fixture
def nodes(tmp_path: Path, settings: Settings) -> Iterator[tuple[NodeProc, NodeProc]]:
    """A (CERT-FR, own SQLite) and B (CERT-Bund, the test's database and data directory), both running."""
    a = NodeProc("node-a", "CERT-FR", tmp_path / "a", f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "a.log")
    b = NodeProc("node-b", "CERT-Bund", settings.data_dir, settings.effective_database_url, tmp_path / "b.log")
    a.data_dir.mkdir()
    try:
        a.spawn()
        b.spawn()
        a.wait_ready()
        b.wait_ready()
        yield a, b
    finally:
        a.stop()
        b.stop()


def stored(factory: sessionmaker[Session], ids: list[str]) -> dict[str, StixObject]:
    with unit_of_work(factory, write=False) as s:
        rows = list(s.scalars(select(StixObject).where(StixObject.id.in_(ids))))
        s.expunge_all()
    return {r.id: r for r in rows}


def shares(factory: sessionmaker[Session], oid: str) -> set[tuple[str, str]]:
    from cybercrisis.access.models import Share

    with unit_of_work(factory, write=False) as s:
        return {(k, t) for k, t in s.execute(select(Share.kind, Share.target).where(Share.object_id == oid))}


def sync_line(out: str) -> str:
    return next(line for line in out.splitlines() if "pulled" in line)


# --- pull, loops, key rotation -------------------------------------------------------------------------------


def test_pull_carries_owner_tlp_and_shares_never_more_and_nothing_loops_back(
    nodes: tuple[NodeProc, NodeProc], tmp_path: Path, session_factory: sessionmaker[Session], db: Session
) -> None:
    a, b = nodes
    greens = [green(i) for i in range(5)]
    for_nl = amber(90)  # AMBER shared with NCSC-NL only: CERT-Bund may not read it on A
    for_de = amber(91)  # AMBER shared with CERT-Bund
    a.import_stix(tmp_path, greens, "--tlp", "green", who="analyst@cert-fr.example")
    a.import_stix(tmp_path, [for_nl], "--share-with-org", NL, who="analyst@cert-fr.example")
    a.import_stix(tmp_path, [for_de], "--share-with-org", DE, who="analyst@cert-fr.example")

    # The node's address, as the README shows it for everything else: its TAXII discovery is found under it.
    added = b.cli("peer", "add", a.url, "--token", a.token("analyst@cert-bund.example"), "--direction", "pull")
    assert f"at {a.discovery}," in added.stdout
    a_node = a.cli("node", "show").stdout
    current = next(line.split()[1] for line in a_node.splitlines() if "current" in line)
    assert f"current: {current}" in added.stdout  # the fingerprint printed is the one the peer's operator sees

    first = sync_line(b.cli("peer", "sync").stdout)
    ids = [o["id"] for o in greens] + [for_nl["id"], for_de["id"]]
    got = stored(session_factory, ids)
    assert set(got) == {o["id"] for o in greens} | {for_de["id"]}  # never the object CERT-Bund may not read
    for o in greens:
        row = got[o["id"]]
        assert (row.owner_org_id, row.tlp, row.data, row.signed) == (FR, "green", o, True)
        assert row.origin_node == a_node.split()[1]
        assert shares(session_factory, o["id"]) == {("community", "csirts-network")}
    assert got[for_de["id"]].tlp == "amber"
    for oid in got:  # the same share list as on A
        assert shares(session_factory, oid) == _a_shares(a, oid), oid
    assert shares(session_factory, for_de["id"]) == {("organisation", DE)}

    # A second round changes nothing.
    before = count(db, StixObject)
    again = sync_line(b.cli("peer", "sync").stdout)
    assert "pulled 0," in again and "rejected 0" in again, (first, again)
    assert count(db, StixObject) == before

    # A pulls from B: A's own objects do not come back; B pulls again: nothing new either way.
    a.cli(
        "peer",
        "add",
        b.discovery,
        "--token",
        b.token("analyst@cert-fr.example"),
        "--direction",
        "pull",
        "--fingerprint",
        b.cli("node", "show").stdout.split("key ")[1].split()[0],
    )
    a_rows = _sqlite_count(a, "SELECT count(*) FROM stix_objects")
    a.cli("peer", "sync")
    with contextlib.closing(sqlite3.connect(a.database_url.removeprefix("sqlite:///"))) as conn:
        assert sorted(i for (i,) in conn.execute("SELECT id FROM stix_objects") if i in ids) == sorted(ids)
    a_after = _sqlite_count(a, "SELECT count(*) FROM stix_objects")
    assert "pulled 0," in sync_line(b.cli("peer", "sync").stdout)
    assert "pulled 0," in sync_line(a.cli("peer", "sync").stdout)
    assert _sqlite_count(a, "SELECT count(*) FROM stix_objects") == a_after >= a_rows

    # Key rotation on A: B accepts A's new objects, signed with the new key endorsed by the old one.
    a.cli("node", "rotate-key")
    fresh = [green(200 + i) for i in range(3)]
    a.import_stix(tmp_path, fresh, "--tlp", "green", who="analyst@cert-fr.example")
    out = b.cli("peer", "sync").stdout
    assert "pulled 3," in sync_line(out), out
    assert set(stored(session_factory, [o["id"] for o in fresh])) == {o["id"] for o in fresh}
    with unit_of_work(session_factory, write=False) as s:
        assert len(s.scalars(select(Peer)).one().keys) == 2
    status = b.cli("peer", "status").stdout
    assert "caught up" in status and "last error" not in status, status


def _a_shares(node: NodeProc, oid: str) -> set[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(node.database_url.removeprefix("sqlite:///"))) as conn:
        rows = conn.execute("SELECT kind, target FROM shares WHERE object_id = ? AND kind != 'user'", (oid,))
        return {(k, t) for k, t in rows}


def _sqlite_count(node: NodeProc, sql: str) -> int:
    with contextlib.closing(sqlite3.connect(node.database_url.removeprefix("sqlite:///"))) as conn:
        return int(conn.execute(sql).fetchone()[0])


# --- push ----------------------------------------------------------------------------------------------------


def test_push_sends_only_what_the_peer_organisation_may_read(
    nodes: tuple[NodeProc, NodeProc], tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    a, b = nodes
    shared = green(1)
    for_nl, for_de = amber(2), amber(3)
    strict_de = indicator(4, marks=[STIX_MARKING_IDS[TLP.AMBER_STRICT]])
    strict_nl = indicator(5, marks=[STIX_MARKING_IDS[TLP.AMBER_STRICT]])
    red = indicator(6, marks=[STIX_MARKING_IDS[TLP.RED]])
    a.import_stix(tmp_path, [shared], "--tlp", "green", who="analyst@cert-fr.example")
    a.import_stix(tmp_path, [for_nl, strict_nl], "--share-with-org", NL, who="analyst@cert-fr.example")
    a.import_stix(tmp_path, [for_de, strict_de], "--share-with-org", DE, who="analyst@cert-fr.example")
    a.import_stix(tmp_path, [red], who="analyst@cert-fr.example")

    # B accepts what A pushes only once it knows A's key, so A pushes nothing until B has A as a peer too.
    a.cli("peer", "add", b.discovery, "--token", b.token("analyst@cert-fr.example"), "--direction", "push")
    early = a.cli("peer", "sync", ok=False)
    assert early.returncode == 1 and "does not know this node's current key" in early.stderr, early.stderr
    assert stored(session_factory, [shared["id"]]) == {}
    b.cli("peer", "add", a.discovery, "--token", a.token("analyst@cert-bund.example"), "--direction", "pull")
    out = a.cli("peer", "sync").stdout
    assert "rejected 0" in sync_line(out), out
    ids = [o["id"] for o in (shared, for_nl, for_de, strict_de, strict_nl, red)]
    got = stored(session_factory, ids)
    assert set(got) == {shared["id"], for_de["id"], strict_de["id"]}
    assert shares(session_factory, strict_de["id"]) == {("organisation", DE)}
    assert all(r.owner_org_id == FR and r.origin_node is not None for r in got.values())

    # Lag: nothing waits; a new object for CERT-Bund waits until the next round.
    assert "push: 0 version(s) waiting" in a.cli("peer", "status").stdout
    later = amber(7)
    a.import_stix(tmp_path, [later], "--share-with-org", DE, who="analyst@cert-fr.example")
    assert "push: 1 version(s) waiting" in a.cli("peer", "status").stdout
    again = sync_line(a.cli("peer", "sync").stdout)
    assert "pushed 0," not in again and later["id"] in stored(session_factory, [later["id"]])
    assert "push: 0 version(s) waiting" in a.cli("peer", "status").stdout


# --- tampering -----------------------------------------------------------------------------------------------


def test_a_tampered_object_is_rejected_and_reported(
    nodes: tuple[NodeProc, NodeProc], tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    a, b = nodes
    objs = [indicator(i) for i in range(3)]
    a.import_stix(tmp_path, objs, "--tlp", "green", who="analyst@cert-fr.example")
    engine = make_engine(a.database_url, pool=False)
    try:
        sign_pending(make_sessionmaker(engine), a.settings())  # as A's signer job does
    finally:
        engine.dispose()
    victim = objs[1]["id"]
    changed = {**objs[1], "name": "something else"}
    with contextlib.closing(sqlite3.connect(a.database_url.removeprefix("sqlite:///"))) as conn:
        assert conn.execute("SELECT signed FROM stix_objects WHERE id = ?", (victim,)).fetchone() == (1,)
        conn.execute("UPDATE stix_objects SET data = ? WHERE id = ?", (json.dumps(changed), victim))
        conn.commit()

    b.cli("peer", "add", a.discovery, "--token", a.token("analyst@cert-bund.example"), "--direction", "pull")
    out = b.cli("peer", "sync").stdout
    assert "rejected 1" in sync_line(out) and "does not verify" in out, out
    assert set(stored(session_factory, [o["id"] for o in objs])) == {objs[0]["id"], objs[2]["id"]}
    status = b.cli("peer", "status").stdout
    assert "rejected 1" in status and victim in status and "does not verify" in status, status


# --- a peer killed mid-sync ----------------------------------------------------------------------------------


def test_a_peer_killed_mid_sync_resumes_and_every_object_arrives_once(
    nodes: tuple[NodeProc, NodeProc], tmp_path: Path, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    a, b = nodes
    many = [indicator(i) for i in range(5000)]
    a.import_stix(tmp_path, many, "--tlp", "green", who="analyst@cert-fr.example")
    b.cli("peer", "add", a.discovery, "--token", a.token("analyst@cert-bund.example"), "--direction", "pull")
    with unit_of_work(session_factory, write=False) as s:
        peer_id = s.scalars(select(Peer.id)).one()
    ids = [o["id"] for o in many]

    def arrived() -> int:
        with unit_of_work(session_factory, write=False) as s:
            query = select(func.count()).select_from(StixObject).where(StixObject.origin == f"peer:{_node_id(a)}")
            return s.scalar(query.where(StixObject.type == "indicator")) or 0

    results: list[federation.SyncResult] = []
    round_ = threading.Thread(
        target=lambda: results.append(federation.sync_peer(session_factory, settings, peer_id, page_size=25))
    )
    round_.start()
    deadline = time.monotonic() + 120
    while arrived() == 0 and round_.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    a.stop(kill=True)
    round_.join(timeout=120)
    assert results and results[0].errors, "the round ended before the peer was killed: make the pages smaller"
    part = arrived()
    assert 0 < part < len(ids)
    with unit_of_work(session_factory, write=False) as s:
        cursors = list(s.scalars(select(PeerCursor).where(PeerCursor.direction == "pull")))
        assert any(c.position and not c.complete for c in cursors)
        assert s.get_one(Peer, peer_id).last_error

    a.start()
    done = federation.sync_peer(session_factory, settings, peer_id, page_size=200)
    assert done.ok, done.errors
    got = stored(session_factory, ids)
    assert len(got) == len(ids)
    with unit_of_work(session_factory, write=False) as s:
        assert s.scalar(select(func.count()).select_from(StixObject).where(StixObject.id.in_(ids[:1000]))) == 1000
        peer = s.get_one(Peer, peer_id)
        assert peer.last_success_at is not None and peer.last_success_at >= (peer.last_error_at or peer.last_success_at)


def _node_id(node: NodeProc) -> str:
    return json.loads((node.data_dir / "node" / "node.json").read_text())["id"]


# --- bad peers do not stop good ones -------------------------------------------------------------------------


class _Garbage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        """Keep the test output free of the tiny server's access log."""


class _Slow(_Garbage):
    def do_GET(self) -> None:
        time.sleep(4)
        with contextlib.suppress(OSError):
            super().do_GET()


@contextlib.contextmanager
def tiny_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/taxii2/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_garbage_or_slow_peer_does_not_stop_a_good_one(
    nodes: tuple[NodeProc, NodeProc],
    tmp_path: Path,
    settings: Settings,
    session_factory: sessionmaker[Session],
    db: Session,
) -> None:
    a, b = nodes
    objs = [indicator(i) for i in range(3)]
    a.import_stix(tmp_path, objs, "--tlp", "green", who="analyst@cert-fr.example")
    token = a.token("analyst@cert-bund.example")
    with tiny_server(_Garbage) as garbage, tiny_server(_Slow) as slow:
        # `peer add` refuses what is not a cybercrisis node, and an address nobody answers; nothing is stored.
        refused = b.cli("peer", "add", garbage, "--token", token, "--direction", "pull", ok=False)
        assert refused.returncode == 1 and "not a TAXII 2.1 server" in refused.stderr, refused.stderr
        nobody = f"http://127.0.0.1:{_free_port()}/taxii2/"
        refused = b.cli("peer", "add", nobody, "--token", token, "--direction", "pull", ok=False)
        assert refused.returncode == 1 and "cannot connect" in refused.stderr, refused.stderr
        refused = b.cli("peer", "add", a.discovery, "--token", "cc_wrong", "--direction", "pull", ok=False)
        assert refused.returncode == 1 and "HTTP 401" in refused.stderr, refused.stderr
        refused = b.cli(
            "peer",
            "add",
            a.discovery,
            "--token",
            token,
            "--direction",
            "pull",
            "--fingerprint",
            "0123456789abcdef",
            ok=False,
        )
        assert refused.returncode == 1 and "current key is" in refused.stderr, refused.stderr
        refused = b.cli(
            "peer", "add", b.discovery, "--token", b.token("analyst@cert-bund.example"), "--direction", "pull", ok=False
        )
        assert refused.returncode == 1 and "this node itself" in refused.stderr, refused.stderr
        assert count(db, Peer) == 0

        b.cli("peer", "add", a.discovery, "--token", token, "--direction", "pull")
        with unit_of_work(session_factory) as s:  # a peer that went bad after it was added
            for url in (garbage, slow):
                s.add(
                    Peer(
                        id=f"peer--{uuid.uuid4()}",
                        url=url,
                        api_root=url + "cybercrisis/",
                        title="bad",
                        node_id=f"identity--{uuid.uuid4()}",
                        token="t",
                        direction="pull",
                        collections=[],
                        keys=[],
                        relayed_keys={},
                        timeout_seconds=1.0,
                    )
                )
        federation.sync_all(session_factory, settings)

    assert set(stored(session_factory, [o["id"] for o in objs])) == {o["id"] for o in objs}
    with unit_of_work(session_factory, write=False) as s:
        by_url = {p.url: p for p in s.scalars(select(Peer))}
    assert by_url[a.discovery].last_error is None and by_url[a.discovery].last_success_at is not None
    assert "not a TAXII 2.1 server" in (by_url[garbage].last_error or "")
    assert "did not answer within 1 s" in (by_url[slow].last_error or "")
    status = b.cli("peer", "status").stdout
    assert status.count("last error") == 2, status


# --- replicas and answers (issue 15, ADR 0013) ---------------------------------------------------------------


def _http(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - our own test servers
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_an_early_warning_and_its_incident_take_part_on_the_recipients_node_and_the_acknowledgement_goes_home_once(
    nodes: tuple[NodeProc, NodeProc], settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    from cybercrisis.exchange.answers_out import deliver_due
    from tests.exchange.test_stix_export import incident_body

    a, b = nodes
    # B (CERT-Bund's node) pulls from A with CERT-Bund's account there; A pins B, so that it takes B's answers.
    b.cli("peer", "add", a.url, "--token", a.token("analyst@cert-bund.example"), "--direction", "pull")
    a.cli("peer", "add", b.url, "--token", b.token("analyst@cert-fr.example"), "--direction", "pull")
    fr_on_a, de_on_b = a.token("analyst@cert-fr.example"), b.token("analyst@cert-bund.example")

    status, inc = _http("POST", f"{a.url}/api/v1/incidents", fr_on_a, incident_body(share_with={"organisations": [DE]}))
    assert status == 201, inc
    warning = {
        "title": "Wiper spreading to grid operators",
        "body": "Block 198.51.100.7 now.",
        "tlp": "amber",
        "recipients": {"organisations": [DE, NL]},
        "incident": inc["id"],
    }
    status, alert = _http("POST", f"{a.url}/api/v1/alerts", fr_on_a, warning)
    assert status == 201, alert
    assert "rejected 0" in sync_line(b.cli("peer", "sync").stdout)

    # On B, CERT-Bund's analyst reads FR's incident and early warning like local ones, marked as held at A.
    status, replica = _http("GET", f"{b.url}/api/v1/incidents/{inc['id']}", de_on_b)
    assert status == 200, replica
    assert replica["held_at"]["node"] == _node_id(a) and replica["held_at"]["stale"] is False
    assert (replica["held_at"]["organisation"], replica["held_at"]["node_name"]) == (FR, "node-a")
    assert (replica["title"], replica["countries"], replica["owner"]) == (inc["title"], inc["countries"], FR)
    assert len(replica["observables"]) == len(inc["observables"])
    status, page = _http("GET", f"{b.url}/api/v1/alerts?pending_for_me=true", de_on_b)
    assert [x["id"] for x in page["items"]] == [alert["id"]]

    # DE acknowledges on its own node; A is down: the answer waits, shown as queued.
    status, acked = _http("POST", f"{b.url}/api/v1/alerts/{alert['id']}/acknowledge", de_on_b)
    assert status == 200 and acked["answers"][0]["state"] == "queued", acked
    a.stop(kill=True)
    assert deliver_due(session_factory, settings).failed == 1
    status, waiting = _http("GET", f"{b.url}/api/v1/alerts/{alert['id']}", de_on_b)
    assert waiting["answers"][0]["state"] == "queued" and waiting["answers"][0]["last_error"], waiting
    assert set(waiting["pending"]) == {DE, NL}
    assert f"answers waiting for node {_node_id(a)}: 1" in b.cli("peer", "status").stdout  # the operator sees it

    # A is back: the answer is applied there once, and comes back to B as A's new version of the alert.
    # NCSC-NL's analyst acknowledges on B too, but B speaks for CERT-Bund only: A refuses, and says why.
    status, _ = _http("POST", f"{b.url}/api/v1/alerts/{alert['id']}/acknowledge", b.token("analyst@ncsc-nl.example"))
    assert status == 200

    a.start()
    later = datetime.now(UTC) + timedelta(minutes=10)  # past the retry delay
    sent = deliver_due(session_factory, settings, later)
    assert (sent.applied, sent.refused) == (1, 1), sent
    assert deliver_due(session_factory, settings, later).applied == 0  # nothing is sent twice
    status, nl_view = _http("GET", f"{b.url}/api/v1/alerts/{alert['id']}", b.token("analyst@ncsc-nl.example"))
    [refused] = nl_view["answers"]
    assert refused["state"] == "refused" and "organisation" in refused["reason"], refused
    status, at_origin = _http("GET", f"{a.url}/api/v1/alerts/{alert['id']}", fr_on_a)
    assert [x["organisation"] for x in at_origin["acknowledged"]] == [DE] and at_origin["pending"] == [NL]
    b.cli("peer", "sync")
    status, done = _http("GET", f"{b.url}/api/v1/alerts/{alert['id']}", de_on_b)
    assert done["pending"] == [NL] and [x["organisation"] for x in done["acknowledged"]] == [DE], done
    assert done["answers"][0]["state"] == "applied"
    assert _sqlite_count(a, "SELECT count(*) FROM audit_events WHERE tag = 'alerts:alert:acknowledge'") == 1
    assert _sqlite_count(a, "SELECT count(*) FROM answer_receipts") == 1
