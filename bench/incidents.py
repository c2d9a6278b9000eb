"""The incidents suite: incident creation under load, correlation at scale, early warning to every organisation.

Per backend (SQLite always, PostgreSQL with --postgres):

1. Creation. A real server with the demo directory (`cybercrisis demo load`) and a token of the demo analyst
   of CERT-FR (`cybercrisis token create`). GET /healthz at 16 connections (the baseline, before and after),
   then POST /api/v1/incidents at 16 connections: every request a distinct title and 20 observables, 15 of
   its own and 5 from a pool of 64 shared by all requests, so correlation has work. wrk runs a Lua script
   written into the server's temp dir. Afterwards the incidents are counted in the database: every 2xx
   answer must be an incident there, and no answer may be non-2xx.
2. Correlation: bench/correlation.py, in a separate bench database, without the server.
3. Early warning. An SMTP sink on 127.0.0.1 (bench/smtp.py) and the same server, configured to send to it,
   with its in-process job runner off so that the bench decides who delivers. POST /api/v1/alerts to one
   organisation (three times: the baseline), then to every organisation of the directory but the sender's,
   TLP:GREEN: the request time is the time to queue, since the outbox rows are written in the request's
   transaction (counted right after the answer). Delivery is measured twice, each time for a fresh alert to
   everyone and until the sink holds every message of it: (a) by `cybercrisis jobs run`, the shipped job
   runner (the server runs the same loop in a thread), started and idle before the alert is sent, so the
   alert waits for its next delivery pass as it would in production; (b) by `notify.deliver.deliver_due`
   in-process with a batch that takes every message at once, compared with sending the same number of
   messages straight to the sink with the project's `notify.email` (the bare SMTP cost, no outbox).
"""

from __future__ import annotations

import inspect
import json
import os
import re
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine, func, select

from bench import correlation, load
from bench.server import BenchServer, ServerError
from bench.smtp import SmtpSink
from cybercrisis import jobs
from cybercrisis.config import Settings
from cybercrisis.db import make_engine, make_sessionmaker
from cybercrisis.directory.models import Contact, Organisation
from cybercrisis.incidents.models import Incident
from cybercrisis.notify import email
from cybercrisis.notify.deliver import deliver_due
from cybercrisis.notify.models import JobLease, OutboxMessage

CONNECTIONS = 16
UNIQUE_OBSERVABLES = 15
SHARED_OBSERVABLES = 5
SHARED_POOL = 64
TITLE = "Bench incident"
ANALYST = "analyst@cert-fr.example"  # a demo user (demo/users.py) whose role may create incidents and alerts
ANALYST_ORG_SHORT = "CERT-FR"
AIM_QUEUE_S = 1.0
AIM_DELIVER_S = 10.0
MIN_CONTACTS = 150  # the directory size for the early warning
ALERT_EVENT = "alerts:alert:send"
DELIVERY_TIMEOUT_S = 90.0
RUNNER_START_TIMEOUT_S = 30.0


class BenchFailure(ServerError):
    """A check of the incidents suite failed (not an aim missed: a wrong result)."""


# --- 1. incident creation -----------------------------------------------------------------------------------

