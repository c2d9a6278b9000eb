"""`python -m bench`: start the real server (one worker) and load it over loopback.

Each suite runs for each backend (SQLite always, PostgreSQL with --postgres):

core       GET /healthz of a trivial FastAPI app in the same venv (bench/trivial.py, the framework's limit),
           then ours (the baseline, before and after the others), an authenticated GET of one
           organisation, a filtered directory list and a full page, each for a fixed duration after a
           warm-up: req/s, p50/p99 and the ratio to the baseline, with PASS/MISS against the aims of
           issue 14 (/healthz vs the trivial app, the single read vs /healthz), plus the idle RSS; on
           PostgreSQL also the scale-out: /healthz and the single read served by `--workers 2` vs
           `--workers 1` (two servers on the same database, runs alternating, medians of 3), with the
           ratio (aim >= 1.6x).
incidents  POST /api/v1/incidents with 20 observables at 16 connections against /healthz; correlation of a
           10,000-value batch with 100,000 and 1,000,000 stored observables against an empty table, with the
           storage per observable; an early warning to every organisation of the demo directory: time to
           queue and to deliver to a local SMTP sink (see bench/incidents.py and bench/correlation.py).
situation  27 national contributions, 10,000 incidents and 100,000 observables: the time to draft each level's
           situation report, the dashboard page and GET /api/v1/situation at 32 connections against /healthz
           (p50/p95/p99, cached and cold), and event delivery to 100 SSE clients (one process; on PostgreSQL
           also two, through NOTIFY); see bench/situation.py.
exchange   import speed of STIX 2.1 bundles into the STIX object store (ATT&CK for ICS, 100,000 generated
           indicators), first and again, in process and end to end with peak memory; see bench/exchange.py.
crises     one crisis with 50 linked incidents, 200 decisions and actions and 30 assistance requests: the SQL
           statements of one GET of the crisis room (API and page; no N+1), and GET /api/v1/crises/{id} and
           GET /crises/{id} at 32 connections and at 1 against /healthz (p50/p95/p99); see bench/crises.py.
taxii      our TAXII 2.1 server against medallion (the OASIS reference server) with the same 10,000 objects:
           pages, one object, POST of 100 objects at 1 and 32 connections; our collection at 100,000 and
           1,000,000 objects; federation time between two of our nodes (pull and push); see bench/taxii.py.
hub        three nodes in hub and spoke with their job runners on: an early warning from one national node to
           another through the hub (seconds, aim < 5 s, against one API round trip), and acknowledgements
           flowing back to the origin through the hub (per second); see bench/hub.py.

Results go to one JSON file, a section per suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import load
from bench.data import FILTER_COUNTRY, FILTER_TYPE, Dataset
from bench.server import BenchServer, ServerError, TrivialServer

RESULTS = Path(__file__).parent / "results" / "latest.json"

# The aims of issue 14 ("the request path").
AIM_HEALTHZ_RATIO = 0.7  # our /healthz, as a fraction of a trivial FastAPI app's in the same run
AIM_RATIO = 0.5  # single-object read, as a fraction of our /healthz's req/s
AIM_P99_MS = 30.0
AIM_IDLE_RSS_MB = 150.0
DRIFT_WARN = 0.15  # the two baseline runs differing by more than this mean the run was disturbed
AIM_SCALE_OUT = 1.6  # req/s with --workers 2 as a multiple of --workers 1 (PostgreSQL)
SCALE_ROUNDS = 3  # alternating runs per side of the scale-out figure (odd: the median is a run)
BUSY_LOAD = 0.5  # 1-minute load average above which other work on the machine skews the figures

# Wide enough for the table when the output is not a terminal (make, CI logs, a pipe).
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    path: str
    auth: bool
    ratio_aim: bool = False  # the single-object read must reach AIM_RATIO of the baseline
    p99_aim: bool = False


def endpoints(ds: Dataset) -> list[Endpoint]:
    return [
        Endpoint("baseline", "GET /healthz (baseline)", "/healthz", auth=False),
        Endpoint(
            "organisation",
            "GET /organisations/{id}",
            f"/api/v1/organisations/{ds.target_org_id}",
            auth=True,
            ratio_aim=True,
            p99_aim=True,
        ),
        Endpoint(
            "filtered_list",
            f"GET /organisations?country={FILTER_COUNTRY}&type={FILTER_TYPE}",
            f"/api/v1/organisations?country={FILTER_COUNTRY}&type={FILTER_TYPE}",
            auth=True,
            p99_aim=True,
        ),
        Endpoint(
            "full_page", "GET /organisations?limit=100", "/api/v1/organisations?limit=100", auth=True, p99_aim=True
        ),
        Endpoint("baseline_again", "GET /healthz (baseline again)", "/healthz", auth=False),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--suite",
        choices=["core", "incidents", "situation", "crises", "exchange", "taxii", "hub", "all"],
        default="all",
        help="which benchmarks to run (default all)",
    )
    p.add_argument("--duration", type=int, default=5, help="seconds measured per endpoint (default 5)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per endpoint, discarded (default 1)")
    p.add_argument(
        "--connections",
        type=int,
        default=32,
        help="concurrent keep-alive connections of the core suite (default 32; incident creation uses 16)",
    )
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1: the server needs a core)")
    p.add_argument(
        "--generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator; auto = wrk when installed, else asyncio + httpx",
    )
    p.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("CYBERCRISIS_BENCH_POSTGRES_URL"),
        help="also run against PostgreSQL: a URL to a local server, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres; a bench database is created "
        "on it and dropped afterwards (default: $CYBERCRISIS_BENCH_POSTGRES_URL)",
    )
    p.add_argument("--json", metavar="FILE", type=Path, default=RESULTS, help=f"results file (default {RESULTS})")
    p.add_argument("--strict", action="store_true", help="exit 1 when an aim is missed, not only on errors")
    args = p.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.connections < 1 or not 1 <= args.threads <= args.connections:
        p.error("need --duration >= 1, --warmup >= 0, --connections >= 1 and 1 <= --threads <= --connections")
    return args


def _get_json(url: str, headers: dict[str, str]) -> Any:
    req = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback http only
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
        if r.status != 200:
            raise ServerError(f"GET {url} answered {r.status}")
        return json.loads(r.read())


def sanity(srv: BenchServer, ds: Dataset, eps: list[Endpoint]) -> dict[str, Any]:
    """Each endpoint answers 200 with what the data set implies, before any load."""
    auth = {"Authorization": f"Bearer {ds.token}"}
    seen: dict[str, Any] = {}
    for ep in eps:
        try:
            body = _get_json(srv.base_url + ep.path, auth if ep.auth else {})
        except OSError as exc:
            raise ServerError(f"{ep.label}: {exc}\n{srv.server_output()}") from exc
        if ep.key == "organisation":
            seen["visible_contacts"] = len(body["contacts"])
            seen["constituents"] = len(body["constituents"])
        elif ep.key == "filtered_list":
            seen["filtered_items"] = len(body["items"])
        elif ep.key == "full_page":
            seen["page_items"] = len(body["items"])
            if len(body["items"]) != 100:
                raise ServerError(f"{ep.label} returned {len(body['items'])} items, not 100")
    if not seen.get("filtered_items"):
        raise ServerError("the filtered list is empty: the data set does not match the benchmark")
    return seen


def scale_out(srv: BenchServer, ds: Dataset, args: argparse.Namespace, generator: str) -> list[dict[str, Any]]:
    """PostgreSQL: /healthz and the single read served by 1 and by 2 workers on the same database.

    A second server (2 workers) runs beside the first (1 worker) and runs alternate between them, SCALE_ROUNDS
    times; each figure is the median run, so that a burst of other work on the machine moves both sides alike."""
    eps = [ep for ep in endpoints(ds) if ep.key in ("baseline", "organisation")]
    auth = {"Authorization": f"Bearer {ds.token}"}
    runs: dict[tuple[str, int], list[load.LoadResult]] = {}
    with srv.sibling(workers=2) as two:
        servers = {1: srv, 2: two}
        # A new process answers its first authenticated requests slowly (mappers, compiled queries): not measured.
        for server in servers.values():
            for _ in range(8):
                sanity(server, ds, endpoints(ds))
        for rnd in range(SCALE_ROUNDS):
            for workers, server in servers.items():
                for ep in eps:
                    console.print(
                        f"  measuring {ep.label} with --workers {workers} ({rnd + 1}/{SCALE_ROUNDS}) ...", end=""
                    )
                    r = load.run(
                        generator,
                        server.base_url + ep.path,
                        headers=auth if ep.auth else {},
                        connections=args.connections,
                        seconds=args.duration,
                        warmup=args.warmup,
                        threads=args.threads,
                    )
                    if r.failed:
                        raise load.LoadError(
                            f"{ep.label}, {workers} workers: {r.failed} failed\n{server.server_output()}"
                        )
                    console.print(f" {r.rps:,.0f} req/s, p99 {r.p99_ms:.1f} ms")
                    runs.setdefault((ep.key, workers), []).append(r)
    rows = []
    for ep in eps:
        one, two_ = (sorted(runs[ep.key, w], key=lambda r: r.rps)[SCALE_ROUNDS // 2] for w in (1, 2))
        ratio = two_.rps / one.rps if one.rps else 0.0
        rows.append(
            {
                "endpoint": ep.key,
                "label": ep.label,
                "workers_1": one.as_dict(),
                "workers_2": two_.as_dict(),
                "rps_runs": {w: [round(r.rps) for r in runs[ep.key, w]] for w in (1, 2)},
                "ratio": ratio,
                "min": AIM_SCALE_OUT,
                "pass": ratio >= AIM_SCALE_OUT,
            }
        )
    return rows


def verdict(ok: bool) -> str:
    return "[green]PASS[/green]" if ok else "[red]MISS[/red]"


def bench_backend(args: argparse.Namespace, generator: str, postgres_url: str | None) -> dict[str, Any]:
    with BenchServer(postgres_url=postgres_url) as srv:
        srv.start()
        assert srv.backend is not None
        assert srv.dataset is not None
        ds = srv.dataset
        idle_mb = srv.idle_rss_kib * 1024 / 1e6
        console.print(f"\n[bold]{srv.backend.name}[/bold]: {srv.backend.display_url}")
        console.print(
            f"  data: {ds.organisations} organisations, {ds.contacts} contacts "
            f"({', '.join(f'{k} {v}' for k, v in sorted(ds.tlp_counts.items()))}), 1 analyst + token; "
            f"prepared in {srv.setup_seconds:.1f} s"
        )
        console.print(
            f"  server: pid {srv.pid} on {srv.base_url}, ready in {srv.start_seconds:.1f} s; idle RSS {idle_mb:.1f} MB"
        )
        eps = endpoints(ds)
        seen = sanity(srv, ds, eps)
        console.print(
            f"  reader sees {seen['visible_contacts']} of 10 contacts and {seen['constituents']} "
            f"constituents of the target; filtered list: {seen['filtered_items']} organisations"
        )

        auth = {"Authorization": f"Bearer {ds.token}"}
        measured: dict[str, load.LoadResult] = {}
        console.print("  measuring GET /healthz of a trivial FastAPI app ...", end="")
        with TrivialServer() as trivial:  # stopped before ours is measured: it takes no CPU from it
            limit = load.run(
                generator,
                trivial.base_url + "/healthz",
                headers={},
                connections=args.connections,
                seconds=args.duration,
                warmup=args.warmup,
                threads=args.threads,
            )
        console.print(f" {limit.rps:,.0f} req/s, p99 {limit.p99_ms:.1f} ms")
        for ep in eps:
            console.print(f"  measuring {ep.label} ...", end="")
            result = load.run(
                generator,
                srv.base_url + ep.path,
                headers=auth if ep.auth else {},
                connections=args.connections,
                seconds=args.duration,
                warmup=args.warmup,
                threads=args.threads,
            )
            measured[ep.key] = result
            console.print(f" {result.rps:,.0f} req/s, p99 {result.p99_ms:.1f} ms")
            if result.failed:
                raise load.LoadError(
                    f"{ep.label}: {result.non_2xx} non-2xx responses and {result.socket_errors} socket errors "
                    f"out of {result.requests} requests\n{srv.server_output()}"
                )
        rss_after_mb = srv.current_rss_kib() * 1024 / 1e6
        peak_mb = srv.peak_rss_kib() * 1024 / 1e6
        # Several workers need PostgreSQL.
        scaled = scale_out(srv, ds, args, generator) if srv.backend.name == "postgresql" else []

        base_runs = [measured["baseline"].rps, measured["baseline_again"].rps]
        baseline_rps = sum(base_runs) / 2
        drift = (base_runs[1] - base_runs[0]) / base_runs[0] if base_runs[0] else 0.0
        rows: list[dict[str, Any]] = []
        for ep in eps:
            r = measured[ep.key]
            ratio = r.rps / baseline_rps if baseline_rps else 0.0
            row: dict[str, Any] = {
                "endpoint": ep.key,
                "label": ep.label,
                "path": ep.path,
                **r.as_dict(),
                "ratio_to_baseline": ratio,
            }
            if ep.ratio_aim:
                row["ratio_aim"] = {"min": AIM_RATIO, "pass": ratio >= AIM_RATIO}
            if ep.p99_aim:
                row["p99_aim"] = {"max_ms": AIM_P99_MS, "pass": r.p99_ms < AIM_P99_MS}
            rows.append(row)
        healthz_ratio = baseline_rps / limit.rps if limit.rps else 0.0
        return {
            "backend": srv.backend.name,
            "trivial_app": limit.as_dict(),
            "healthz_vs_trivial": {
                "ratio": healthz_ratio,
                "min": AIM_HEALTHZ_RATIO,
                "pass": healthz_ratio >= AIM_HEALTHZ_RATIO,
            },
            "database": srv.backend.display_url,
            "data": {"organisations": ds.organisations, "contacts": ds.contacts, "tlp": ds.tlp_counts, **seen},
            "setup_s": round(srv.setup_seconds, 2),
            "server_start_s": round(srv.start_seconds, 2),
            "baseline_rps": baseline_rps,
            "baseline_drift": drift,
            "idle_rss_mb": idle_mb,
            "idle_rss_aim": {"max_mb": AIM_IDLE_RSS_MB, "pass": idle_mb < AIM_IDLE_RSS_MB},
            "rss_after_load_mb": rss_after_mb,
            "peak_rss_mb": peak_mb,
            "results": rows,
            "scale_out": scaled,
        }


def print_table(res: dict[str, Any], args: argparse.Namespace, generator: str) -> None:
    table = Table(
        title=f"{res['backend']}: {args.connections} connections, {args.duration} s after "
        f"{args.warmup} s warm-up, generator {generator}",
        title_justify="left",
    )
    table.add_column("endpoint", no_wrap=True)
    for col in ("req/s", "p50 ms", "p99 ms", "x baseline"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column(f"ratio≥{AIM_RATIO}", no_wrap=True)
    table.add_column(f"p99<{AIM_P99_MS:.0f}ms", no_wrap=True)
    for row in res["results"]:
        ratio_aim = verdict(row["ratio_aim"]["pass"]) if "ratio_aim" in row else "—"
        p99_aim = verdict(row["p99_aim"]["pass"]) if "p99_aim" in row else "—"
        table.add_row(
            row["label"],
            f"{row['rps']:,.0f}",
            f"{row['p50_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['ratio_to_baseline']:.2f}",
            ratio_aim,
            p99_aim,
        )
    console.print(table)
    vs = res["healthz_vs_trivial"]
    console.print(
        f"  /healthz vs a trivial FastAPI app: {res['baseline_rps']:,.0f} vs {res['trivial_app']['rps']:,.0f} req/s "
        f"(p99 {res['trivial_app']['p99_ms']:.1f} ms) = {vs['ratio']:.2f}x (aim >= {vs['min']}): {verdict(vs['pass'])}"
    )
    for row in res.get("scale_out", []):
        one, two = row["workers_1"], row["workers_2"]
        console.print(
            f"  scale-out {row['label']}: --workers 2 {two['rps']:,.0f} req/s (p99 {two['p99_ms']:.1f} ms) vs "
            f"--workers 1 {one['rps']:,.0f} req/s (p99 {one['p99_ms']:.1f} ms) = {row['ratio']:.2f}x "
            f"(aim >= {row['min']}): {verdict(row['pass'])}"
        )
    console.print(
        f"  baseline = mean of the two /healthz runs ({res['baseline_rps']:,.0f} req/s; "
        f"drift between them {res['baseline_drift']:+.1%})"
    )
    if abs(res["baseline_drift"]) > DRIFT_WARN:
        console.print(
            "  [yellow]warning:[/yellow] the baseline moved by more than "
            f"{DRIFT_WARN:.0%} during the run: something else used the CPUs, the ratios are unreliable"
        )
    console.print(
        f"  idle RSS {res['idle_rss_mb']:.1f} MB (aim < {AIM_IDLE_RSS_MB:.0f} MB): "
        f"{verdict(res['idle_rss_aim']['pass'])}; after load {res['rss_after_load_mb']:.1f} MB, "
        f"peak {res['peak_rss_mb']:.1f} MB"
    )


def misses(res: dict[str, Any]) -> list[str]:
    out = [f"{res['backend']}: idle RSS"] if not res["idle_rss_aim"]["pass"] else []
    if not res["healthz_vs_trivial"]["pass"]:
        out.append(f"{res['backend']}: /healthz vs trivial FastAPI app")
    for row in res["results"]:
        for aim in ("ratio_aim", "p99_aim"):
            if aim in row and not row[aim]["pass"]:
                out.append(f"{res['backend']}: {row['label']} {aim.removesuffix('_aim')}")
    out += [f"{res['backend']}: {row['label']} --workers 2 vs 1" for row in res["scale_out"] if not row["pass"]]
    return out


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwind through the finally blocks that stop the server


def run_core(args: argparse.Namespace, generator: str) -> tuple[dict[str, Any], list[str]]:
    backends = [None] + ([args.postgres] if args.postgres else [])
    results = [bench_backend(args, generator, pg) for pg in backends]
    console.print()
    for res in results:
        print_table(res, args, generator)
    section = {
        "connections": args.connections,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "wrk_threads": args.threads if generator == "wrk" else None,
        "aims": {
            "healthz_vs_trivial_min": AIM_HEALTHZ_RATIO,
            "single_read_ratio_min": AIM_RATIO,
            "p99_max_ms": AIM_P99_MS,
            "idle_rss_max_mb": AIM_IDLE_RSS_MB,
            "scale_out_min": AIM_SCALE_OUT,
        },
        "backends": results,
    }
    return section, [m for res in results for m in misses(res)]


def run_incidents(args: argparse.Namespace, generator: str) -> tuple[dict[str, Any], list[str], list[str]]:
    from bench import correlation, incidents  # aiosmtpd (a dev dependency) only for this suite

    backends = [None] + ([args.postgres] if args.postgres else [])
    results = [incidents.bench_backend(args, generator, pg, console) for pg in backends]
    console.print()
    for res in results:
        incidents.print_tables(res, args, generator, console)
    section = {
        "connections": incidents.CONNECTIONS,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "aims": {
            "correlation_batch_max_s": correlation.AIM_BATCH_S,
            "alert_queue_max_s": incidents.AIM_QUEUE_S,
            "alert_delivery_max_s": incidents.AIM_DELIVER_S,
        },
        "backends": results,
    }
    missed = [m for res in results for m in incidents.misses(res)]
    failed = [f for res in results for f in incidents.failures(res)]
    return section, missed, failed


def run_situation(args: argparse.Namespace, generator: str) -> tuple[dict[str, Any], list[str], list[str]]:
    from bench import situation

    backends = [None] + ([args.postgres] if args.postgres else [])
    results = [situation.bench_backend(args, generator, pg, console) for pg in backends]
    console.print()
    for res in results:
        situation.print_tables(res, args, generator, console)
    section = {
        "connections": situation.CONNECTIONS,
        "duration_s": 2 * args.duration,
        "warmup_s": args.warmup,
        "aims": {
            "draft_max_s": situation.AIM_DRAFT_S,
            "dashboard_p95_max_ms": situation.AIM_DASHBOARD_P95_MS,
            "event_p99_max_ms": situation.AIM_EVENT_P99_MS,
        },
        "backends": results,
    }
    missed = [m for res in results for m in situation.misses(res)]
    failed = [f for res in results for f in situation.failures(res)]
    return section, missed, failed


def run_crises(args: argparse.Namespace, generator: str) -> tuple[dict[str, Any], list[str], list[str]]:
    from bench import crises

    backends = [None] + ([args.postgres] if args.postgres else [])
    results = [crises.bench_backend(args, generator, pg, console) for pg in backends]
    console.print()
    for res in results:
        crises.print_tables(res, args, generator, console)
    section = {
        "connections": list(crises.LOAD_CONNECTIONS),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "aims": {"room_p95_max_ms": crises.AIM_P95_MS, "at_connections": crises.AIM_CONNECTIONS, "no_n_plus_1": True},
        "backends": results,
    }
    missed = [m for res in results for m in crises.misses(res)]
    failed = [f for res in results for f in crises.failures(res)]
    return section, missed, failed


def run_exchange(args: argparse.Namespace) -> tuple[dict[str, Any], list[str], list[str]]:
    from bench import exchange

    backends = [None] + ([args.postgres] if args.postgres else [])
    results = [exchange.bench_backend(args, pg, console) for pg in backends]
    console.print()
    for res in results:
        exchange.print_tables(res, console)
    section = {"aims": {"objects_per_s_min": exchange.AIM_OBJECTS_PER_S}, "backends": results}
    missed = [m for res in results for m in exchange.misses(res)]
    failed = [f for res in results for f in exchange.failures(res)]
    return section, missed, failed


def run_taxii(args: argparse.Namespace, generator: str) -> tuple[dict[str, Any], list[str], list[str]]:
    from bench import taxii

    return taxii.run(args, generator, console)


def run_hub(args: argparse.Namespace) -> tuple[dict[str, Any], list[str], list[str]]:
    from bench import hub

    return hub.run(args, console)


def _warn_if_busy(when: str) -> float:
    load_now = os.getloadavg()[0]
    if load_now > BUSY_LOAD:
        console.print(
            f"[yellow]warning:[/yellow] the machine is busy (load average {load_now:.2f} {when}): the server "
            "and the load generator share the CPUs with it, expect noisy figures"
        )
    return load_now


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.perf_counter()
    try:
        generator = load.pick(args.generator)
    except load.LoadError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    note = "" if generator == "wrk" else " (wrk not found: the Python generator is slower and may be the bottleneck)"
    console.print(
        f"[bold]cybercrisis bench[/bold]: load generator [bold]{generator}[/bold]{note}; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, loopback only; suite {args.suite}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    load_before = _warn_if_busy("before the bench")
    suites = (
        ["core", "incidents", "situation", "crises", "exchange", "taxii", "hub"]
        if args.suite == "all"
        else [args.suite]
    )
    report: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "generator": generator,
        "suites": suites,
    }
    missed: list[str] = []
    failed: list[str] = []
    load_between: list[float] = []

    def core() -> tuple[dict[str, Any], list[str], list[str]]:
        section, core_missed = run_core(args, generator)
        return section, core_missed, []

    runners = {
        "core": core,
        "incidents": lambda: run_incidents(args, generator),
        "situation": lambda: run_situation(args, generator),
        "crises": lambda: run_crises(args, generator),
        "exchange": lambda: run_exchange(args),
        "taxii": lambda: run_taxii(args, generator),
        "hub": lambda: run_hub(args),
    }
    try:
        for n, suite in enumerate(suites):
            if n:
                load_between.append(_warn_if_busy(f"before the {suite} suite"))
            report[suite], suite_missed, suite_failed = runners[suite]()
            missed += suite_missed
            failed += suite_failed
    except (ServerError, load.LoadError) as exc:  # the suites' BenchFailures are ServerErrors
        console.print(f"\n[red]bench failed:[/red] {exc}")
        return 1
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted[/yellow]")
        return 130

    total = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    report.update(
        elapsed_s=round(total, 1),
        load_average_before=round(load_before, 2),
        load_average_between_suites=[round(v, 2) for v in load_between],
        load_average_after=round(load_after, 2),
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    console.print(
        f"\nwrote {args.json}; {total:.0f} s in all; load average {load_before:.2f} before, {load_after:.2f} after; "
        + (f"[red]{len(missed)} aim(s) missed[/red]: {'; '.join(missed)}" if missed else "[green]all aims met[/green]")
    )
    if failed:
        console.print(f"[red]wrong results:[/red] {'; '.join(failed)}")
        return 1
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
