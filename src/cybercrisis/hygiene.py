"""Input hygiene at the HTTP door: a pure ASGI middleware that refuses, before any route runs, input that is not
text (textcheck.py), with a 4xx naming the field."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from urllib.parse import parse_qsl

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cybercrisis import textcheck

log = logging.getLogger("cybercrisis")


Refuse = Callable[[Scope, int, str, str, list[dict[str, str]]], Response]  # scope, status, title, detail, errors
_JSON = re.compile(r"^application/(?:json|[a-z0-9.+-]+\+json)$")
_UTF8 = ("", "utf-8", "utf8", "us-ascii", "ascii")


def _replay(body: bytes, receive: Receive, *, more: bool = False) -> Receive:
    """A receive that gives the body read already, then whatever comes next (the rest, or a disconnect)."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return again


def _media(headers: dict[bytes, bytes]) -> tuple[str, dict[str, str]] | None:
    raw = headers.get(b"content-type")
    if raw is None:
        return None
    kind, *params = (p.strip() for p in raw.decode("latin-1").split(";"))
    pairs = (p.split("=", 1) for p in params if "=" in p)
    return kind.lower(), {k.strip().lower(): v.strip().strip('"').lower() for k, v in pairs}


async def _multipart_problem(scope: Scope, body: bytes) -> textcheck.Problem | None:
    """Field text as the route will see it (Starlette's own parser); file names must be valid Unicode too."""

    async def nothing_more() -> Message:
        return {"type": "http.disconnect"}

    try:
        form = await Request(scope, _replay(body, nothing_more)).form()
    except Exception:  # noqa: BLE001 - a malformed body is for the route to refuse, in its own words
        return None
    try:
        fields: list[tuple[str, str]] = []
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields.append((name, value))
            elif reason := textcheck.text_problem(value.filename or ""):
                return textcheck.Problem(name, f"the file name {reason}")
        return textcheck.form_problem(fields)
    finally:
        await form.close()


class InputHygiene:
    """Refuse, before any route runs, input that is not text (textcheck.py): in JSON bodies a lone surrogate or NUL
    in any key or value, or nesting deeper than textcheck.MAX_DEPTH; in form fields also control characters other
    than TAB, LF, CR; NUL in the path or the query. The answer is a 4xx naming the field (`refuse` shapes it: problem
    details, or a TAXII error). Checked bodies are read here once and replayed; the body limit applies outside.

    Forms larger than `form_max_bytes` (evidence uploads, the only ones allowed that large) stream through unread:
    their routes check their few text fields themselves. Multipart bodies must be UTF-8 (no other `charset`): other
    codecs (e.g. unicode_escape) would let Starlette decode bytes into surrogates and NUL."""

    METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
    INLINE = 256 * 1024  # larger bodies are checked in a worker thread, not on the event loop

    def __init__(self, app: ASGIApp, refuse: Refuse, form_max_bytes: int) -> None:
        self.app = app
        self.refuse = refuse
        self.form_max_bytes = form_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = self._address_problem(scope)
        if problem is not None:
            await self._refuse(scope, receive, send, 422, "Invalid input", problem)
            return
        if scope["method"] not in self.METHODS:  # no body a route reads: nothing more to check
            await self.app(scope, receive, send)
            return
        if sum(1 for k, _ in scope["headers"] if k == b"content-type") > 1:
            # Which one a parser would take is not ours to guess: the check must see what the route will parse.
            problem = textcheck.Problem("content-type", "is given more than once: send one Content-Type")
            await self._refuse(scope, receive, send, 400, "Bad request", problem)
            return
        headers = dict(scope["headers"])
        media = _media(headers)
        kind = self._kind(scope, media)
        if kind is None:
            await self.app(scope, receive, send)
            return
        if kind == "multipart" and media and media[1].get("charset", "") not in _UTF8:
            problem = textcheck.Problem("content-type", "multipart forms are UTF-8: send no other charset")
            await self._refuse(scope, receive, send, 415, "Unsupported media type", problem)
            return
        limit = None if kind == "json" else self.form_max_bytes
        length = headers.get(b"content-length", b"")
        if limit is not None and length.isdigit() and int(length) > limit:
            await self.app(scope, receive, send)
            return
        body, complete = await self._read(receive, limit)
        if body is None:
            log.info("client disconnected before its request body was read: %s", scope.get("path"))
            return
        if not complete:  # a chunked form past the limit: not checked, passed on as it comes
            await self.app(scope, _replay(body, receive, more=True), send)
            return
        try:
            problem = await self._check(scope, kind, body)
        except Exception:  # a fault of ours: logged and answered like any unhandled error (CatchAll is inside)
            log.exception("input check failed on %s", scope.get("path"))
            response = self.refuse(scope, 500, "Internal error", "the request failed; the error was logged", [])
            await response(scope, receive, send)
            return
        if problem is not None:
            await self._refuse(scope, receive, send, 422, "Invalid input", problem)
            return
        await self.app(scope, _replay(body, receive), send)

    def _kind(self, scope: Scope, media: tuple[str, dict[str, str]] | None) -> str | None:
        """json, urlencoded, multipart, or None for bodies not checked here."""
        if scope["method"] not in self.METHODS:
            return None
        if media is None:
            return "json"  # FastAPI reads a body without a Content-Type as JSON
        if _JSON.match(media[0]):
            return "json"
        return {"application/x-www-form-urlencoded": "urlencoded", "multipart/form-data": "multipart"}.get(media[0])

    @staticmethod
    def _address_problem(scope: Scope) -> textcheck.Problem | None:
        """NUL in the path or the query string (PostgreSQL refuses it in any text it compares)."""
        if "\x00" in scope["path"]:
            return textcheck.Problem("path", "contains NUL (U+0000), which is not text")
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            fields = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
            for name, value in fields:
                if "\x00" in name + value:
                    return textcheck.Problem(textcheck.printable(name), "contains NUL (U+0000), which is not text")
        return None

    @staticmethod
    async def _read(receive: Receive, limit: int | None) -> tuple[bytes | None, bool]:
        """The body (None if the client left), and whether it is complete (False: over `limit`, more to come)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None, False
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), True
            if limit is not None and size > limit:
                return b"".join(chunks), False

    async def _check(self, scope: Scope, kind: str, body: bytes) -> textcheck.Problem | None:
        if not body:
            return None
        if kind == "multipart":
            return await _multipart_problem(scope, body)
        check = textcheck.json_problem if kind == "json" else textcheck.urlencoded_problem
        if len(body) <= self.INLINE:
            return check(body)
        return await anyio.to_thread.run_sync(check, body)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, title: str, problem: textcheck.Problem
    ) -> None:
        detail = f"{problem.field}: {problem.message}"
        response = self.refuse(scope, status, title, detail, [problem.error()])
        await response(scope, receive, send)