_LUA = """-- written by bench/incidents.py for one wrk phase: POST an incident with 20 observables per request
local phase = "%(phase)s"
local run = %(run)d
local aware = "%(aware)s"
local pool = %(pool)d
local counter = 0
local threads = {}
failed = 0
failures = ""

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

-- A few of the failed answers, printed at the end for the bench to report (wrk counts them only).
function response(status, headers, body)
  if status < 200 or status > 299 then
    failed = failed + 1
    if failed <= %(max_failures)d then
      local text = string.gsub(string.sub(body or "", 1, 300), "%%s+", " ")
      failures = failures .. "%(prefix)s" .. status .. " " .. text .. "\\n"
    end
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(thread:get("failures") or "")
  end
end

local function obs(kind, value)
  return '{"type":"' .. kind .. '","value":"' .. value .. '"}'
end

function request()
  counter = counter + 1
  local me = tid or 0
  local items = {}
  for k = 1, 5 do
    items[#items + 1] = obs("ipv6-addr", string.format("2001:db8:%%x:%%x:%%x::%%x", run, me, counter, k))
    items[#items + 1] = obs("domain-name", string.format("u%%d-%%d-%%d.%%s.bench.example", me, counter, k, phase))
    local hex = string.format("%%02x%%02x%%08x%%04x", run, me, counter, k)
    items[#items + 1] = obs("sha256", hex .. string.rep("ab", 24))
  end
  for k = 1, %(shared)d do
    local n = (counter * %(shared)d + k) %% pool
    if k %% 2 == 1 then
      items[#items + 1] = obs("ipv4-addr", string.format("198.51.100.%%d", n))
    else
      items[#items + 1] = obs("domain-name", string.format("shared-%%d.bench.example", n))
    end
  end
  local body = '{"title":"%(title)s ' .. phase .. ' ' .. me .. '-' .. counter .. '",'
    .. '"description":"Created by make bench.","tlp":"green","aware_at":"' .. aware .. '",'
    .. '"countries":["FR"],"sectors":["health"],"rsit_class":"intrusions","rsit_type":"system-compromise",'
    .. '"observables":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", nil, nil, body)
end
"""


def _python_body(phase: str, run: int, aware: str, n: int) -> bytes:
    """The body the Lua script would send as request n of thread 0 (for the Python fallback generator)."""
    items: list[dict[str, str]] = []
    for k in range(1, 6):
        items.append({"type": "ipv6-addr", "value": f"2001:db8:{run:x}:0:{n:x}::{k:x}"})
        items.append({"type": "domain-name", "value": f"u0-{n}-{k}.{phase}.bench.example"})
        items.append({"type": "sha256", "value": f"{run:02x}00{n:08x}{k:04x}" + "ab" * 24})
    for k in range(1, SHARED_OBSERVABLES + 1):
        m = (n * SHARED_OBSERVABLES + k) % SHARED_POOL
        if k % 2 == 1:
            items.append({"type": "ipv4-addr", "value": f"198.51.100.{m}"})
        else:
            items.append({"type": "domain-name", "value": f"shared-{m}.bench.example"})
    body = {
        "title": f"{TITLE} {phase} 0-{n}",
        "description": "Created by make bench.",
        "tlp": "green",
        "aware_at": aware,
        "countries": ["FR"],
        "sectors": ["health"],
        "rsit_class": "intrusions",
        "rsit_type": "system-compromise",
        "observables": items,
    }
    return json.dumps(body).encode()


def incident_posts(workdir: Path) -> load.Post:
    aware = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs = {"warmup": 1, "measure": 2}  # any other phase (the probe) is run 3

    def lua(phase: str) -> Path:
        path = workdir / f"post_incident_{phase}.lua"
        path.write_text(
            _LUA
            % {
                "phase": phase,
                "run": runs.get(phase, 3),
                "aware": aware,
                "pool": SHARED_POOL,
                "shared": SHARED_OBSERVABLES,
                "title": TITLE,
                "max_failures": load.MAX_FAILURES,
                "prefix": load.FAILURE_PREFIX,
            }
        )
        return path

    return load.Post(lua=lua, body=lambda phase, n: _python_body(phase, runs.get(phase, 3), aware, n))


def _log_size(srv: BenchServer) -> int:
    path = srv.tmp / "server.log"
    return path.stat().st_size if path.exists() else 0


_REQUEST_ERROR = re.compile(r"(?:unhandled|database) error on /")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Violation)\b.*$")


