"""Load generators: wrk when installed (output parsed), else an asyncio + httpx fallback.

Each run is a fixed duration after a warm-up of the same URL, over a fixed number of keep-alive
connections, and returns requests/s, p50/p99 latency and the count of failed requests. GETs need no
script; a POST with a different body per request is a `Post`: a wrk Lua script per phase, or a Python
function of the request number for the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

WRK_TIMEOUT = "10s"  # a slow response is a latency, not a socket error


class LoadError(RuntimeError):
    """The load run failed (non-2xx answers, socket errors, a stuck server)."""


@dataclass(frozen=True)
class LoadResult:
    generator: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: int
    # What a failed request answered (status and the start of the body), a few at most, when the run records it.
    failures: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return self.non_2xx + self.socket_errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def wrk_path() -> str | None:
    return shutil.which("wrk")


def pick(generator: str) -> str:
    """`auto` means wrk when installed, else the Python fallback."""
    if generator == "wrk" and not wrk_path():
        raise LoadError("wrk is not installed (Debian package `wrk`); use --generator python or install it")
    if generator == "auto":
        return "wrk" if wrk_path() else "python"
    return generator


@dataclass(frozen=True)
class Post:
    """POSTs with a distinct body each: `lua(phase)` writes the wrk script of a phase ("warmup" or "measure")
    and returns its path; `body(phase, n)` is the n-th body of a phase for the Python fallback."""

    lua: Callable[[str], Path]
    body: Callable[[str, int], bytes]


def run(
    generator: str,
    url: str,
    *,
    headers: dict[str, str],
    connections: int,
    seconds: int,
    warmup: int,
    threads: int = 1,
    post: Post | None = None,
) -> LoadResult:
    if generator == "wrk":
        if warmup > 0:
            script = post.lua("warmup") if post else None
            _wrk(url, headers=headers, connections=connections, seconds=warmup, threads=threads, script=script)
        script = post.lua("measure") if post else None
        return _wrk(url, headers=headers, connections=connections, seconds=seconds, threads=threads, script=script)
    return _python(url, headers=headers, connections=connections, seconds=seconds, warmup=warmup, post=post)


# --- wrk ------------------------------------------------------------------------------------------------

_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$")
_LATENCY_LINE = re.compile(r"^\s*Latency\s+([\d.]+)(us|ms|s|m|h)\s+\S+\s+([\d.]+)(us|ms|s|m|h)")
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
FAILURE_PREFIX = "bench-failure: "  # lines a wrk script prints in done() for the requests that failed
MAX_FAILURES = 5


def _wrk(
    url: str, *, headers: dict[str, str], connections: int, seconds: int, threads: int, script: Path | None = None
) -> LoadResult:
    exe = wrk_path()
    if exe is None:
        raise LoadError("wrk is not installed")
    cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={WRK_TIMEOUT}", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise LoadError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    if script is not None and done.stderr.strip():
        # wrk reports a broken script on stderr and goes on with plain GETs: that is no measurement.
        raise LoadError(f"wrk script {script.name}: {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def parse_wrk(out: str) -> LoadResult:
    percentiles: dict[float, float] = {}
    requests = 0
    seconds = 0.0
    max_ms = 0.0
    socket_errors = 0
    non_2xx = 0
    for line in out.splitlines():
        if m := _PERCENTILE.match(line):
            percentiles[float(m[1])] = float(m[2]) * _UNITS_MS[m[3]]
        elif m := _LATENCY_LINE.match(line):
            max_ms = float(m[3]) * _UNITS_MS[m[4]]
        elif m := _TOTAL.match(line):
            requests, seconds = int(m[1]), float(m[2]) * _UNITS_MS[m[3]] / 1e3
        elif m := _SOCKET.search(line):
            socket_errors = sum(int(g) for g in m.groups())
        elif m := _NON_2XX.search(line):
            non_2xx = int(m[1])
    rps = _RPS.search(out)
    if rps is not None and seconds and not requests:
        raise LoadError(f"no request completed in {seconds:.0f} s: the server is stuck or refusing connections")
    if rps is None or 50.0 not in percentiles or 99.0 not in percentiles or not requests:
        raise LoadError(f"could not read wrk's output:\n{out}")
    return LoadResult(
        generator="wrk",
        requests=requests,
        seconds=seconds,
        rps=float(rps[1]),
        p50_ms=percentiles[50.0],
        p90_ms=percentiles.get(90.0, math.nan),
        p99_ms=percentiles[99.0],
        max_ms=max_ms,
        non_2xx=non_2xx,
        socket_errors=socket_errors,
        failures=tuple(
            line.removeprefix(FAILURE_PREFIX) for line in out.splitlines() if line.startswith(FAILURE_PREFIX)
        )[:MAX_FAILURES],
    )


# --- Python fallback --------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _python(
    url: str, *, headers: dict[str, str], connections: int, seconds: int, warmup: int, post: Post | None = None
) -> LoadResult:
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    with contextlib.suppress(ImportError):  # without uvloop, asyncio's own loop
        import uvloop  # installed with uvicorn[standard]; a faster client loop measures the server better

        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        latencies, non_2xx, errors, elapsed, failures = runner.run(
            _python_async(url, headers, connections, seconds, warmup, post)
        )
    latencies.sort()
    ms = [v * 1e3 for v in latencies]
    return LoadResult(
        generator="python",
        requests=len(ms),
        seconds=elapsed,
        rps=len(ms) / elapsed if elapsed else 0.0,
        p50_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        p99_ms=percentile(ms, 99),
        max_ms=ms[-1] if ms else math.nan,
        non_2xx=non_2xx,
        socket_errors=errors,
        failures=tuple(failures),
    )


async def _python_async(
    url: str, headers: dict[str, str], connections: int, seconds: int, warmup: int, post: Post | None
) -> tuple[list[float], int, int, float, list[str]]:
    import httpx

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10.0, headers=headers) as client:

        async def phase(duration: float, record: bool) -> tuple[list[float], int, int, float, list[str]]:
            latencies: list[float] = []
            failures: list[str] = []
            counts = {"non_2xx": 0, "errors": 0, "sent": 0}
            stop = time.perf_counter() + duration
            name = "measure" if record else "warmup"

            async def worker() -> None:
                while time.perf_counter() < stop:
                    t0 = time.perf_counter()
                    try:
                        if post is None:
                            response = await client.get(url)
                        else:
                            counts["sent"] += 1
                            body = post.body(name, counts["sent"])
                            response = await client.post(url, content=body)
                    except httpx.HTTPError:
                        counts["errors"] += 1
                        continue
                    latencies.append(time.perf_counter() - t0)
                    if not 200 <= response.status_code < 300:
                        counts["non_2xx"] += 1
                        if len(failures) < MAX_FAILURES:
                            failures.append(f"{response.status_code} {response.text[:300]}".replace("\n", " "))

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - started
            if not record:
                return [], 0, 0, 0.0, []
            return latencies, counts["non_2xx"], counts["errors"], elapsed, failures

        if warmup > 0:
            await phase(warmup, record=False)
        return await phase(seconds, record=True)
