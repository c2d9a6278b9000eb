"""A live server: our app under uvicorn in a background thread, for clients that speak HTTP (taxii2-client, peers).

`serve(settings)` starts one (several may run at once, e.g. two federated nodes) and returns its base URL;
`live_server` is the one for the test's own `settings` and database. Each listens on 127.0.0.1 on a free port
(the socket is bound before the server starts, so there is no race for the port) and is stopped after the test.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import uvicorn

from cybercrisis.config import Settings

Serve = Callable[[Settings], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    from cybercrisis.app import create_app

    running: list[tuple[uvicorn.Server, threading.Thread, object]] = []

    def start(settings: Settings) -> str:
        app = create_app(settings)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        running.append((server, thread, app))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread, app in running:
        server.should_exit = True
        thread.join(timeout=20)
        app.state.engine.dispose()  # type: ignore[attr-defined]


@pytest.fixture
def live_server(serve: Serve, settings: Settings) -> str:
    """The base URL (no trailing slash) of our app serving the test's database."""
    return serve(settings)