def _server_errors(srv: BenchServer, since: int) -> dict[str, Any]:
    """Failed requests the server logged after byte `since` of its log: how many, and each kind of exception
    with how often it occurred and one example of its DETAIL line (PostgreSQL's)."""
    path = srv.tmp / "server.log"
    if not path.exists():
        return {"count": 0, "distinct": []}
    with path.open("rb") as f:
        f.seek(since)
        text = f.read().decode(errors="replace")
    lines = text.splitlines()
    kinds: dict[str, list[str]] = {}
    for i, line in enumerate(lines):
        if _EXCEPTION.match(line):
            detail = lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith("DETAIL") else ""
            kinds.setdefault(line[:300], []).append(detail)
    # app.py logs one line per failed request ("unhandled error on ..." or "database error on ...").
    requests = len(_REQUEST_ERROR.findall(text)) or text.count("Traceback (most recent call last)")
    # A chained exception shows twice (psycopg's, then SQLAlchemy's naming it in parentheses): keep the outer.
    names = {kind: kind.split(":", 1)[0] for kind in kinds}
    outer = {k: v for k, v in kinds.items() if not any(f"({names[k]})" in other for other in kinds if other != k)}
    distinct = [
        f"{kind} (x{len(details)})" + (f"; e.g. {details[0]}" if details[0] else "") for kind, details in outer.items()
    ]
    return {"count": requests, "distinct": distinct[:5]}


def _incidents_titled(engine: Engine, phase: str) -> tuple[int, int]:
    """(rows, distinct titles) of the incidents created by one phase."""
    with engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.count(func.distinct(Incident.title))).where(
                Incident.title.like(f"{TITLE} {phase} %")
            )
        ).one()
        return int(row[0]), int(row[1])


def bench_creation(
    srv: BenchServer, engine: Engine, token: str, args: Any, generator: str, out: Console
) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    post = incident_posts(srv.tmp)
    probe = post.body("probe", 1)
    status, answer = _request(srv.base_url + "/api/v1/incidents", auth, json.loads(probe))
    stored = answer.get("observables", []) if isinstance(answer, dict) else []
    if status != 201 or len(stored) != UNIQUE_OBSERVABLES + SHARED_OBSERVABLES:
        raise BenchFailure(f"POST /api/v1/incidents answered {status}: {str(answer)[:500]}")

    log_start = _log_size(srv)
    runs: dict[str, load.LoadResult] = {}
    plan: list[tuple[str, str, str, load.Post | None, dict[str, str]]] = [
        ("baseline", "GET /healthz (baseline)", "/healthz", None, {}),
        ("create", "POST /incidents, 20 observables", "/api/v1/incidents", post, auth),
        ("baseline_again", "GET /healthz (baseline again)", "/healthz", None, {}),
    ]
    for key, label, path, body, headers in plan:
        out.print(f"  measuring {label} at {CONNECTIONS} connections ...", end="")
        result = load.run(
            generator,
            srv.base_url + path,
            headers=headers,
            connections=CONNECTIONS,
            seconds=args.duration,
            warmup=args.warmup,
            threads=1,
            post=body,
        )
        runs[key] = result
        out.print(f" {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms")
    errors = _server_errors(srv, log_start)  # the warm-up's too: its failures are not in wrk's figures
    created, distinct = _incidents_titled(engine, "measure")
    warm_created, _ = _incidents_titled(engine, "warmup")
    c = runs["create"]
    ok_answers = c.requests - c.non_2xx
    # wrk stops counting at the deadline while up to one request per connection is still in flight: those
    # may still create their incident.
    exists_ok = ok_answers <= created <= c.requests + CONNECTIONS and distinct == created
    base = (runs["baseline"].rps + runs["baseline_again"].rps) / 2
    drift = (runs["baseline_again"].rps - runs["baseline"].rps) / runs["baseline"].rps if runs["baseline"].rps else 0
    return {
        "connections": CONNECTIONS,
        "observables_per_incident": UNIQUE_OBSERVABLES + SHARED_OBSERVABLES,
        "shared_pool": SHARED_POOL,
        "results": [
            {"key": k, "label": label, **runs[k].as_dict(), "ratio_to_baseline": runs[k].rps / base if base else 0}
            for k, label, *_ in plan
        ],
        "baseline_rps": base,
        "baseline_drift": drift,
        "incidents_created_measured": created,
        "incidents_created_warmup": warm_created,
        "check": {
            "non_2xx": c.non_2xx,
            "failures": list(c.failures),
            "server_errors": errors,
            "socket_errors": c.socket_errors,
            "answers_2xx": ok_answers,
            "incidents_in_database": created,
            "distinct_titles": distinct,
            "pass": exists_ok and c.non_2xx == 0 and c.socket_errors == 0 and not errors["count"],
        },
    }


