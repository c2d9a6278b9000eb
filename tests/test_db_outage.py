"""A database that goes away gives 503, and the service recovers by itself when it is back."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from cybercrisis.app import create_app
from cybercrisis.config import Settings
from tests.conftest import Actor, World


class TcpProxy:
    """A loopback TCP proxy in front of PostgreSQL that the test can cut and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            with contextlib.suppress(OSError):  # the other side went away: the pipe simply ends
                while data := a.recv(65536):
                    b.sendall(data)
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.conns.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def proxied_client(settings: Settings, database_url: str) -> Iterator[tuple[TestClient, TcpProxy]]:
    if not database_url.startswith("postgresql"):
        pytest.skip("a network outage needs a networked database: runs on the PostgreSQL backend")
    url = make_url(database_url)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(settings.model_copy(update={"database_url": proxied}))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, proxy
    finally:
        app.state.engine.dispose()
        proxy.close()


def test_outage_gives_503_and_the_service_recovers(proxied_client: tuple[TestClient, TcpProxy], world: World) -> None:
    client, proxy = proxied_client
    world.org("CERT-AA", country="AT")
    analyst: Actor = world.user("CERT-AA")
    assert client.get("/api/v1/me", headers=analyst.headers).status_code == 200
    proxy.cut()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["retry-after"]
    down = client.get("/api/v1/me", headers=analyst.headers)
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert client.get("/healthz").status_code == 200  # the process itself is fine
    proxy.restore()
    assert client.get("/readyz").status_code == 200
    assert client.get("/api/v1/me", headers=analyst.headers).status_code == 200
