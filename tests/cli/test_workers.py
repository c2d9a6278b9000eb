"""`serve --workers N`: each worker process listens on a socket of its own, and new connections reach all of them."""

from __future__ import annotations

import io
import os
import pickle
import signal
import socket
import subprocess
import time
import urllib.request
from multiprocessing.reduction import ForkingPickler
from pathlib import Path

import pytest

from cybercrisis.cli.workers import REUSE_PORT, WorkerListener
from cybercrisis.config import Settings
from tests.conftest import CLI, cli_env

pytestmark = pytest.mark.skipif(not REUSE_PORT, reason="SO_REUSEPORT is not available on this platform")


def _as_a_worker_receives_it(listener: WorkerListener) -> socket.socket:
    """What uvicorn's supervisor does with the socket it hands a worker: pickle it for the spawned process."""
    buf = io.BytesIO()
    ForkingPickler(buf).dump([listener])
    received: list[socket.socket] = pickle.loads(buf.getvalue())  # noqa: S301 - our own bytes, just written
    return received[0]


def test_each_worker_gets_its_own_socket_and_connections_reach_every_worker() -> None:
    listener = WorkerListener("127.0.0.1", 0)
    port = listener.getsockname()[1]
    workers = [_as_a_worker_receives_it(listener) for _ in range(2)]
    clients: list[socket.socket] = []
    try:
        assert len({listener.fileno(), *(w.fileno() for w in workers)}) == 3
        assert all(w.getsockname() == ("127.0.0.1", port) for w in workers)
        for w in workers:
            w.listen()
            w.setblocking(False)
        # A burst of keep-alive connections, as a proxy's pool or the bench opens them: with one shared socket
        # they could all go to one worker; spread by address, 64 of them all on one side is a 2**-63 chance.
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(64)]
        accepted = []
        for w in workers:
            n = 0
            while True:
                try:
                    conn, _ = w.accept()
                except BlockingIOError:
                    break
                conn.close()
                n += 1
            accepted.append(n)
        assert sum(accepted) == 64
        assert min(accepted) > 0
    finally:
        for s in [*clients, *workers, listener]:
            s.close()


def test_a_taken_port_fails_at_start() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(OSError, match="Address already in use"):
            WorkerListener("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_serve_with_two_workers_answers_and_stops_on_sigterm(settings: Settings) -> None:
    if settings.effective_database_url.startswith("sqlite"):
        pytest.skip("several workers need PostgreSQL (on SQLite `serve` starts one)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **cli_env(settings)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert server.poll() is None, server.communicate()[1]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer /readyz")
        workers = [p for p in Path("/proc").glob("[0-9]*") if _parent(p) == server.pid and b"spawn_main" in _cmdline(p)]
        assert len(workers) == 2
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        assert server.stderr is not None
        server.stderr.close()


def _parent(proc: Path) -> int:
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _cmdline(proc: Path) -> bytes:
    try:
        return (proc / "cmdline").read_bytes()
    except OSError:
        return b""