# --- 3. early warning ---------------------------------------------------------------------------------------


def _request(url: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(  # noqa: S310 - loopback http only
        url, data=data, headers={**headers, "Content-Type": "application/json"}, method="POST" if data else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _send_alert(srv: BenchServer, token: str, orgs: list[str], title: str) -> tuple[str, float]:
    body = {
        "title": title,
        "body": "Benchmark early warning: no action needed.",
        "tlp": "green",
        "recipients": {"organisations": orgs},
    }
    t0 = time.perf_counter()
    status, answer = _request(srv.base_url + "/api/v1/alerts", {"Authorization": f"Bearer {token}"}, body)
    seconds = time.perf_counter() - t0
    if status != 201:
        raise BenchFailure(f"POST /api/v1/alerts answered {status}: {str(answer)[:500]}")
    return str(answer["id"]), seconds


def _queued(engine: Engine, alert_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).where(OutboxMessage.object_id == alert_id, OutboxMessage.event == ALERT_EVENT)
            ).scalar_one()
        )


def _pending(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(OutboxMessage.status == "pending")).scalar_one())


def _drain(factory: Any, settings: Settings, engine: Engine) -> int:
    """Deliver whatever waits in the outbox (demo notifications, the baseline alerts) before measuring."""
    sent = 0
    while True:
        stats = deliver_due(factory, settings=settings, batch=1000)
        sent += stats.sent
        if stats.claimed == 0:
            break
    left = _pending(engine)
    if left:
        raise BenchFailure(f"{left} outbox message(s) could not be delivered to the sink before the measurement")
    return sent


def _wait_runner_pass(engine: Engine, since: datetime, proc: subprocess.Popen[bytes], srv: BenchServer) -> None:
    """Until the freshly started job runner has finished a delivery pass (it is then idle, as in production)."""
    deadline = time.monotonic() + RUNNER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchFailure(f"`cybercrisis jobs run` exited with {proc.returncode}: see {srv.tmp}/jobs.log")
        with engine.connect() as conn:
            last = conn.execute(select(JobLease.last_run_at).where(JobLease.name == "deliver_outbox")).scalar()
        if last is not None and last >= since:
            return
        time.sleep(0.1)
    raise BenchFailure("the job runner did not run its delivery job within 30 s")


def _since(t0: float, last: float | None) -> float | None:
    """Seconds from t0 to the last arrival; None when nothing arrived."""
    return None if last is None else last - t0


def _rate(n: int, seconds: float | None) -> float | None:
    return n / seconds if seconds else None


def _within(seconds: float | None, limit: float) -> bool:
    return seconds is not None and seconds < limit


def _secs(seconds: float | None, digits: int = 2) -> str:
    return "—" if seconds is None else f"{seconds:.{digits}f} s"


