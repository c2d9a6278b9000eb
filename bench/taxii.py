"""Suite `taxii`: our TAXII 2.1 server against the OASIS reference server (medallion), and federation time.

Per backend (SQLite always, PostgreSQL with --postgres), one server of ours with the demo *directory* only and the
job runner off (no signing or sync job writes while a run reads), and once per suite medallion (`medallion`, the
console script of its package, as shipped: the Flask development server with its memory backend, a JSON data file
written into the temp dir). Both hold the same 10,000 generated TLP:GREEN indicators in one collection and are read
with HTTP Basic auth (ours: e-mail and API token; medallion: a user of its config).

1. *Side by side*: GET objects `limit=100` (first page), a page deep in the collection (a `next` token ~95 % in),
   GET one object, POST an envelope of 100 new objects (fresh ids in every request: a wrk Lua script, or the
   Python generator), at 1 and 32 connections: req/s, p50/p95/p99 and the ratio to a baseline of the same server
   in the same run (/healthz for ours, discovery for medallion), and ours/medallion; a full paged read (following
   `next`) in objects/s. medallion's memory backend pairs every object with every manifest entry to sort a listing
   (quadratic in the collection), so its listings are timed one request at a time on collections of its first
   500, 1,000 and 2,000 objects, and one first page of the 10,000 is tried with a cap (`MEDALLION_CAP_S`).
2. *Scale*: our collection grown to 100,000 and 1,000,000 objects by bulk insert (SQLAlchemy Core, share rows and
   signatures included; load time printed): first page, deep page and one object at 1 and 32 connections, ratio
   to the 10,000 case.
3. *Federation*: three nodes of ours (own data dirs and databases); B pulls from A, A pushes to C. After a first
   round, 10,000 new objects are imported on A; the time until all are on B (`cybercrisis peer sync` on B) and on
   C (`cybercrisis peer sync` on A): objects/s. Skipped, and said so, while `cybercrisis peer` is not built.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine, func, insert, select, text

from bench import load
from bench.crises import _wrk_once
from bench.crises import measure as crises_measure
from bench.server import HOST, BenchServer, ServerError, free_port
from bench.situation import _PERCENTILES_LUA, BenchFailure, Measured, _log_errors, load_directory

OBJECTS = 10_000
SCALES = (100_000, 1_000_000)
PAGE = 100
FULL_PAGES = (100, 1000)  # page sizes of the full paged read
POST_OBJECTS = 100
CONNECTIONS = (1, 32)
MEDALLION_SMALL = (500, 1_000, 2_000)
MEDALLION_CAP_S = 30.0
BULK_CHUNK = 10_000
DEEP = 0.95  # where the deep page is, as a fraction of the 10,000
COMMUNITY = "csirts-network"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
TAXII = "application/taxii+json;version=2.1"
NAMESPACE = uuid.UUID("3c6f1a4e-7b2d-4f0e-9a51-6d2b8e0c4f17")
CREATED = "2026-11-20T08:00:00.000Z"
READER = "reader@cert-fr.bench.example"  # imports, reads and POSTs on our server (CERT-FR, analyst)
MEDALLION_USER = "bench"
MEDALLION_COLLECTION = "9f1c2b7e-4a0d-4c55-8e2f-5b3a6d7c8e90"
FED_NODES = {"a": "fr-csirt", "b": "de-csirt", "c": "nl-csirt"}  # node -> organisation running it
FED_ROUNDS = 10  # sync rounds before giving up on "all arrived"
DRIFT_WARN = 0.15


# --- the objects ------------------------------------------------------------------------------------------------


def indicator(tag: str, i: int) -> dict[str, Any]:
    """The i-th generated indicator of a set: a distinct, deterministic id, TLP:GREEN, an IPv4 pattern."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(NAMESPACE, f'{tag}:{i}')}",
        "created": CREATED,
        "modified": CREATED,
        "name": f"Bench C2 address {tag} {i}",
        "pattern": f"[ipv4-addr:value = '10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}']",
        "pattern_type": "stix",
        "valid_from": "2026-11-20T08:00:00Z",
        "indicator_types": ["malicious-activity"],
        "object_marking_refs": [GREEN],
    }


def bundle_file(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}))
    return path


# POSTed objects: "indicator--<nonce>-<phase>-4000-8000-<counter>", unique per run (nonce), phase and request.
_POST_LUA = """-- written by bench/taxii.py: POST a TAXII envelope of @N@ new indicators per request
local counter = 0
local head = '{"type":"indicator","spec_version":"2.1","created":"@CREATED@","modified":"@CREATED@",'
  .. '"pattern_type":"stix","valid_from":"2026-11-20T08:00:00Z","indicator_types":["malicious-activity"],'
  .. '"object_marking_refs":["@GREEN@"],'
function request()
  local objs = {}
  for k = 1, @N@ do
    counter = counter + 1
    objs[k] = head .. '"id":"indicator--@NONCE@-@PHASE@-4000-8000-' .. string.format("%012d", counter)
      .. '","name":"Bench posted ' .. counter .. '","pattern":"[ipv4-addr:value = \\'10.200.0.1\\']"}'
  end
  return wrk.format("POST", nil, nil, '{"objects":[' .. table.concat(objs, ",") .. ']}')
end
"""
_PHASES = {"warmup": "0001", "measure": "0002"}


