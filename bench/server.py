"""A real cybercrisis server for the benchmark: temp data dir, fresh database, generated data, one worker
(or `workers` processes on PostgreSQL; `sibling(workers=...)` serves the same database beside it).

Everything it creates is undone by `close()` (also registered with atexit): the server process is
terminated (then killed), a PostgreSQL bench database is dropped, the temp directory is removed.
`prepare()` alone gives a migrated, empty bench database without a server (the correlation benchmark).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.data import Dataset, generate

HOST = "127.0.0.1"  # loopback only
START_TIMEOUT_S = 60.0
IDLE_SETTLE_S = 2.0
WORKER_IDLE_CPU_S = 0.05  # a worker that used less CPU than this in a second has finished its start-up


class ServerError(RuntimeError):
    """The benchmarked server did not start or died."""


def _cli() -> str:
    """The `cybercrisis` command of the interpreter running the bench (the project's .venv)."""
    beside = Path(sys.executable).parent / "cybercrisis"
    if beside.exists():
        return str(beside)
    found = shutil.which("cybercrisis")
    if not found:
        raise ServerError("the `cybercrisis` command is not installed; run `make .venv` first")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """A memory figure from /proc/<pid>/status, in KiB (VmRSS now, VmHWM the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise ServerError(f"no {field} in /proc/{pid}/status")


def worker_pids(pid: int) -> list[int]:
    """uvicorn's worker processes under its supervisor `pid` (spawned; not multiprocessing's resource tracker)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            out.append(int(stat.parent.name))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Backend:
    name: str  # "sqlite" or "postgresql"
    database_url: str  # with the password, for the server's environment only
    display_url: str  # without it, for printing


