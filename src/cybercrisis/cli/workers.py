"""Several server processes, each with its own listening socket on the same address (SO_REUSEPORT).

uvicorn's supervisor binds one socket and hands it to every worker: they then race to accept, and a burst of
keep-alive connections (a proxy's pool, a load generator's 32) can all land on one worker while the other idles
(measured: 32 and 0 connections in two runs of three, docs/performance.md "Scale-out"). With SO_REUSEPORT each
worker listens on a socket of its own and the kernel spreads new connections over them by their addresses.
uvicorn's supervisor is kept (it restarts dead workers, handles signals): the socket it passes to a worker is a
`WorkerListener`, which a worker process unpickles as a fresh socket bound for itself.
"""

from __future__ import annotations

import socket
from typing import Any

REUSE_PORT = hasattr(socket, "SO_REUSEPORT")


def bind_reuse_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) in the SO_REUSEPORT group of that address; listening is the server's."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class WorkerListener(socket.socket):
    """The address every worker listens on. The supervisor holds it bound but never listening (only listening
    sockets receive connections), which reserves the port and fails at start when it is taken; each worker
    process receives, in its place, a socket of its own in the same group."""

    def __init__(self, host: str, port: int) -> None:
        bound = bind_reuse_port(host, port)
        super().__init__(bound.family, bound.type, bound.proto, fileno=bound.detach())
        self.address = (host, int(self.getsockname()[1]))  # the port chosen, when asked for port 0

    def __reduce__(self) -> tuple[Any, ...]:
        return (bind_reuse_port, self.address)
