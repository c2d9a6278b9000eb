"""Suite `hub` (issue 15): three real nodes in hub and spoke, with their job runners on, as deployed.

CERT-FR's node (A) and CERT-Bund's (B) peer with the EU hub (C, ENISA's) only; the hub relays between them
(`peer add --relay`), each national node pins the other through the hub (`node pin`). Measured:

- an early warning sent on A (to the CSIRTs Network, TLP:AMBER) until B's API serves it: seconds per warning
  (aim: under 5 s). Nobody runs a sync by hand: A's commit wakes A's federation job, which pushes to the hub,
  whose receipt wakes the hub's, which pushes to B. The baseline served in the same run is one API round trip to
  the hub (`GET /healthz`), for the share of transport in it;
- acknowledgements flowing back: B's analyst acknowledges every one of those warnings at once; from the first
  acknowledgement until A has applied them all (each through the hub, signed by B's node): acknowledgements per
  second at the origin.
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.error
import urllib.request
from typing import Any

from rich.console import Console
from sqlalchemy import Engine, func, select

from bench.server import BenchServer, ServerError
from bench.situation import _log_errors, load_directory
from bench.taxii import make_user

WARNINGS = 20
AIM_SECONDS = 5.0  # issue 15: an early warning through the hub, with push
CAP_SECONDS = 60.0  # a warning not there after this is counted as lost
NODES = {"a": "fr-csirt", "b": "de-csirt", "c": "enisa"}  # node -> organisation running it


def _http(method: str, url: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - our own bench servers
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def _key(node: BenchServer) -> str:
    out = node.cli("node", "show")
    return next(line.split()[1] for line in out.splitlines() if "current" in line)


def _node_id(node: BenchServer) -> str:
    return node.cli("node", "show").split()[1]


def _receipts(engine: Engine) -> int:
    from cybercrisis.answers.models import AnswerReceipt

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(AnswerReceipt)).scalar_one())


def _warnings(a: BenchServer, b: BenchServer, fr: str, de: str) -> tuple[list[float], list[str], int]:
    """Send the warnings on A one by one; the seconds until B serves each, their ids, and how many never came."""
    latencies: list[float] = []
    ids: list[str] = []
    lost = 0
    for n in range(WARNINGS):
        body = {
            "title": f"Bench early warning {n}",
            "body": "Block 198.51.100.7.",
            "tlp": "amber",
            "recipients": {"communities": ["csirts-network"]},
        }
        t0 = time.perf_counter()
        status, alert = _http("POST", f"{a.base_url}/api/v1/alerts", fr, body)
        if status != 201:
            raise ServerError(f"sending an early warning on A answered {status}")
        while time.perf_counter() - t0 < CAP_SECONDS:
            if _http("GET", f"{b.base_url}/api/v1/alerts/{alert['id']}", de)[0] == 200:
                latencies.append(time.perf_counter() - t0)
                ids.append(alert["id"])
                break
            time.sleep(0.05)
        else:
            lost += 1
    return latencies, ids, lost


def bench_backend(postgres_url: str | None, out: Console) -> dict[str, Any]:
    from cybercrisis.db import make_engine
    from cybercrisis.directory.exchange import org_id_for_key

    nodes: dict[str, BenchServer] = {}
    engines: dict[str, Engine] = {}
    name = "PostgreSQL" if postgres_url else "SQLite"
    try:
        for key, org in NODES.items():
            env = {
                "CYBERCRISIS_JOBS_ENABLED": "true",
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
        out.print(f"\n[bold]{name}[/bold] (hub suite): three nodes, job runners on")
        fr = make_user(engines["a"], "analyst@cert-fr.bench.example", "fr-csirt")
        de = make_user(engines["b"], "analyst@cert-bund.bench.example", "de-csirt")
        hub_on = {k: make_user(engines[k], f"hub@enisa.{k}.bench.example", "enisa") for k in ("a", "b")}
        on_hub = {k: make_user(engines["c"], f"peer@{org}.bench.example", org) for k, org in NODES.items() if k != "c"}
        c.cli("peer", "add", a.base_url, "--token", hub_on["a"], "--direction", "both", "--relay")
        c.cli("peer", "add", b.base_url, "--token", hub_on["b"], "--direction", "both", "--relay")
        a.cli("peer", "add", c.base_url, "--token", on_hub["a"], "--direction", "both")
        b.cli("peer", "add", c.base_url, "--token", on_hub["b"], "--direction", "both")
        b.cli("node", "pin", _node_id(a), "--via", c.base_url, "--fingerprint", _key(a), "--speaks-for", "CERT-FR")
        a.cli("node", "pin", _node_id(b), "--via", c.base_url, "--fingerprint", _key(b), "--speaks-for", "CERT-Bund")
        time.sleep(35)  # the first rounds (discovery, the empty stores) are done before the timed warnings

        # The baseline: one API round trip to the hub, in this run.
        trips = []
        for _ in range(20):
            t0 = time.perf_counter()
            _http("GET", f"{c.base_url}/healthz", hub_on["a"])
            trips.append(time.perf_counter() - t0)
        baseline = statistics.median(trips)

        latencies, ids, lost = _warnings(a, b, fr, de)
        lat = sorted(latencies)
        p50 = statistics.median(lat) if lat else None
        p90 = lat[max(0, int(len(lat) * 0.9) - 1)] if lat else None
        worst = lat[-1] if lat else None
        ok = worst is not None and worst < AIM_SECONDS and not lost
        verdict = "[green]PASS[/green]" if ok else "[red]MISS[/red]"
        if p50 is not None:
            out.print(
                f"  early warning A -> hub -> B: p50 {p50:.2f} s, p90 {p90:.2f} s, max {worst:.2f} s over {len(lat)} "
                f"(lost {lost}); {p50 / baseline:,.0f}x one API round trip ({baseline * 1000:.1f} ms); "
                f"aim < {AIM_SECONDS:.0f} s: {verdict}"
            )

        before = _receipts(engines["a"])
        t0 = time.perf_counter()
        for aid in ids:
            status, _ = _http("POST", f"{b.base_url}/api/v1/alerts/{aid}/acknowledge", de)
            if status != 200:
                raise ServerError(f"acknowledging on B answered {status}")
        while _receipts(engines["a"]) - before < len(ids) and time.perf_counter() - t0 < 120:
            time.sleep(0.1)
        back_s = time.perf_counter() - t0
        arrived = _receipts(engines["a"]) - before
        rate = arrived / back_s if back_s else 0.0
        out.print(
            f"  acknowledgements B -> hub -> A: {arrived} of {len(ids)} applied at the origin in {back_s:.1f} s: "
            f"{rate:.1f} acknowledgements/s"
        )
        errors = [e for srv in nodes.values() for e in _log_errors(srv)]
        return {
            "backend": name,
            "warnings": WARNINGS,
            "baseline_round_trip_s": baseline,
            "latency_s": {"p50": p50, "p90": p90, "max": worst, "lost": lost},
            "aim_s": AIM_SECONDS,
            "aim_met": ok,
            "acknowledgements": {"applied": arrived, "sent": len(ids), "seconds": back_s, "per_s": rate},
            "server_errors": errors,
        }
    finally:
        for e in engines.values():
            e.dispose()
        for srv in nodes.values():
            srv.close()


def run(args: Any, out: Console) -> tuple[dict[str, Any], list[str], list[str]]:
    results = [bench_backend(None, out)] + ([bench_backend(args.postgres, out)] if args.postgres else [])
    missed = [
        f"{r['backend']}: early warning through the hub {r['latency_s']['max']} s" for r in results if not r["aim_met"]
    ]
    failed = [
        f"{r['backend']}: {r['acknowledgements']['applied']} of {r['acknowledgements']['sent']} acknowledged"
        for r in results
        if r["acknowledgements"]["applied"] != r["acknowledgements"]["sent"]
    ] + [
        f"{r['backend']}: {len(r['server_errors'])} error(s) in the nodes' logs" for r in results if r["server_errors"]
    ]
    return {"aims": {"early_warning_s": AIM_SECONDS}, "backends": results}, missed, failed