def posts(workdir: Path) -> load.Post:
    """The POSTs of one measurement (warm-up and run): a wrk script per phase, or the same bodies in Python."""
    nonce = secrets.token_hex(4)

    def lua(phase: str) -> Path:
        path = workdir / f"taxii_post_{nonce}_{phase}.lua"
        script = _POST_LUA
        for key, value in (
            ("@N@", str(POST_OBJECTS)),
            ("@CREATED@", CREATED),
            ("@GREEN@", GREEN),
            ("@NONCE@", nonce),
            ("@PHASE@", _PHASES.get(phase, "0003")),
        ):
            script = script.replace(key, value)
        path.write_text(script + _PERCENTILES_LUA)
        return path

    def body(phase: str, n: int) -> bytes:
        objs = []
        for k in range(POST_OBJECTS):
            counter = (n - 1) * POST_OBJECTS + k + 1
            objs.append(
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "created": CREATED,
                    "modified": CREATED,
                    "pattern_type": "stix",
                    "valid_from": "2026-11-20T08:00:00Z",
                    "indicator_types": ["malicious-activity"],
                    "object_marking_refs": [GREEN],
                    "name": f"Bench posted {counter}",
                    "id": f"indicator--{nonce}-{_PHASES.get(phase, '0003')}-4000-8000-{counter:012d}",
                    "pattern": "[ipv4-addr:value = '10.200.0.1']",
                }
            )
        return json.dumps({"objects": objs}).encode()

    return load.Post(lua=lua, body=body)


# --- HTTP helpers -----------------------------------------------------------------------------------------------


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": TAXII}


@dataclass
class Target:
    """One TAXII server under test: where its collection is and how to authenticate."""

    name: str  # "ours" or "medallion"
    base_url: str
    collection: str  # the collection's URL, ending in /
    baseline: str  # the URL of the baseline endpoint
    headers: dict[str, str]
    baseline_headers: dict[str, str]

    def objects(self, query: str = "") -> str:
        return f"{self.collection}objects/{'?' + query if query else ''}"


def get_json(client: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, Any]:
    r = client.get(url, headers=headers)
    if r.status_code != 200:
        raise BenchFailure(f"GET {url} answered {r.status_code}: {r.text[:300]}")
    data: dict[str, Any] = r.json()
    return data


