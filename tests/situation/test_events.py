"""The live event stream (ADR 0006): the audit chain, filtered per reader, resumable with Last-Event-ID.

First the pieces on the database (`events.load`, `StreamEvent.visible_to`), then real `uvicorn` processes read
over HTTP with httpx, as a browser's EventSource would. Every server here polls only every ten minutes, so an
event that arrives in time was delivered by the after-commit hook (same process) or by PostgreSQL NOTIFY (another
process), not by the safety-net poll. Timeouts only keep a broken build from hanging; nothing asserts on latency.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import ShareEntry
from cybercrisis.access.principal import ANONYMOUS, Principal
from cybercrisis.accounts.service import principal_from_token
from cybercrisis.audit.models import AuditEvent
from cybercrisis.config import Settings
from cybercrisis.situation import events
from tests.conftest import Actor, World

NOW = datetime.now(UTC).replace(microsecond=0)
START = (NOW - timedelta(hours=12)).isoformat()
END = (NOW + timedelta(hours=12)).isoformat()
WAIT = 20.0  # seconds: how long an event may take before the test gives up (not a latency requirement)
POLL_SECONDS = "600"  # the safety-net poll never fires during a test


@pytest.fixture
def cast(world: World) -> dict[str, Actor]:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    world.org("CERT-Bund", country="DE", communities=("csirts-network",))
    world.org("CERT-EE", country="EE", communities=("csirts-network",))
    world.org("ENISA", type_="eu-body", country=None, communities=("csirts-network",))
    world.org("Outsider", country="NL", communities=())
    return {
        "fr": world.user("CERT-FR"),
        "de": world.user("CERT-Bund"),
        "ee": world.user("CERT-EE"),
        "enisa": world.user("ENISA", roles=("coordinator",)),
        "outsider": world.user("Outsider", roles=("viewer",)),
        "admin": world.user("ENISA", roles=("platform-admin",)),
    }


def incident_body(**over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "title": "Ransomware at a grid operator",
        "tlp": "green",
        "aware_at": (NOW - timedelta(hours=3)).isoformat(),
        "countries": ["FR"],
        "sectors": ["energy"],
        "rsit_class": "malicious-code",
        "rsit_type": "infected-system",
        "impact_severity": "red",
        "share_with": {"communities": ["csirts-network"]},
    }
    b.update(over)
    return b


def contribution_body(**over: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "country": "FR",
        "period_start": START,
        "period_end": END,
        "status": "degraded",
        "sectors": [{"sector": "energy", "impact": "red"}],
        "services_disrupted": [],
        "outlook": "worsening",
        "narrative": "Ransomware at two grid operators.",
        "tlp": "green",
        "share_with": {"communities": ["csirts-network"]},
    }
    b.update(over)
    return b


def amber_for(org_id: str) -> dict[str, Any]:
    """An AMBER incident shared with one organisation only."""
    return incident_body(title="Insider at a hospital", tlp="amber", share_with={"organisations": [org_id]})


def principal(db: Session, actor: Actor) -> Principal:
    p = principal_from_token(db, actor.token)
    assert p is not None
    return p


def audit_rows(db: Session, *, after: int) -> list[tuple[int, str, str | None]]:
    db.rollback()  # a fresh snapshot: the rows as committed now
    rows = db.execute(
        select(AuditEvent.seq, AuditEvent.tag, AuditEvent.object_id)
        .where(AuditEvent.seq > after)
        .order_by(AuditEvent.seq)
    ).all()
    return [(r.seq, r.tag, r.object_id) for r in rows]


# --- on the database -------------------------------------------------------------------------------------------


def test_load_returns_entries_in_order_with_their_access_facts(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    db.rollback()
    start = events.head(db)
    fr, enisa = cast["fr"], cast["enisa"]
    amber = client.post("/api/v1/incidents", json=amber_for(enisa.org_id), headers=fr.headers)
    assert amber.status_code == 201, amber.text
    contribution = client.post("/api/v1/contributions", json=contribution_body(), headers=fr.headers)
    assert contribution.status_code == 201, contribution.text
    chain = audit_rows(db, after=start)
    loaded = events.load(db, after=start)
    # every entry after the cursor, in seq order, streamed or not: the cursor must be able to pass them all
    assert [(e.seq, e.tag, e.object_id) for e in loaded] == chain
    assert [e.seq for e in loaded] == list(range(start + 1, start + 1 + len(loaded)))
    about_amber = [e for e in loaded if e.object_id == amber.json()["id"]]
    assert about_amber and about_amber[0].tag == "incidents:incident:create"
    for e in about_amber:
        assert e.streamed and not e.directory
        assert (e.tlp, e.owner_org_id) == ("amber", fr.org_id)
        assert ShareEntry("organisation", enisa.org_id) in e.shares
        assert not any(s.kind == "community" for s in e.shares)
    about_contribution = [e for e in loaded if e.object_id == contribution.json()["id"]]
    assert about_contribution and about_contribution[0].tag == "situation:contribution:create"
    for e in about_contribution:
        assert e.streamed and (e.tlp, e.owner_org_id) == ("green", fr.org_id)
        assert ShareEntry("community", "csirts-network") in e.shares
    # a smaller batch is a prefix; a later cursor is a suffix
    assert [e.seq for e in events.load(db, after=start, limit=2)] == [start + 1, start + 2]
    assert [e.seq for e in events.load(db, after=start + 1)] == [e.seq for e in loaded[1:]]
    assert events.load(db, after=events.head(db)) == []


def test_an_amber_incident_is_visible_only_to_the_organisations_it_is_shared_with(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    db.rollback()
    start = events.head(db)
    fr, de, enisa = cast["fr"], cast["de"], cast["enisa"]
    amber = client.post("/api/v1/incidents", json=amber_for(enisa.org_id), headers=fr.headers).json()
    green = client.post("/api/v1/contributions", json=contribution_body(), headers=fr.headers).json()
    db.rollback()  # a fresh snapshot: what the API committed
    loaded = events.load(db, after=start)
    on_amber = [e for e in loaded if e.object_id == amber["id"]]
    on_green = [e for e in loaded if e.object_id == green["id"]]
    assert on_amber and on_green
    readers = {name: principal(db, cast[name]) for name in ("fr", "de", "ee", "enisa", "outsider")}
    for e in on_amber:
        assert e.visible_to(readers["enisa"])  # shared with ENISA
        assert e.visible_to(readers["fr"])  # its owner
        assert not e.visible_to(readers["de"])  # a CSIRTs Network member, but AMBER is not shared to the network
        assert not e.visible_to(readers["ee"])
        assert not e.visible_to(readers["outsider"])
        assert not e.visible_to(ANONYMOUS)
    for e in on_green:
        assert all(e.visible_to(readers[n]) for n in ("fr", "de", "ee", "enisa"))  # the community
        assert not e.visible_to(readers["outsider"])  # not in the community
        assert not e.visible_to(ANONYMOUS)
    # A user of ENISA that the share does not name by user still reads it: the share is to the organisation.
    other_enisa = principal(db, cast["admin"])
    assert all(e.visible_to(other_enisa) for e in on_amber)
    assert de.org_id != enisa.org_id


def test_crisis_room_changes_are_streamed_under_each_objects_own_marking(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    """The live crisis room (issue 19) listens for the crisis and its decisions and actions: each event reaches
    the readers of that object and nobody else."""
    db.rollback()
    start = events.head(db)
    enisa, fr = cast["enisa"], cast["fr"]
    crisis = client.post(
        "/api/v1/crises",
        json={
            "title": "Grid ransomware wave",
            "justification": "Significant impact in two Member States",
            "tlp": "amber",
            "share_with": {"organisations": [fr.org_id]},
        },
        headers=enisa.headers,
    )
    assert crisis.status_code == 201, crisis.text
    cid = crisis.json()["id"]
    decided = client.post(
        f"/api/v1/crises/{cid}/decisions", json={"level": "technical", "title": "Block the C2"}, headers=enisa.headers
    )
    assert decided.status_code == 201, decided.text
    db.rollback()
    loaded = [e for e in events.load(db, after=start) if e.object_id in (cid, decided.json()["id"])]
    assert {e.object_id.split("--")[0] for e in loaded if e.object_id} == {"crisis", "decision"}
    readers = {name: principal(db, cast[name]) for name in ("fr", "de", "enisa", "outsider")}
    for e in loaded:
        assert e.streamed and e.visible_to(readers["enisa"]) and e.visible_to(readers["fr"]), e.tag
        assert not e.visible_to(readers["de"]) and not e.visible_to(readers["outsider"]), e.tag
        assert not e.visible_to(ANONYMOUS)


def test_requests_for_assistance_are_streamed_to_their_readers_only(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    """My work follows the stream too (issue 19): a request for assistance reaches the organisation it is
    addressed to and its requester, nobody else."""
    db.rollback()
    start = events.head(db)
    body = {
        "needs": ["forensics"],
        "description": "OT forensics for a water utility.",
        "recipients": {"organisations": [cast["de"].org_id], "communities": [], "reserve": False},
        "impact": "red",
        "tlp": "amber+strict",
    }
    r = client.post("/api/v1/assistance-requests", json=body, headers=cast["fr"].headers)
    assert r.status_code == 201, r.text
    db.rollback()
    loaded = [e for e in events.load(db, after=start) if e.object_id == r.json()["id"]]
    assert loaded and all(e.streamed for e in loaded)
    readers = {name: principal(db, cast[name]) for name in ("fr", "de", "ee", "outsider")}
    for e in loaded:
        assert e.visible_to(readers["fr"]) and e.visible_to(readers["de"]), e.tag
        assert not e.visible_to(readers["ee"]) and not e.visible_to(readers["outsider"]), e.tag


def test_directory_changes_are_visible_to_every_signed_in_reader(
    client: TestClient, cast: dict[str, Actor], db: Session
) -> None:
    db.rollback()
    start = events.head(db)
    de_org = cast["de"].org_id
    r = client.patch(
        f"/api/v1/organisations/{de_org}",
        json={"description": "Germany's national CSIRT."},
        headers=cast["admin"].headers,
    )
    assert r.status_code == 200, r.text
    db.rollback()
    loaded = events.load(db, after=start)
    updates = [e for e in loaded if e.tag == "directory:organisation:update"]
    assert [e.object_id for e in updates] == [de_org]
    assert updates[0].streamed and updates[0].directory
    for name in ("fr", "de", "ee", "enisa", "outsider"):
        assert updates[0].visible_to(principal(db, cast[name]))
    assert not updates[0].visible_to(ANONYMOUS)
    # the organisations created for the cast are directory changes too
    created = [e for e in events.load(db, after=0) if e.tag == "directory:organisation:create"]
    assert len(created) == 5 and all(e.directory and e.visible_to(principal(db, cast["outsider"])) for e in created)


def test_accounts_and_tokens_are_not_streamed(
    client: TestClient, cast: dict[str, Actor], world: World, db: Session
) -> None:
    db.rollback()
    start = events.head(db)
    world.user("CERT-Bund")  # a user and a token, created by the system
    r = client.post("/api/v1/tokens", json={"name": "second"}, headers=cast["de"].headers)
    assert r.status_code == 201, r.text
    r = client.delete(f"/api/v1/tokens/{r.json()['id']}", headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    db.rollback()
    loaded = events.load(db, after=start)
    tags = [e.tag for e in loaded]
    assert {"accounts:user:create", "accounts:token:create", "accounts:token:revoke"} <= set(tags)
    readers = [principal(db, cast[n]) for n in ("fr", "de", "ee", "enisa", "outsider", "admin")]
    for e in loaded:
        assert e.tag.startswith("accounts:"), e.tag
        assert not e.streamed
        assert not any(e.visible_to(p) for p in readers), e.tag
    # they still advance the cursor: a stream passes over them without sending anything
    assert [e.seq for e in loaded] == list(range(start + 1, start + 1 + len(loaded)))


# --- real servers ----------------------------------------------------------------------------------------------


@dataclass
class Sse:
    event: str
    id: str | None
    data: dict[str, Any]

    @property
    def object(self) -> str | None:
        value = self.data.get("object")
        return value if isinstance(value, str) else None


CLOSED = Sse("closed", None, {})


@dataclass
class EventStream:
    """One `GET /api/v1/events` read line by line in a thread; parsed events go to a queue."""

    client: httpx.Client
    response: httpx.Response
    context: contextlib.AbstractContextManager[httpx.Response]
    queue: queue.Queue[Sse] = field(default_factory=queue.Queue)
    thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._read, name="sse-reader", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event, last_id, data = "message", None, list[str]()
        try:
            for line in self.response.iter_lines():
                if line.startswith(":"):
                    continue  # a comment: the keep-alive
                if line == "":
                    if data:
                        self.queue.put(Sse(event, last_id, json.loads("\n".join(data))))
                    event, data = "message", []
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value
                elif name == "id":
                    last_id = value
                elif name == "data":
                    data.append(value)
        except Exception as exc:  # noqa: BLE001 - closing the socket from the test ends the read with some error
            self.error = exc
        finally:
            self.queue.put(CLOSED)

    def next(self, timeout: float = WAIT) -> Sse:
        try:
            got = self.queue.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no event within {timeout:.0f} s")
        if got is CLOSED:
            pytest.fail(f"the stream ended: {self.error!r}")
        return got

    def until(self, done: Callable[[Sse], bool], timeout: float = WAIT) -> list[Sse]:
        """Events up to and including the first for which `done` is true."""
        deadline = time.monotonic() + timeout
        got: list[Sse] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"the awaited event did not come within {timeout:.0f} s; received: {got}")
            got.append(self.next(timeout=left))
            if done(got[-1]):
                return got

    def close(self) -> None:
        """Disconnect as a browser closing the tab: the socket goes away under the reading thread."""
        stream = self.response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed by the server
                sock.shutdown(socket.SHUT_RDWR)
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None
        with contextlib.suppress(httpx.HTTPError):  # the connection is already broken on purpose
            self.context.__exit__(None, None, None)
        self.client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """`uvicorn cybercrisis.app:create_app --factory` on a free port, on the test's database."""

    def __init__(self, settings: Settings, tmp_path: Path, name: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"{name}.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CYBERCRISIS_")}
        self.env.update(
            {
                "CYBERCRISIS_DATABASE_URL": settings.effective_database_url,
                "CYBERCRISIS_DATA_DIR": str(tmp_path / f"{name}-data"),
                "CYBERCRISIS_SECRET_KEY": settings.effective_secret_key(),
                "CYBERCRISIS_JOBS_ENABLED": "false",
                "CYBERCRISIS_ARGON2_TIME_COST": "1",
                "CYBERCRISIS_ARGON2_MEMORY_KIB": "1024",
                "CYBERCRISIS_EVENTS_POLL_SECONDS": POLL_SECONDS,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self.streams: list[EventStream] = []

    def launch(self) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "cybercrisis.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def wait_until_up(self, timeout: float = 60) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):  # not listening yet
                if self.http.get("/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"the server did not start within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        for s in self.streams:
            s.close()
        self.streams.clear()
        self.http.close()
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stream(self, actor: Actor, *, last_event_id: int | None = None) -> EventStream:
        headers = {**actor.headers, "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        # the read timeout only has to outlast the 15 s keep-alive
        client = httpx.Client(base_url=self.url, timeout=httpx.Timeout(60, connect=10))
        context = client.stream("GET", "/api/v1/events", headers=headers)
        response = context.__enter__()
        s = EventStream(client, response, context)
        self.streams.append(s)
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        s.start()
        return s

    def post(self, path: str, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=body, headers=actor.headers)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def patch(self, path: str, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
        r = self.http.patch(path, json=body, headers=actor.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


Servers = Callable[..., list[Server]]


@pytest.fixture
def servers(settings: Settings, tmp_path: Path) -> Iterator[Servers]:
    """Start servers, side by side, on the test's database (the fixtures have migrated it); all are stopped at the
    end, their streams first."""
    started: list[Server] = []

    def start(*names: str) -> list[Server]:
        new = [Server(settings, tmp_path, name) for name in names]
        started.extend(new)
        for server in new:
            server.launch()
        for server in new:
            server.wait_until_up()
        return new

    yield start
    for server in started:
        server.stop()


def hello(stream: EventStream) -> int:
    first = stream.next()
    assert first.event == "hello"
    assert first.id == str(first.data["seq"])
    seq: int = first.data["seq"]
    return seq


@pytest.mark.slow
def test_a_reader_gets_what_they_may_see_and_nothing_else(servers: Servers, cast: dict[str, Actor]) -> None:
    [server] = servers("a")
    fr, de, enisa = cast["fr"], cast["de"], cast["enisa"]
    de_stream, enisa_stream = server.stream(de), server.stream(enisa)
    hello(de_stream)
    hello(enisa_stream)
    amber = server.post("/api/v1/incidents", fr, amber_for(enisa.org_id))  # ENISA only
    visible = server.post("/api/v1/contributions", fr, contribution_body())  # the CSIRTs Network
    got = de_stream.until(lambda e: e.object == visible["id"])
    assert amber["id"] not in [e.object for e in got]  # it came before the visible change, if at all
    last = got[-1]
    assert last.event == "change" and last.id == str(last.data["seq"])
    assert last.data["type"] == "contribution" and last.data["tag"] == "situation:contribution:create"
    assert all(e.event == "change" for e in got)
    # ENISA may read both, and gets them in the order they were made
    seen = [e.object for e in enisa_stream.until(lambda e: e.object == visible["id"])]
    assert amber["id"] in seen and seen.index(amber["id"]) < seen.index(visible["id"])


@pytest.mark.slow
def test_reconnecting_with_last_event_id_gets_exactly_what_was_missed(
    servers: Servers, cast: dict[str, Actor], db: Session
) -> None:
    [server] = servers("a")
    fr, de, enisa = cast["fr"], cast["de"], cast["enisa"]
    first = server.stream(de)
    hello(first)
    a = server.post("/api/v1/incidents", fr, incident_body(title="First incident"))
    last = int(first.until(lambda e: e.object == a["id"])[-1].data["seq"])
    first.close()
    # while the reader is away: visible, invisible, visible, and an update of a visible object
    b = server.post("/api/v1/incidents", fr, incident_body(title="Second incident", countries=["FR", "DE"]))
    hidden = server.post("/api/v1/incidents", fr, amber_for(enisa.org_id))
    c = server.post("/api/v1/contributions", fr, contribution_body())
    server.patch(f"/api/v1/incidents/{b['id']}", fr, {"version": b["version"], "status": "contained"})
    shown = {a["id"], b["id"], c["id"]}
    missed = audit_rows(db, after=last)
    expected = [seq for seq, _, oid in missed if oid in shown]
    assert len(expected) >= 3  # b created and updated, c created, and anything else recorded about them
    assert any(oid == hidden["id"] for _, _, oid in missed)
    again = server.stream(de, last_event_id=last)
    assert hello(again) == last  # it resumes where the reader left off, not at the present
    marker = server.post("/api/v1/incidents", fr, incident_body(title="After reconnecting", countries=["EE"]))
    got = again.until(lambda e: e.object == marker["id"])
    marker_seq = min(seq for seq, _, oid in audit_rows(db, after=last) if oid == marker["id"])
    # exactly the missed visible events, in order, none twice, none missing, then the new one
    assert [int(e.data["seq"]) for e in got] == [*expected, marker_seq]
    assert [e.id for e in got] == [str(s) for s in (*expected, marker_seq)]
    assert hidden["id"] not in [e.object for e in got]
    # From the start of the chain, older than anything the process holds in memory: read from the database.
    # The reader sees the organisations created for the cast, then the same changes; accounts and the AMBER
    # incident are left out.
    whole = server.stream(de, last_event_id=0)
    assert hello(whole) == 0
    got = whole.until(lambda e: e.object == marker["id"])
    chain = audit_rows(db, after=0)
    expected = [
        seq
        for seq, tag, oid in chain
        if seq <= marker_seq and (tag.startswith("directory:organisation:") or oid in {*shown, marker["id"]})
    ]
    assert [int(e.data["seq"]) for e in got] == expected
    assert sum(1 for e in got if e.data["type"] == "identity") == 5


@pytest.mark.slow
def test_the_stream_refuses_anonymous_readers_and_bad_cursors(servers: Servers, cast: dict[str, Actor]) -> None:
    [server] = servers("a")
    r = server.http.get("/api/v1/events")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401
    r = server.http.get("/api/v1/events", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    r = server.http.get("/api/v1/events", headers={**cast["de"].headers, "Last-Event-ID": "yesterday"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Last-Event-ID" in r.text
    r = server.http.get("/api/v1/events?last_event_id=1e3", headers=cast["de"].headers)
    assert r.status_code == 422


@pytest.mark.slow
def test_a_change_made_through_another_process_arrives_by_notify(
    servers: Servers, cast: dict[str, Actor], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several server processes need PostgreSQL; SQLite runs one process")
    a, b = servers("a", "b")
    fr, de = cast["fr"], cast["de"]
    on_a = a.stream(de)
    hello(on_a)
    made = b.post("/api/v1/contributions", fr, contribution_body())
    got = on_a.until(lambda e: e.object == made["id"])
    assert got[-1].data["tag"] == "situation:contribution:create"
    # and the other way round, to a stream opened on the process that did not write
    on_b = b.stream(de)
    hello(on_b)
    other = a.post("/api/v1/incidents", fr, incident_body(title="Seen through process A"))
    assert on_b.until(lambda e: e.object == other["id"])[-1].data["type"] == "incident"