def _num(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _cadence() -> dict[str, Any]:
    """The shipped delivery job: how often it runs and how many messages a pass takes (read from the code)."""
    interval = next((j.interval_seconds for j in jobs.registered() if j.name == "deliver_outbox"), None)
    return {"interval_s": interval, "batch": inspect.signature(deliver_due).parameters["batch"].default}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def bench_early_warning(
    srv: BenchServer, engine: Engine, token: str, sink: SmtpSink, settings: Settings, out: Console
) -> dict[str, Any]:
    with engine.connect() as conn:
        orgs = dict(conn.execute(select(Organisation.id, Organisation.short_name)).all())
        contacts = int(conn.execute(select(func.count()).select_from(Contact)).scalar_one())
    sender = next((oid for oid, short in orgs.items() if short == ANALYST_ORG_SHORT), None)
    if sender is None:
        raise BenchFailure(f"no {ANALYST_ORG_SHORT} in the demo directory")
    everyone = sorted(oid for oid in orgs if oid != sender)
    factory = make_sessionmaker(engine)

    out.print(f"  early warning: {len(orgs)} organisations, {contacts} contacts; baseline alerts to one ...")
    one = [_send_alert(srv, token, [everyone[i]], f"Bench baseline alert {i}")[1] for i in range(3)]
    srv.cli("jobs", "run", "--once")  # the sweeps queue what they would (overdue demo reports), once
    drained = _drain(factory, settings, engine)

    # (a) the shipped job runner, started and idle before the alert is sent
    since = datetime.now(UTC)
    proc = srv.cli_process("jobs", "run", "--poll", "1", log_name="jobs.log")
    try:
        _wait_runner_pass(engine, since, proc, srv)
        out.print("  early warning to everyone, delivered by `cybercrisis jobs run` ...", end="")
        t0 = time.perf_counter()
        alert_a, queue_a = _send_alert(srv, token, everyone, "Bench early warning (job runner)")
        queued_a = _queued(engine, alert_a)
        got_a, last_a = sink.wait_for(f"{ALERT_EVENT}:{alert_a}:", queued_a, DELIVERY_TIMEOUT_S)
    finally:
        _stop(proc)
    final_a = _queued(engine, alert_a)  # more than at the answer would mean queueing went on after it
    runner_s = _since(t0, last_a)
    out.print(f" {got_a}/{queued_a} in {_secs(runner_s)}")

    # (b) in-process delivery of everything at once
    out.print("  early warning to everyone, delivered in-process (deliver_due) ...", end="")
    t1 = time.perf_counter()
    alert_b, queue_b = _send_alert(srv, token, everyone, "Bench early warning (in-process)")
    queued_b = _queued(engine, alert_b)
    t2 = time.perf_counter()
    sent_b = 0
    while sent_b < queued_b:
        stats = deliver_due(factory, settings=settings, batch=queued_b + 100)
        sent_b += stats.sent
        if stats.claimed == 0:
            break
    got_b, last_b = sink.wait_for(f"{ALERT_EVENT}:{alert_b}:", queued_b, DELIVERY_TIMEOUT_S)
    final_b = _queued(engine, alert_b)
    deliver_only_s = _since(t2, last_b)
    inproc_s = _since(t1, last_b)
    out.print(f" {got_b}/{queued_b} in {_secs(inproc_s)}")

    # baseline of the delivery: the same number of messages straight to the sink, no outbox
    sender_addr = email.sender_of(settings)
    t3 = time.perf_counter()
    for i in range(queued_b):
        msg = email.build(
            sender=sender_addr,
            to=f"bench{i}@bench.example",
            subject=f"Bench bare SMTP {i}",
            body="Bare SMTP send, no outbox.",
            event="bench:bare",
            dedupe_key=f"bench:bare:{i}",
        )
        email.send(settings, msg)
    got_bare, last_bare = sink.wait_for("bench:bare:", queued_b, DELIVERY_TIMEOUT_S)
    bare_s = _since(t3, last_bare)

    one_s = statistics.median(one)
    queue_s = statistics.median([queue_a, queue_b])
    return {
        "organisations": len(orgs),
        "recipients": len(everyone),
        "contacts": contacts,
        "contacts_aim": {"min": MIN_CONTACTS, "pass": contacts >= MIN_CONTACTS},
        "drained_before": drained,
        "baseline_one_org_s": one,
        "queue": {
            "seconds": [queue_a, queue_b],
            "median_s": queue_s,
            "messages": [queued_a, queued_b],
            "messages_later": [final_a, final_b],
            "all_queued_at_answer": [queued_a, queued_b] == [final_a, final_b],
            "ratio_to_one_org": queue_s / one_s if one_s else 0.0,
            "aim": {
                "max_s": AIM_QUEUE_S,
                "pass": queue_s < AIM_QUEUE_S
                and min(queued_a, queued_b) > 0
                and [queued_a, queued_b] == [final_a, final_b],
            },
        },
        "job_runner": {
            "messages": queued_a,
            "delivered": got_a,
            "seconds": runner_s,
            "messages_per_s": _rate(got_a, runner_s),
            "ratio_to_bare_smtp": runner_s / bare_s if runner_s and bare_s else None,
            "aim": {"max_s": AIM_DELIVER_S, "pass": got_a == queued_a and _within(runner_s, AIM_DELIVER_S)},
        },
        "in_process": {
            "messages": queued_b,
            "delivered": got_b,
            "seconds": inproc_s,
            "delivery_only_s": deliver_only_s,
            "messages_per_s": _rate(got_b, deliver_only_s),
            "ratio_to_bare_smtp": deliver_only_s / bare_s if deliver_only_s and bare_s else None,
            "aim": {"max_s": AIM_DELIVER_S, "pass": got_b == queued_b and _within(inproc_s, AIM_DELIVER_S)},
        },
        "runner_cadence": _cadence(),
        "bare_smtp": {"messages": got_bare, "seconds": bare_s, "messages_per_s": _rate(got_bare, bare_s)},
    }


# --- the suite ----------------------------------------------------------------------------------------------


def bench_backend(args: Any, generator: str, postgres_url: str | None, out: Console) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with SmtpSink() as sink:
        env = {
            "CYBERCRISIS_SMTP_HOST": "127.0.0.1",
            "CYBERCRISIS_SMTP_PORT": str(sink.port),
            "CYBERCRISIS_JOBS_ENABLED": "false",  # the bench decides who delivers, and when
        }
        with BenchServer(postgres_url=postgres_url, data="demo", env=env) as srv:
            srv.start()
            assert srv.backend is not None
            out.print(f"\n[bold]{srv.backend.name}[/bold] (incidents suite): {srv.backend.display_url}")
            out.print(
                f"  demo directory loaded in {srv.setup_seconds:.1f} s; server pid {srv.pid} on {srv.base_url}; "
                f"SMTP sink on 127.0.0.1:{sink.port}; load average {_load():.2f}"
            )
            token = srv.cli("token", "create", "--user", ANALYST, "--name", "bench").strip().split()[-1]
            engine = make_engine(srv.backend.database_url, pool_size=2)
            settings = Settings(
                data_dir=srv.data_dir,
                database_url=srv.backend.database_url,
                smtp_host="127.0.0.1",
                smtp_port=sink.port,
            )
            try:
                result["backend"] = srv.backend.name
                result["database"] = srv.backend.display_url
                result["creation"] = bench_creation(srv, engine, token, args, generator, out)
                result["early_warning"] = bench_early_warning(srv, engine, token, sink, settings, out)
            except load.LoadError as exc:
                raise ServerError(f"{exc}\n{srv.server_output()}") from exc
            finally:
                engine.dispose()
    with BenchServer(postgres_url=postgres_url, data="none") as db:
        backend = db.prepare()
        out.print(f"  correlation in a separate database; load average {_load():.2f}")
        result["correlation"] = correlation.run(backend.database_url, progress=lambda m: out.print(f"  {m}"))
    return result


def _load() -> float:
    return os.getloadavg()[0]


def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]MISS[/red]"


