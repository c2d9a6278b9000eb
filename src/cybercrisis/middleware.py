"""Pure ASGI middleware: request ids, body size limit, security headers and Cache-Control, the client address."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cybercrisis.audit.service import request_id_var

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
]


NO_STORE = (b"cache-control", b"no-store")
# Answers that carry nothing marked above TLP:CLEAR and nothing about who asks: our own CSS and JS, the public
# page and feed of released statements, and the health checks. Everything else (API, TAXII, pages, error pages,
# whatever a handler said) is no-store, so that no browser or proxy cache keeps a marked answer.
_STORABLE_EXACT = frozenset({"/public", "/healthz", "/readyz"})
_STORABLE_PREFIXES = ("/static/", "/public/")


def _storable(path: str) -> bool:
    return path in _STORABLE_EXACT or path.startswith(_STORABLE_PREFIXES)


def _request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is sane, else a new one."""
    given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"").decode("latin-1")
    # 128 random bits as hex, as uuid4().hex gave, without building a UUID per request.
    return given if _SAFE_ID.match(given) else secrets.token_hex(16)


class RequestContext:
    """Give every request an id (kept from X-Request-ID when sane), add security headers and Cache-Control."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)

        storable = _storable(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not storable:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append(NO_STORE)
                headers.append((b"x-request-id", rid.encode()))
                headers.extend(SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)


class Probes:
    """Answer GET /healthz, and /readyz while the database answers, before routing and every other layer.

    Under load these ran the whole stack (six middleware, FastAPI's routing, a thread-pool hop) to say "ok"
    (py-spy, issue 14). The answer carries what RequestContext would add (the request id, the security headers;
    both are storable). A failed readiness check goes down the stack to its route, which answers 503 in the
    problem shape. The routes stay declared for the OpenAPI and for methods other than GET and HEAD.
    """

    HEALTHY = b'{"status":"ok"}'
    READY = b'{"status":"ready"}'

    def __init__(self, app: ASGIApp, ready: Callable[[], bool]) -> None:
        self.app = app
        self.ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") else ""
        if path == "/healthz":
            await self._answer(scope, send, self.HEALTHY)
        elif path == "/readyz" and await anyio.to_thread.run_sync(self.ready):
            await self._answer(scope, send, self.READY)
        else:
            await self.app(scope, receive, send)

    @staticmethod
    async def _answer(scope: Scope, send: Send, body: bytes) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", _request_id(scope).encode()),
            *SECURITY_HEADERS,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def _ip(value: str) -> IPAddress | None:
    """An address as proxies write it in X-Forwarded-For: bare, with a port, or IPv6 in brackets with a port."""
    value = value.strip()
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else value
    elif value.count(":") == 1:  # IPv4 with a port; a bare IPv6 address has several colons
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # A dual-stack listener reports IPv4 peers as ::ffff:a.b.c.d; the setting names them as IPv4.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str | None:
    """Who the client is: the connecting address, unless it is a trusted proxy; then the right-most address of
    X-Forwarded-For that is not itself a trusted proxy (everything left of it was written by the client)."""

    def is_trusted(address: IPAddress | None) -> bool:
        return address is not None and any(address in network for network in trusted)

    if peer is None or not trusted or not is_trusted(_ip(peer)):
        return peer
    client = peer
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None:
            return hop[:100]  # what the trusted proxy reported, unusual as it is (e.g. "unknown")
        client = str(address)
        if not is_trusted(address):
            break
    return client


class ClientAddress:
    """Put the real client address in the scope (`request.client`), as `client_address` finds it behind the
    trusted proxies (CYBERCRISIS_TRUSTED_PROXIES): login throttling and the audit trail see the browser."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            host, port = scope["client"]
            forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
            client = client_address(host, forwarded, self.trusted)
            if client != host:
                scope["client"] = (client, port)
        await self.app(scope, receive, send)


class ConcurrencyLimit:
    """Admit at most `limit` requests at once (the database pool size); the others wait their turn.

    Without it, more requests than connections can each take a worker thread and wait for a connection held
    by requests that are themselves waiting for a thread: the pool never drains. Health checks bypass it.
    """

    # Event streams hold their request open for hours but a database connection only for moments.
    BYPASS = ("/healthz", "/static/", "/api/v1/events")

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.BYPASS):
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # created inside the running loop
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)


class BodyTooLarge(Exception):
    """Raised while streaming a body past the limit; answered with 413."""


class BodySizeLimit:
    """Refuse bodies over the limit with 413, by Content-Length or while streaming.

    `larger` raises the limit for POSTs to paths matching a pattern (evidence uploads), and only for those.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, larger: tuple[tuple[re.Pattern[str], int], ...] = ()) -> None:
        self.app = app
        self.default_max = max_bytes
        self.larger = larger

    def _limit(self, scope: Scope) -> int:
        if scope.get("method") == "POST":
            for pattern, limit in self.larger:
                if pattern.match(scope["path"]):
                    return limit
        return self.default_max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            # No body (HTTP/1.1: neither length nor chunks), as for most GETs: nothing to count, no wrappers.
            await self.app(scope, receive, send)
            return
        max_bytes = self._limit(scope)
        if length is not None and (not length.isdigit() or int(length) > max_bytes):
            await _problem(send, 413, "Request body too large", f"the limit is {max_bytes} bytes")
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _problem(send, 413, "Request body too large", f"the limit is {max_bytes} bytes")


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