class BenchServer:
    """Prepare a database with data, start `cybercrisis serve`, and clean everything up afterwards."""

    def __init__(
        self,
        *,
        postgres_url: str | None = None,
        verbose: bool = False,
        data: Literal["bench", "demo", "none"] = "bench",
        env: dict[str, str] | None = None,
        workers: int = 1,
    ) -> None:
        """`data`: the generated directory of bench/data.py, the demo (`cybercrisis demo load`), or nothing.

        `env`: extra CYBERCRISIS_* settings for the server and the CLI (e.g. SMTP, jobs).
        """
        self.postgres_url = postgres_url
        self.verbose = verbose
        self.data = data
        self.extra_env = dict(env or {})
        self.workers = workers
        self.tmp = Path(tempfile.mkdtemp(prefix="cybercrisis-bench-"))
        self.data_dir = self.tmp / "data"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._pg_admin_url: str | None = None
        self._pg_db: str | None = None
        self.port = 0
        self.backend: Backend | None = None
        self.dataset: Dataset | None = None
        self.idle_rss_kib = 0
        self.setup_seconds = 0.0  # database, migrations and data
        self.start_seconds = 0.0  # process start until /readyz answers
        self._closed = False
        atexit.register(self.close)

    # --- lifecycle ---------------------------------------------------------------------------------

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def prepare(self) -> Backend:
        """A fresh, migrated database (SQLite file in the temp dir, or a new PostgreSQL database)."""
        self.backend = self._make_database()
        self.cli("db", "upgrade")
        return self.backend

    def start(self) -> None:
        t0 = time.perf_counter()
        self.prepare()
        assert self.backend is not None
        if self.data == "bench":
            self.dataset = generate(self.backend.database_url)
        elif self.data == "demo":
            self.cli("demo", "load")
        self.setup_seconds = time.perf_counter() - t0
        t1 = time.perf_counter()
        self._serve()
        self.start_seconds = time.perf_counter() - t1
        time.sleep(IDLE_SETTLE_S)
        assert self.proc is not None
        self.idle_rss_kib = rss_kib(self.proc.pid)

    def sibling(self, *, workers: int) -> BenchServer:
        """Another server, with `workers` processes, on this one's database and data directory: both serve at
        once, so that runs against each can alternate. Closing it stops its server only."""
        other = BenchServer(workers=workers, env=self.extra_env)
        other.backend, other.data_dir, other.dataset = self.backend, self.data_dir, self.dataset
        t0 = time.perf_counter()
        other._serve()
        other.start_seconds = time.perf_counter() - t0
        time.sleep(IDLE_SETTLE_S)
        return other

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._stop_server()
        finally:
            try:
                self._drop_database()
            finally:
                shutil.rmtree(self.tmp, ignore_errors=True)
                atexit.unregister(self.close)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServerError("the server is not running")
        return self.proc.pid

    def peak_rss_kib(self) -> int:
        return rss_kib(self.pid, "VmHWM")

    def current_rss_kib(self) -> int:
        return rss_kib(self.pid)

    # --- database ----------------------------------------------------------------------------------

    def _make_database(self) -> Backend:
        if not self.postgres_url:
            path = self.data_dir / "cybercrisis.db"
            return Backend("sqlite", f"sqlite:///{path}", f"sqlite:///{path}")
        from cybercrisis.db import make_engine

        base = make_url(self.postgres_url)
        if base.drivername in ("postgresql", "postgres"):
            base = base.set(drivername="postgresql+psycopg")
        if not base.drivername.startswith("postgresql"):
            raise ServerError(f"--postgres wants a postgresql:// URL, not {base.drivername}")
        if base.host not in (None, "", "127.0.0.1", "localhost", "::1"):
            raise ServerError(f"--postgres must point at a local server (loopback only), not {base.host}")
        admin = base.set(database=base.database or "postgres")
        name = f"cybercrisis_bench_{uuid.uuid4().hex[:10]}"
        engine = make_engine(admin.render_as_string(hide_password=False), pool=False)
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        self._pg_admin_url = admin.render_as_string(hide_password=False)
        self._pg_db = name
        url = base.set(database=name)
        return Backend(
            "postgresql", url.render_as_string(hide_password=False), url.render_as_string(hide_password=True)
        )

    def _drop_database(self) -> None:
        if not (self._pg_admin_url and self._pg_db):
            return
        from cybercrisis.db import make_engine

        engine = make_engine(self._pg_admin_url, pool=False)
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_db}" WITH (FORCE)'))
        finally:
            engine.dispose()
            self._pg_db = None

    # --- the server process ------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        assert self.backend is not None
        # Drop any CYBERCRISIS_* of the caller (the Makefile exports CYBERCRISIS_DATA_DIR) before setting ours.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CYBERCRISIS_")}
        env.update(
            CYBERCRISIS_DATA_DIR=str(self.data_dir),
            CYBERCRISIS_DATABASE_URL=self.backend.database_url,
            CYBERCRISIS_LOG_LEVEL="warning",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def cli(self, *args: str) -> str:
        """Run `cybercrisis <args>` against the bench database and data dir; returns its standard output."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [_cli(), *args], env=self._env(), capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            raise ServerError(f"`cybercrisis {' '.join(args)}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def cli_process(self, *args: str, log_name: str) -> subprocess.Popen[bytes]:
        """Start `cybercrisis <args>` in the background (its own session, output to a log in the temp dir).

        The caller stops it (terminate, then kill) by this process's id.
        """
        log = (self.tmp / log_name).open("wb")
        try:
            return subprocess.Popen(
                [_cli(), *args],
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()  # the child has its own descriptor

    def _serve(self) -> None:
        self.port = free_port()
        log_path = self.tmp / "server.log"
        log = log_path.open("wb")
        self._log = log
        self.proc = subprocess.Popen(
            [_cli(), "serve", "--host", HOST, "--port", str(self.port), "--workers", str(self.workers)],
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the terminal reaches the bench only; the bench stops it
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"the server exited with code {self.proc.returncode} during start-up:\n{self.server_output()}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        self._wait_for_workers(deadline)
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                last_error = str(exc)
            time.sleep(0.1)
        raise ServerError(
            f"the server did not answer /readyz within {START_TIMEOUT_S:.0f} s "
            f"(last error: {last_error}):\n{self.server_output()}"
        )

    def _wait_for_workers(self, deadline: float) -> None:
        """With several workers, /readyz answers as soon as the first one listens: wait until every worker
        exists and has gone idle, so that no worker's start-up (imports, app, pool) is counted in a run."""
        if self.workers < 2:
            return
        assert self.proc is not None
        last = -1.0
        while time.monotonic() < deadline:
            pids = worker_pids(self.proc.pid)
            used = sum(cpu_seconds(pid) for pid in pids)
            if len(pids) >= self.workers and 0 <= used - last < WORKER_IDLE_CPU_S:
                return
            last = used
            time.sleep(1.0)
        raise ServerError(f"the {self.workers} workers did not settle within {START_TIMEOUT_S:.0f} s")

    def server_output(self, tail: int = 60) -> str:
        path = self.tmp / "server.log"
        if not path.exists():
            return "(no output)"
        lines = path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail:]) or "(no output)"

    def _stop_server(self) -> None:
        proc, self.proc = self.proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None


class TrivialServer:
    """bench/trivial.py in its own process (the framework's limit, served like ours); stopped by `close()`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> TrivialServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.trivial", "--host", HOST, "--port", str(self.port)],
            cwd=Path(__file__).parent.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"the trivial app exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/healthz", timeout=2) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise ServerError("the trivial app did not answer /healthz")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