def check(ok: bool) -> str:
    return "[green]ok[/green]" if ok else "[red]FAILED[/red]"


def print_tables(res: dict[str, Any], args: Any, generator: str, out: Console) -> None:
    name = res["backend"]
    c = res["creation"]
    t = Table(
        title=f"{name}: incident creation, {CONNECTIONS} connections, {args.duration} s after {args.warmup} s "
        f"warm-up, {generator}",
        title_justify="left",
    )
    t.add_column("endpoint", no_wrap=True)
    for col in ("req/s", "p50 ms", "p99 ms", "x baseline", "non-2xx"):
        t.add_column(col, justify="right", no_wrap=True)
    for row in c["results"]:
        t.add_row(
            row["label"],
            f"{row['rps']:,.1f}",
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['ratio_to_baseline']:.3f}",
            str(row["non_2xx"] + row["socket_errors"]),
        )
    out.print(t)
    ck = c["check"]
    out.print(
        f"  baseline = mean of the two /healthz runs ({c['baseline_rps']:,.0f} req/s; drift "
        f"{c['baseline_drift']:+.1%}); each POST: 15 observables of its own, 5 of {SHARED_POOL} shared by all"
    )
    out.print(
        f"  check: {ck['incidents_in_database']} incidents in the database for {ck['answers_2xx']} 2xx answers "
        f"({ck['distinct_titles']} distinct titles), {ck['non_2xx']} non-2xx, {ck['server_errors']['count']} "
        f"failed request(s) in the server log (warm-up included): {check(ck['pass'])}"
    )
    for failure in ck["failures"]:
        out.print(f"    [red]answered:[/red] {escape(failure)}")
    for error in ck["server_errors"]["distinct"]:
        out.print(f"    [red]server log:[/red] {escape(error)}")

    cor = res["correlation"]
    gen = cor["generation"]["observables+sightings"]
    t = Table(
        title=f"{name}: correlation of {cor['batch']:,} new values ({cor['batch_known_from_other_orgs']:,} "
        f"known elsewhere), {cor['organisations']} organisations, {cor['incidents']:,} incidents",
        title_justify="left",
    )
    t.add_column("stored observables", no_wrap=True)
    for col in ("lookup s", "first s", "runs", "matches", "x baseline", "row values s", "DB MB", "B/observable"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column(f"<{correlation.AIM_BATCH_S:.0f} s", no_wrap=True)
    b = cor["baseline"]
    t.add_row(
        "0 (baseline)",
        f"{b['lookup']['median_s']:.3f}",
        f"{b['lookup']['first_s']:.3f}",
        str(len(b["lookup"]["runs_s"])),
        "0",
        "1.00",
        f"{b['lookup_by_type']['median_s']:.3f}",
        f"{b['database_bytes'] / 1e6:.1f}",
        "—",
        "—",
    )
    for s in cor["sizes"]:
        lk = s["lookup"]
        t.add_row(
            f"{s['observables']:,}",
            f"{lk['median_s']:.3f}",
            f"{lk['first_s']:.3f}",
            str(len(lk["runs_s"])),
            f"{min(lk['matches']):,}" + ("" if s["matches_ok"] else " [red]wrong[/red]"),
            f"{s['ratio_to_baseline']:.1f}",
            f"{s['lookup_by_type']['median_s']:.3f}",
            f"{s['database_bytes'] / 1e6:.1f}",
            f"{s['tables_bytes_per_observable']:.0f}",
            verdict(s["aim"]["pass"]),
        )
    out.print(t)
    lin = cor["storage_linear"]
    out.print(
        f"  lookup = median of the runs; the service's query: chunks of {cor['chunk']}, type = ? AND value IN (...), "
        "join sightings and incidents"
    )
    out.print(
        "  of another owner; row values = `(type, value) IN (...)` instead, for comparison only; "
        f"SELECT 1 x {cor['batch'] // cor['chunk']}: {b['select1_x_chunks_s'] * 1e3:.1f} ms"
    )
    out.print(
        f"  generated {gen['rows']:,} observable and sighting rows in {gen['seconds']:.1f} s "
        f"({gen['rows_per_s']:,.0f} rows/s, {gen['via']})"
    )
    out.print(
        "  B/observable: observables + sightings with their indexes, per stored observable; "
        f"x{lin['growth']:.2f} from {cor['sizes'][0]['observables']:,} to {cor['sizes'][-1]['observables']:,}: "
        f"linear {verdict(lin['pass'])}"
    )

    ew = res["early_warning"]
    q, jr, ip, bare = ew["queue"], ew["job_runner"], ew["in_process"], ew["bare_smtp"]
    t = Table(
        title=f"{name}: early warning (TLP:GREEN) to {ew['recipients']} organisations, directory of "
        f"{ew['contacts']} contacts",
        title_justify="left",
    )
    t.add_column("step", no_wrap=True)
    for col in ("messages", "seconds", "msg/s", "x baseline"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("aim", no_wrap=True)
    one = statistics.median(ew["baseline_one_org_s"])
    t.add_row("POST /alerts to 1 organisation (baseline)", "", f"{one:.3f}", "", "1.00", "—")
    t.add_row(
        f"POST /alerts to {ew['recipients']}: queued",
        "/".join(str(m) for m in q["messages"]),
        f"{q['median_s']:.3f}",
        "",
        f"{q['ratio_to_one_org']:.1f}",
        f"<{AIM_QUEUE_S:.0f} s {verdict(q['aim']['pass'])}",
    )
    t.add_row(
        "delivered by `cybercrisis jobs run` (from POST)",
        f"{jr['delivered']}/{jr['messages']}",
        _num(jr["seconds"], ".2f"),
        _num(jr["messages_per_s"], ".1f"),
        _num(jr["ratio_to_bare_smtp"], ".1f"),
        f"<{AIM_DELIVER_S:.0f} s {verdict(jr['aim']['pass'])}",
    )
    t.add_row(
        "delivered in-process, one batch (from POST)",
        f"{ip['delivered']}/{ip['messages']}",
        _num(ip["seconds"], ".2f"),
        _num(_rate(ip["delivered"], ip["seconds"]), ".1f"),
        "",
        f"<{AIM_DELIVER_S:.0f} s {verdict(ip['aim']['pass'])}",
    )
    t.add_row(
        "  of which delivery (deliver_due)",
        "",
        _num(ip["delivery_only_s"], ".2f"),
        _num(ip["messages_per_s"], ".1f"),
        _num(ip["ratio_to_bare_smtp"], ".2f"),
        "",
    )
    t.add_row(
        "bare SMTP sends, no outbox (delivery baseline)",
        str(bare["messages"]),
        _num(bare["seconds"], ".2f"),
        _num(bare["messages_per_s"], ".1f"),
        "1.00",
        "—",
    )
    out.print(t)
    out.print(
        "  queued = the request time (outbox rows counted right after the answer: "
        f"{check(q['all_queued_at_answer'])}); SMTP sink on 127.0.0.1"
    )
    cad = ew["runner_cadence"]
    out.print(
        f"  job runner: the shipped cadence (delivery every {cad['interval_s']} s, "
        f"batches of {cad['batch']} until none is due); "
        "the alert is sent after a pass"
    )


def misses(res: dict[str, Any]) -> list[str]:
    name = res["backend"]
    out: list[str] = []
    for s in res["correlation"]["sizes"]:
        if not s["aim"]["pass"]:
            out.append(f"{name}: correlation at {s['observables']:,} ({s['lookup']['median_s']:.2f} s)")
    if not res["correlation"]["storage_linear"]["pass"]:
        out.append(f"{name}: storage not linear")
    ew = res["early_warning"]
    for key, label in (
        ("queue", "queueing"),
        ("job_runner", "delivery by the job runner"),
        ("in_process", "delivery in-process"),
    ):
        if not ew[key]["aim"]["pass"]:
            out.append(f"{name}: early warning {label}")
    return out


def failures(res: dict[str, Any]) -> list[str]:
    """Wrong results (not aims): these make the bench exit 1."""
    name = res["backend"]
    out: list[str] = []
    if not res["creation"]["check"]["pass"]:
        out.append(f"{name}: incident creation check")
    if not all(s["matches_ok"] for s in res["correlation"]["sizes"]):
        out.append(f"{name}: correlation matches")
    ew = res["early_warning"]
    if ew["job_runner"]["delivered"] != ew["job_runner"]["messages"]:
        out.append(f"{name}: job runner delivered {ew['job_runner']['delivered']}/{ew['job_runner']['messages']}")
    if not ew["queue"]["all_queued_at_answer"]:
        out.append(f"{name}: alert messages still being queued after the answer")
    if ew["in_process"]["delivered"] != ew["in_process"]["messages"]:
        out.append(f"{name}: in-process delivered {ew['in_process']['delivered']}/{ew['in_process']['messages']}")
    return out