def one_request_s(client: httpx.Client, url: str, headers: dict[str, str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        get_json(client, url, headers)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def paged_read(client: httpx.Client, t: Target, limit: int, query: str = "") -> tuple[list[str], float, int]:
    """Every object of the collection, following `next`: the ids in order, the seconds, the requests."""
    ids: list[str] = []
    token: str | None = None
    requests = 0
    t0 = time.perf_counter()
    while True:
        q = f"limit={limit}{'&' + query if query else ''}" + (f"&next={quote(token)}" if token else "")
        page = get_json(client, t.objects(q), t.headers)
        requests += 1
        ids += [o["id"] for o in page.get("objects", [])]
        if not page.get("more"):
            return ids, time.perf_counter() - t0, requests
        token = page.get("next")
        if not token:
            raise BenchFailure(f"{t.name}: a page with more=true has no next token")


def next_token_at(client: httpx.Client, t: Target, pages: int, query: str = "") -> str:
    """The `next` token after `pages` pages of PAGE objects (with `query`): the URL of a page deep in."""
    token: str | None = None
    for _ in range(pages):
        q = f"limit={PAGE}{'&' + query if query else ''}" + (f"&next={quote(token)}" if token else "")
        page = get_json(client, t.objects(q), t.headers)
        token = page.get("next")
        if not page.get("more") or not token:
            raise BenchFailure(f"{t.name}: the collection ended before page {pages}")
    assert token is not None
    return token


# --- load runs --------------------------------------------------------------------------------------------------


def measure(
    args: Any,
    generator: str,
    url: str,
    headers: dict[str, str],
    connections: int,
    workdir: Path,
    post: load.Post | None = None,
) -> Measured:
    """One run after a warm-up: GETs through the crises suite's runner (p95 from a Lua done(), drained after)."""
    if post is None:
        return crises_measure(generator, url, headers, connections, args.duration, args.warmup, workdir)
    if generator != "wrk":
        result = load.run(
            generator,
            url,
            headers=headers,
            connections=connections,
            seconds=args.duration,
            warmup=args.warmup,
            post=post,
        )
        return Measured(result, None)
    if args.warmup > 0:
        _wrk_once(url, headers, connections, args.warmup, post.lua("warmup"), warmup=True)
    measured = _wrk_once(url, headers, connections, args.duration, post.lua("measure"))
    assert measured is not None
    return Measured(*measured)


def row(key: str, label: str, c: int, m: Measured, per_request: int = 1) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "connections": c,
        **m.result.as_dict(),
        "p95_ms": m.p95_ms,
        "objects_per_s": m.result.rps * per_request,
    }


def run_plan(
    args: Any,
    generator: str,
    t: Target,
    plan: list[tuple[str, str, str, dict[str, str], bool]],
    workdir: Path,
    out: Console,
    *,
    strict: bool,
) -> list[dict[str, Any]]:
    """(key, label, url, headers, post) at each of CONNECTIONS; `strict`: a failed request fails the run."""
    rows = []
    for c in CONNECTIONS:
        for key, label, url, headers, is_post in plan:
            out.print(f"  {t.name}: {label} at {c} connection(s) ...", end="")
            try:
                if is_post:
                    hdrs = {**headers, "Content-Type": TAXII}
                    m = measure(args, generator, url, hdrs, c, workdir, post=posts(workdir))
                else:
                    m = measure(args, generator, url, headers, c, workdir)
            except (load.LoadError, BenchFailure) as exc:  # nothing answered in time, or a 500 after the run
                if strict:
                    raise
                out.print(f" [yellow]not measured[/yellow]: {escape(str(exc))[:160]}")
                rows.append(
                    {
                        "key": key,
                        "label": label,
                        "connections": c,
                        "rps": 0.0,
                        "objects_per_s": 0.0,
                        "p50_ms": math.nan,
                        "p95_ms": None,
                        "p99_ms": math.nan,
                        "non_2xx": 0,
                        "socket_errors": 0,
                        "requests": 0,
                        "error": str(exc)[:300],
                    }
                )
                continue
            r = row(key, label, c, m, POST_OBJECTS if is_post else 1)
            out.print(
                f" {m.result.rps:,.1f} req/s, p50 {m.result.p50_ms:.1f} ms, p99 {m.result.p99_ms:.1f} ms"
                + (f" [yellow]({m.result.failed} failed)[/yellow]" if m.result.failed else "")
            )
            if m.result.failed and strict:
                raise BenchFailure(
                    f"{t.name} {label}: {m.result.non_2xx} non-2xx answers and "
                    f"{m.result.socket_errors} socket errors {list(m.result.failures)}"
                )
            rows.append(r)
    return rows


# --- medallion --------------------------------------------------------------------------------------------------


def medallion_data(objects: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """medallion's memory backend file: discovery, one API root, the collection of all objects and the smaller ones
    of its first MEDALLION_SMALL objects, each with its manifest (date_added one microsecond apart)."""
    start = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)

    def collection(cid: str, title: str, objs: list[dict[str, Any]]) -> dict[str, Any]:
        manifest = [
            {
                "id": o["id"],
                "version": o["modified"],
                "media_type": "application/stix+json;version=2.1",
                "date_added": (start + timedelta(microseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            for i, o in enumerate(objs)
        ]
        return {
            "id": cid,
            "title": title,
            "description": "",
            "can_read": True,
            "can_write": True,
            "media_types": ["application/stix+json;version=2.1"],
            "objects": objs,
            "manifest": manifest,
        }

    small = [
        collection(str(uuid.uuid5(NAMESPACE, f"medallion:{n}")), f"first {n}", objects[:n]) for n in MEDALLION_SMALL
    ]
    return {
        "/discovery": {
            "title": "medallion (bench)",
            "description": "",
            "default": f"{base_url}/bench/",
            "api_roots": [f"{base_url}/bench/"],
        },
        "bench": {
            "information": {"title": "bench", "description": "", "versions": [TAXII], "max_content_length": 10485760},
            "status": [],
            "collections": [collection(MEDALLION_COLLECTION, "all", list(objects)), *small],
        },
    }


class Medallion:
    """medallion started as shipped (`medallion --host --port CONFIG`), stopped and its files removed at the end."""

    def __init__(self, workdir: Path, objects: list[dict[str, Any]]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.password = secrets.token_urlsafe(12)
        data = workdir / "medallion-data.json"
        data.write_text(json.dumps(medallion_data(objects, self.base_url)))
        self.config = workdir / "medallion-config.json"
        self.config.write_text(
            json.dumps(
                {
                    "backend": {
                        "module": "medallion.backends.memory_backend",
                        "module_class": "MemoryBackend",
                        "filename": str(data),
                        "session_timeout": 600,
                    },
                    "users": {MEDALLION_USER: self.password},
                    "taxii": {"max_page_size": max(FULL_PAGES)},
                }
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> Medallion:
        exe = Path(sys.executable).with_name("medallion")
        self._log = (self.workdir / "medallion.log").open("wb")
        cmd = [str(exe), "--host", HOST, "--port", str(self.port), "--log-level", "WARN", str(self.config)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"medallion exited with {self.proc.returncode}:\n{self.log_tail()}")
            req = urllib.request.Request(f"{self.base_url}/taxii2/", headers=self.headers)  # noqa: S310
            with (
                contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),  # not up yet: try again
                urllib.request.urlopen(req, timeout=5) as r,  # noqa: S310 - loopback
            ):
                if r.status == 200:
                    return self
            time.sleep(0.2)
        raise ServerError(f"medallion did not answer within 60 s:\n{self.log_tail()}")

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()

    @property
    def headers(self) -> dict[str, str]:
        return basic(MEDALLION_USER, self.password)

    def target(self, collection: str = MEDALLION_COLLECTION) -> Target:
        return Target(
            "medallion",
            self.base_url,
            f"{self.base_url}/bench/collections/{collection}/",
            f"{self.base_url}/taxii2/",
            self.headers,
            self.headers,
        )

    def settle(self, quiet_s: float = 3.0, cap_s: float = 300.0) -> None:
        """Wait until medallion has served what the load runs left queued (wrk gives up on requests at its timeout,
        their threads go on, sharing the GIL with the next measurement): until its log is quiet for `quiet_s`."""
        path = self.workdir / "medallion.log"
        deadline = time.monotonic() + cap_s
        size = -1
        while time.monotonic() < deadline:
            now = path.stat().st_size
            if now == size:
                return
            size = now
            time.sleep(quiet_s)

    def answers(self) -> dict[str, Any]:
        """What its log says it answered: the count per HTTP status, and the first error logged (werkzeug's lines)."""
        path = self.workdir / "medallion.log"
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        statuses: dict[str, int] = {}
        for line in lines:
            if m := re.search(r'" (\d{3}) ', line):
                statuses[m[1]] = statuses.get(m[1], 0) + 1
        first = next((ln.strip() for ln in lines if "Error" in ln or "Traceback" in ln), None)
        return {"statuses": statuses, "first_error": first}

    def log_tail(self, tail: int = 30) -> str:
        path = self.workdir / "medallion.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:]) if path.exists() else "(no output)"


def bench_medallion(
    args: Any, generator: str, objects: list[dict[str, Any]], workdir: Path, out: Console
) -> dict[str, Any]:
    from importlib.metadata import version

    with Medallion(workdir, objects) as med:
        t = med.target()
        out.print(
            f"\n[bold]medallion {version('medallion')}[/bold] (memory backend, Flask development server) on "
            f"{med.base_url}: {len(objects):,} indicators in one collection"
        )
        sample = objects[len(objects) // 2]["id"]
        plan = [
            ("baseline", "GET /taxii2/ (discovery, baseline)", t.baseline, t.headers, False),
            ("object", "GET one object", f"{t.collection}objects/{sample}/", t.headers, False),
            ("post", f"POST {POST_OBJECTS} new objects", t.objects(), t.headers, True),
        ]
        listings: list[dict[str, Any]] = []
        # First, on the idle server: a load run leaves requests queued that wrk gave up on, and they share the GIL.
        with httpx.Client(timeout=MEDALLION_CAP_S * 4) as client:
            for n in MEDALLION_SMALL:
                small = med.target(str(uuid.uuid5(NAMESPACE, f"medallion:{n}")))
                first = one_request_s(client, small.objects(f"limit={PAGE}"), t.headers, runs=1)
                ids, seconds, requests = paged_read(client, small, PAGE)
                if sorted(ids) != sorted(o["id"] for o in objects[:n]):
                    raise BenchFailure(f"medallion: the paged read of its first {n} objects did not return them")
                listings.append(
                    {
                        "objects": n,
                        "first_page_s": first,
                        "full_read_s": seconds,
                        "full_read_objects_per_s": n / seconds,
                        "full_read_requests": requests,
                    }
                )
                out.print(
                    f"  medallion, collection of {n:,}: first page {first:.2f} s; full read (limit {PAGE}) "
                    f"{n / seconds:,.0f} objects/s"
                )
        rows = run_plan(args, generator, t, plan, workdir, out, strict=False)
        med.settle()
        with httpx.Client(timeout=MEDALLION_CAP_S * 4) as client:
            # Last: the thread goes on computing after the cap, so medallion is stopped right after.
            out.print(
                f"  medallion: one first page of all {len(objects):,} (capped at {MEDALLION_CAP_S:.0f} s) ...", end=""
            )
            t0 = time.perf_counter()
            try:
                client.get(t.objects(f"limit={PAGE}"), headers=t.headers, timeout=MEDALLION_CAP_S)
                full_first: float | None = time.perf_counter() - t0
                out.print(f" {full_first:.1f} s")
            except httpx.TimeoutException:
                full_first = None
                out.print(f" no answer within {MEDALLION_CAP_S:.0f} s")
        return {
            "version": version("medallion"),
            "objects": len(objects),
            "results": rows,
            "listings": listings,
            "first_page_all_s": full_first,
            "cap_s": MEDALLION_CAP_S,
            "log": med.answers(),
        }


# --- our server -------------------------------------------------------------------------------------------------


def make_user(engine: Engine, email: str, org_key: str, role: str = "analyst") -> str:
    """A user of a directory organisation with an API token (returned)."""
    from cybercrisis.accounts import service as accounts
    from cybercrisis.accounts.service import SYSTEM
    from cybercrisis.db import make_sessionmaker, unit_of_work
    from cybercrisis.directory.exchange import org_id_for_key

    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as s:
        accounts.create_user(s, actor=SYSTEM, org_ref=org_id_for_key(org_key), email=email, roles=[role], password=None)
    with unit_of_work(factory) as s:
        token, _ = accounts.create_token(s, actor=SYSTEM, user_ref=email, name="bench", expires_days=1)
    return token


def community_count(engine: Engine) -> int:
    from cybercrisis.access.models import Share
    from cybercrisis.exchange.models import StixObject

    with engine.connect() as conn:
        q = (
            select(func.count())
            .select_from(StixObject)
            .join(
                Share,
                (Share.object_id == StixObject.share_id) & (Share.kind == "community") & (Share.target == COMMUNITY),
            )
        )
        return int(conn.execute(q).scalar_one())


def _signed_chunk(data_dir: str, owner: str, lo: int, hi: int) -> list[dict[str, Any]]:
    """Rows lo..hi of the bulk set, signed by the node as the signer job would (a worker process)."""
    from cybercrisis.exchange import node as nodes

    node = nodes.load(Path(data_dir))
    modified = datetime.fromisoformat(CREATED.replace("Z", "+00:00"))
    shares = [{"kind": "community", "target": COMMUNITY}]  # the share rows bulk_load writes, as they travel
    out = []
    for i in range(lo, hi):
        obj = indicator("bulk", i)
        out.append(
            {
                "id": obj["id"],
                "modified": modified,
                "type": "indicator",
                "spec_version": "2.1",
                "custom": False,
                "revoked": False,
                "data": obj,
                "tlp": "green",
                "owner_org_id": owner,
                "created_by_id": None,
                "exercise": False,
                "origin": "bench:bulk",
                "share_id": obj["id"],
                "latest": True,
                "origin_node": None,
                "shares": shares,
                "signed": True,
                "signature": node.sign(obj, owner, tlp="green", shares=shares, share_key=obj["id"]),
            }
        )
    return out


@dataclass
class Bulk:
    rows: int
    seconds: float
    last_chunk_after: str  # an added_after just before the last chunk: the start of a deep page


def bulk_load(engine: Engine, data_dir: Path, owner: str, lo: int, hi: int) -> Bulk:
    """BENCH SEEDING, not the importer: rows lo..hi of the bulk set into the store with their share rows, in chunks
    of BULK_CHUNK (one transaction and one date_added each, later than everything stored), signed in two worker
    processes while the previous chunk is written."""
    from cybercrisis.access.models import Share
    from cybercrisis.exchange.models import StixObject

    t0 = time.perf_counter()
    with engine.connect() as conn:
        last = conn.execute(select(func.max(StixObject.added_at))).scalar_one()
    at = max((last.replace(tzinfo=UTC) if last else datetime.now(UTC)), datetime.now(UTC)) + timedelta(seconds=1)
    after = at
    bounds = [(s, min(s + BULK_CHUNK, hi)) for s in range(lo, hi, BULK_CHUNK)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        chunks: Iterator[list[dict[str, Any]]] = pool.map(
            _signed_chunk, *zip(*((str(data_dir), owner, a, b) for a, b in bounds), strict=True)
        )
        for n, rows in enumerate(chunks):
            at += timedelta(milliseconds=1)
            if n == len(bounds) - 1:
                after = at - timedelta(microseconds=1)
            for r in rows:
                r["added_at"] = at
            shares = [
                {"object_id": r["id"], "kind": "community", "target": COMMUNITY, "added_by_org_id": owner} for r in rows
            ]
            with engine.begin() as conn:
                conn.execute(insert(StixObject.__table__), rows)  # type: ignore[arg-type]
                conn.execute(insert(Share.__table__), shares)  # type: ignore[arg-type]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE stix_objects"))
            conn.execute(text("ANALYZE shares"))  # as autovacuum would shortly after
    return Bulk(hi - lo, time.perf_counter() - t0, after.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def our_target(srv: BenchServer, token: str) -> Target:
    from cybercrisis.exchange import taxii

    cid = taxii.collection_id("community", COMMUNITY)
    return Target(
        "ours",
        srv.base_url,
        f"{srv.base_url}/taxii2/cybercrisis/collections/{cid}/",
        f"{srv.base_url}/healthz",
        basic(READER, token),
        {},
    )


def check_ours(client: httpx.Client, t: Target, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The reader sees exactly the imported objects, through the access layer, in full reads at each page size."""
    first = get_json(client, t.objects(f"limit={PAGE}"), t.headers)
    want = {o["id"] for o in objects}
    if len(first["objects"]) != PAGE or not all(o["id"] in want for o in first["objects"]):
        raise BenchFailure(f"ours: the first page has {len(first['objects'])} objects, not {PAGE} of the imported")
    reads = {}
    for limit in FULL_PAGES:
        ids, seconds, requests = paged_read(client, t, limit)
        if len(ids) != len(set(ids)) or set(ids) != want:
            raise BenchFailure(
                f"ours: the paged read (limit {limit}) returned {len(ids)} objects "
                f"({len(set(ids) & want)} of the {len(want)} imported)"
            )
        reads[str(limit)] = {"seconds": seconds, "requests": requests, "objects_per_s": len(ids) / seconds}
    return reads


def scale_plan(t: Target, deep_url: str, sample: str) -> list[tuple[str, str, str, dict[str, str], bool]]:
    return [
        ("first_page", f"GET objects limit={PAGE} (first page)", t.objects(f"limit={PAGE}"), t.headers, False),
        ("deep_page", f"GET objects limit={PAGE} (deep page, next)", deep_url, t.headers, False),
        ("object", "GET one object", f"{t.collection}objects/{sample}/", t.headers, False),
    ]


def bench_ours(
    args: Any,
    generator: str,
    postgres_url: str | None,
    objects: list[dict[str, Any]],
    out: Console,
    medallion: dict[str, Any],
) -> dict[str, Any]:
    from cybercrisis.db import make_engine
    from cybercrisis.directory.exchange import org_id_for_key

    env = {"CYBERCRISIS_JOBS_ENABLED": "false"}  # no signer or sync job writes while a run reads
    with BenchServer(postgres_url=postgres_url, data="none", env=env) as srv:
        srv.start()
        assert srv.backend is not None
        out.print(
            f"\n[bold]{srv.backend.name}[/bold] (taxii suite): {srv.backend.display_url}; server pid {srv.pid} "
            f"on {srv.base_url}; load average {os.getloadavg()[0]:.2f}"
        )
        engine = make_engine(srv.backend.database_url, pool_size=2)
        try:
            load_directory(engine)
            token = make_user(engine, READER, "fr-csirt")
            path = bundle_file(srv.tmp / "taxii-10k.json", objects)
            t0 = time.perf_counter()
            srv.cli("import", "stix", str(path), "--as", READER, "--tlp", "green", "--share-with-community", COMMUNITY)
            import_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            signed = _sign_all(srv)
            sign_s = time.perf_counter() - t0
            out.print(
                f"  seeded (not measured): {len(objects):,} indicators with `cybercrisis import stix` in "
                f"{import_s:.1f} s, shared with {COMMUNITY}; {signed:,} signed as the signer job would in "
                f"{sign_s:.1f} s"
            )
            t = our_target(srv, token)
            with httpx.Client(timeout=120) as client:
                reads = check_ours(client, t, objects)
                deep = t.objects(f"limit={PAGE}&next={quote(next_token_at(client, t, int(OBJECTS * DEEP / PAGE)))}")
            for limit, r in reads.items():
                out.print(
                    f"  full paged read, limit {limit}: {r['requests']} requests, {r['objects_per_s']:,.0f} "
                    "objects/s (one reader)"
                )
            sample = objects[len(objects) // 2]["id"]
            plan = [
                ("baseline", "GET /healthz (baseline)", t.baseline, {}, False),
                *scale_plan(t, deep, sample),
                ("post", f"POST {POST_OBJECTS} new objects", t.objects(), t.headers, True),
                ("baseline_again", "GET /healthz (baseline again)", t.baseline, {}, False),
            ]
            rows = run_plan(args, generator, t, plan, srv.tmp, out, strict=True)
            scales = [
                {
                    "objects": OBJECTS,
                    "load_s": import_s,
                    "results": [r for r in rows if r["key"] in ("first_page", "deep_page", "object")],
                }
            ]
            owner = org_id_for_key("fr-csirt")
            loaded = 0
            for size in SCALES:
                have = community_count(engine)
                if size <= have:
                    # The POST runs above can add more than a scale holds on a fast machine: nothing to load there.
                    out.print(f"  {size:,}: the collection already holds {have:,} (the POST runs added them): skipped")
                    continue
                lo = loaded
                bulk = bulk_load(engine, srv.data_dir, owner, lo, lo + max(0, size - have))
                loaded += bulk.rows
                out.print(
                    f"  bulk-loaded {bulk.rows:,} rows (+ share rows, signed) in {bulk.seconds:.1f} s "
                    f"({bulk.rows / bulk.seconds:,.0f} rows/s): {community_count(engine):,} in the collection"
                )
                with httpx.Client(timeout=120) as client:
                    deep_token = next_token_at(client, t, 1, f"added_after={bulk.last_chunk_after}")
                deep_url = t.objects(f"limit={PAGE}&added_after={bulk.last_chunk_after}&next={quote(deep_token)}")
                sample_at = indicator("bulk", (lo + loaded) // 2)["id"]
                res = run_plan(args, generator, t, scale_plan(t, deep_url, sample_at), srv.tmp, out, strict=True)
                scales.append(
                    {"objects": community_count(engine), "load_s": bulk.seconds, "rows": bulk.rows, "results": res}
                )
        except (load.LoadError, BenchFailure, OSError) as exc:  # OSError: a drain GET timed out
            raise ServerError(f"{exc!r}\nserver log:\n{srv.server_output(tail=30)}") from exc
        finally:
            engine.dispose()
        base = _baselines(rows)
        for r in rows:
            r["ratio_to_baseline"] = r["rps"] / base[r["connections"]] if base[r["connections"]] else 0.0
        med = {(r["key"], r["connections"]): r for r in medallion["results"]}
        mbase = {c: med[("baseline", c)]["rps"] for c in CONNECTIONS if ("baseline", c) in med}
        for r in rows:
            m = med.get((r["key"], r["connections"]))
            if m is not None and m["rps"]:
                r["medallion"] = {**m, "ratio_to_baseline": m["rps"] / mbase[r["connections"]]}
                r["ours_over_medallion"] = r["rps"] / m["rps"]
        ten = {(r["key"], r["connections"]): r["rps"] for r in scales[0]["results"]}
        for s in scales:
            for r in s["results"]:
                r["ratio_to_10k"] = r["rps"] / ten[(r["key"], r["connections"])]
        b0 = next(r["rps"] for r in rows if r["key"] == "baseline" and r["connections"] == CONNECTIONS[-1])
        b1 = next(r["rps"] for r in rows if r["key"] == "baseline_again" and r["connections"] == CONNECTIONS[-1])
        return {
            "backend": srv.backend.name,
            "database": srv.backend.display_url,
            "import_s": import_s,
            "sign_s": sign_s,
            "full_reads": reads,
            "results": rows,
            "baseline_rps": base,
            "baseline_drift": (b1 - b0) / b0 if b0 else 0.0,
            "scales": scales,
            "server_errors": _log_errors(srv),
        }


def _baselines(rows: list[dict[str, Any]]) -> dict[int, float]:
    out = {}
    for c in CONNECTIONS:
        runs = [r["rps"] for r in rows if r["key"] in ("baseline", "baseline_again") and r["connections"] == c]
        out[c] = sum(runs) / len(runs)
    return out


def _sign_all(srv: BenchServer) -> int:
    """Sign the imported versions in this process, as the (disabled) signer job does in the server."""
    from cybercrisis.config import Settings
    from cybercrisis.db import make_engine, make_sessionmaker
    from cybercrisis.exchange.signer import sign_pending

    assert srv.backend is not None
    engine = make_engine(srv.backend.database_url, pool_size=1)
    try:
        settings = Settings(data_dir=srv.data_dir, database_url=srv.backend.database_url)
        return sign_pending(make_sessionmaker(engine), settings, budget_seconds=600)
    finally:
        engine.dispose()


# --- federation -------------------------------------------------------------------------------------------------


def _federated(engine: Engine) -> int:
    from cybercrisis.exchange.models import StixObject

    with engine.connect() as conn:
        q = select(func.count()).select_from(StixObject).where(StixObject.origin_node.is_not(None))
        return int(conn.execute(q).scalar_one())


def _until_all(node: BenchServer, engine: Engine, want: int, out: Console, label: str) -> dict[str, Any]:
    """`cybercrisis peer sync` on `node`, round after round, until `engine` holds `want` federated versions."""
    t0 = time.perf_counter()
    rounds = 0
    have = _federated(engine)
    while have < want and rounds < FED_ROUNDS:
        node.cli("peer", "sync")
        rounds += 1
        have = _federated(engine)
    seconds = time.perf_counter() - t0
    got = have - (want - OBJECTS)
    out.print(
        f"  {label}: {got:,} of {OBJECTS:,} new objects arrived in {seconds:.1f} s ({rounds} round(s)): "
        f"{got / seconds:,.0f} objects/s"
    )
    return {
        "seconds": seconds,
        "rounds": rounds,
        "arrived": got,
        "objects_per_s": got / seconds,
        "complete": have >= want,
    }


def bench_federation(postgres_url: str | None, out: Console) -> dict[str, Any] | None:
    from cybercrisis.db import make_engine
    from cybercrisis.directory.exchange import org_id_for_key

    nodes: dict[str, BenchServer] = {}
    engines: dict[str, Engine] = {}
    try:
        for key, org in FED_NODES.items():
            # The nodes listen on 127.0.0.1, which peers may reach only when the operator allows it.
            env = {
                "CYBERCRISIS_JOBS_ENABLED": "false",
                "CYBERCRISIS_NODE_NAME": f"bench-{key}",
                "CYBERCRISIS_NODE_ORGANISATION": org_id_for_key(org),
                "CYBERCRISIS_OUTBOUND_ALLOW": "127.0.0.0/8,::1/128",
            }
            srv = nodes[key] = BenchServer(postgres_url=postgres_url, data="none", env=env)
            srv.start()
            assert srv.backend is not None
            engines[key] = make_engine(srv.backend.database_url, pool_size=1)
            load_directory(engines[key])
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        importer = "importer@cert-fr.bench.example"
        make_user(engines["a"], importer, "fr-csirt")
        token_b_on_a = make_user(engines["a"], "peer@cert-bund.bench.example", "de-csirt")
        token_c_on_a = make_user(engines["a"], "peer@ncsc-nl.bench.example", "nl-csirt")
        token_a_on_c = make_user(engines["c"], "peer@cert-fr.bench.example", "fr-csirt")
        b.cli("peer", "add", f"{a.base_url}/taxii2/", "--token", token_b_on_a, "--direction", "pull")
        c.cli("peer", "add", f"{a.base_url}/taxii2/", "--token", token_c_on_a, "--direction", "pull")  # pins A's keys
        a.cli("peer", "add", f"{c.base_url}/taxii2/", "--token", token_a_on_c, "--direction", "push")
        # A first round each way on the (empty) store, so that the timed rounds carry only the new objects.
        b.cli("peer", "sync")
        a.cli("peer", "sync")
        before_b, before_c = _federated(engines["b"]), _federated(engines["c"])
        batch = [indicator("federation", i) for i in range(OBJECTS)]
        path = bundle_file(a.tmp / "federation-10k.json", batch)
        t0 = time.perf_counter()
        a.cli("import", "stix", str(path), "--as", importer, "--tlp", "green", "--share-with-community", COMMUNITY)
        import_s = time.perf_counter() - t0
        out.print(f"  federation: three nodes; {OBJECTS:,} new objects imported on A in {import_s:.1f} s")
        pull = _until_all(b, engines["b"], before_b + OBJECTS, out, "pull (peer sync on B)")
        push = _until_all(a, engines["c"], before_c + OBJECTS, out, "push (peer sync on A, to C)")
        errors = [e for srv in nodes.values() for e in _log_errors(srv)]
        return {"objects": OBJECTS, "import_s": import_s, "pull": pull, "push": push, "server_errors": errors}
    except ServerError as exc:
        out.print(f"  [red]federation failed:[/red] {escape(str(exc))[:2000]}")
        return {"error": str(exc)[:2000]}
    finally:
        for e in engines.values():
            e.dispose()
        for srv in nodes.values():
            srv.close()


# --- the suite --------------------------------------------------------------------------------------------------


def run(args: Any, generator: str, out: Console) -> tuple[dict[str, Any], list[str], list[str]]:
    import tempfile

    objects = [indicator("collection", i) for i in range(OBJECTS)]
    workdir = Path(tempfile.mkdtemp(prefix="cybercrisis-bench-taxii-"))
    try:
        medallion = bench_medallion(args, generator, objects, workdir, out)
    finally:
        for f in workdir.iterdir():
            f.unlink()
        workdir.rmdir()
    backends = [None] + ([args.postgres] if args.postgres else [])
    results = []
    for pg in backends:
        res = bench_ours(args, generator, pg, objects, out, medallion)
        res["federation"] = bench_federation(pg, out)
        results.append(res)
        out.print()
        print_tables(res, medallion, args, generator, out)  # now: a later backend failing does not hide them
    section = {
        "objects": OBJECTS,
        "scales": list(SCALES),
        "connections": list(CONNECTIONS),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "medallion": medallion,
        "backends": results,
    }
    return section, [], [f for res in results for f in failures(res)]


def _fmt(v: float | None, spec: str = ".1f") -> str:
    return "n/a" if v is None else format(v, spec)


def _pcts(r: dict[str, Any]) -> str:
    return f"{r['p50_ms']:.1f} / {_fmt(r['p95_ms'])} / {r['p99_ms']:.1f}"


def print_tables(res: dict[str, Any], med: dict[str, Any], args: Any, generator: str, out: Console) -> None:
    name = res["backend"]
    t = Table(
        title=f"{name}: TAXII 2.1, ours vs medallion {med['version']} (memory backend), {OBJECTS:,} "
        f"indicators, HTTP Basic, {args.duration} s per run after {args.warmup} s warm-up, {generator}",
        title_justify="left",
    )
    t.add_column("endpoint", no_wrap=True)
    for col in (
        "conns",
        "ours req/s",
        "p50/p95/p99 ms",
        "x base",
        "medallion req/s",
        "p50/p95/p99 ms",
        "x base",
        "ours/med",
    ):
        t.add_column(col, justify="right", no_wrap=True)
    for r in res["results"]:
        m = r.get("medallion")
        med_cells = ("—", "—", "—") if m is None else (f"{m['rps']:,.1f}", _pcts(m), f"{m['ratio_to_baseline']:.2f}")
        ratio = f"{r['ours_over_medallion']:.1f}" if "ours_over_medallion" in r else "—"
        t.add_row(
            r["label"],
            str(r["connections"]),
            f"{r['rps']:,.1f}",
            _pcts(r),
            f"{r['ratio_to_baseline']:.2f}",
            *med_cells,
            ratio,
        )
    out.print(t)
    for r in res["results"]:
        if r["key"] == "post":
            m = r.get("medallion")
            out.print(
                f"  POST at {r['connections']}: ours {r['objects_per_s']:,.0f} objects/s"
                + (f", medallion {m['objects_per_s']:,.0f} objects/s" if m else "")
            )
    base = ", ".join(f"{v:,.0f} req/s at {c}" for c, v in res["baseline_rps"].items())
    out.print(
        f"  x base: ours over GET /healthz ({base}; drift {res['baseline_drift']:+.1%}), medallion over its "
        "discovery GET /taxii2/ (Basic auth), same run"
    )
    if abs(res["baseline_drift"]) > DRIFT_WARN:
        out.print("  [yellow]warning:[/yellow] /healthz moved between its runs: other work used the CPUs")
    failed = [r for r in med["results"] if r["non_2xx"] or r["socket_errors"]]
    for r in failed:
        out.print(
            f"  [yellow]medallion {r['label']} at {r['connections']}:[/yellow] {r['non_2xx']} non-2xx, "
            f"{r['socket_errors']} socket errors (timeouts after {load.WRK_TIMEOUT}) in {r['requests']}"
        )
    if any(not k.startswith("2") for k in med["log"]["statuses"]):
        out.print(
            f"  medallion's log: answers by status {med['log']['statuses']}; first error: "
            f"{escape(str(med['log']['first_error'])[:200])}"
        )
    reads = ", ".join(
        f"limit {k}: {v['objects_per_s']:,.0f} objects/s ({v['requests']} requests)"
        for k, v in res["full_reads"].items()
    )
    out.print(f"  full paged read of the {OBJECTS:,}, one reader following next: ours {reads}")
    lst = "; ".join(
        f"{x['objects']:,} objects: first page {x['first_page_s']:.2f} s, full read "
        f"{x['full_read_objects_per_s']:,.0f} objects/s"
        for x in med["listings"]
    )
    cap = (
        f"{med['first_page_all_s']:.1f} s"
        if med["first_page_all_s"] is not None
        else f"no answer within {med['cap_s']:.0f} s"
    )
    out.print(
        f"  medallion listings (quadratic in the collection, so timed one at a time on smaller collections): "
        f"{lst}; first page of all {med['objects']:,}: {cap}"
    )

    _print_scales(res, out)


def _print_scales(res: dict[str, Any], out: Console) -> None:
    name = res["backend"]
    sizes = " / ".join(f"{x['objects']:,}" for x in res["scales"])
    s = Table(title=f"{name}: our collection at {sizes} objects (ratio to the 10,000 case)", title_justify="left")
    s.add_column("objects", justify="right")
    s.add_column("load s", justify="right")
    s.add_column("endpoint", no_wrap=True)
    for col in ("conns", "req/s", "p50/p95/p99 ms", "x 10k"):
        s.add_column(col, justify="right", no_wrap=True)
    for sc in res["scales"]:
        for r in sc["results"]:
            s.add_row(
                f"{sc['objects']:,}",
                f"{sc['load_s']:.1f}",
                r["label"],
                str(r["connections"]),
                f"{r['rps']:,.1f}",
                _pcts(r),
                f"{r['ratio_to_10k']:.2f}",
            )
    out.print(s)
    out.print(
        "  load s: `cybercrisis import stix` for the 10,000 (signing apart), bulk insert with share rows and "
        "signatures for the rest"
    )
    fed = res.get("federation")
    if fed is None:
        out.print("  federation: not run (`cybercrisis peer` not built yet)")
    elif "error" in fed:
        out.print(f"  [red]federation failed[/red]: {escape(fed['error'][:300])}")
    else:
        out.print(
            f"  federation of {fed['objects']:,} new objects (import on A {fed['import_s']:.1f} s): pull "
            f"{fed['pull']['objects_per_s']:,.0f} objects/s ({fed['pull']['seconds']:.1f} s, "
            f"{fed['pull']['rounds']} round(s)); push {fed['push']['objects_per_s']:,.0f} objects/s "
            f"({fed['push']['seconds']:.1f} s, {fed['push']['rounds']} round(s))"
        )
    for e in res["server_errors"][:5]:
        out.print(f"  [red]server log:[/red] {escape(e)}")


def failures(res: dict[str, Any]) -> list[str]:
    name = res["backend"]
    out = [f"{name}: {len(res['server_errors'])} error(s) in the server log"] if res["server_errors"] else []
    fed = res.get("federation")
    if fed is not None:
        if "error" in fed:
            out.append(f"{name}: federation failed")
        else:
            out += [
                f"{name}: federation {d}: {fed[d]['arrived']} of {OBJECTS} arrived"
                for d in ("pull", "push")
                if not fed[d]["complete"]
            ]
            if fed["server_errors"]:
                out.append(f"{name}: {len(fed['server_errors'])} error(s) in the federation nodes' logs")
    return out
