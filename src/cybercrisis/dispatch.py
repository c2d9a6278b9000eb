"""Route dispatch in a few steps: the app's routes indexed by their leading static path segments.

FastAPI matches a request by walking every included router in order and, inside each, every route (and again
inside the router that matched); a route declared late, /healthz among them, walked some 250 patterns, half of
its CPU under load (py-spy, issue 14). `PrefixDispatch` flattens the routes once, in their order, and keeps for
each prefix of up to `DEPTH` static segments the routes that could match a path starting with it. A request tries
only those, in the same order, so the first full match is the one FastAPI would pick; FastAPI's own router answers
whatever has no full match (404, 405, the redirect to the path without its slash) exactly as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter, iter_route_contexts
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("cybercrisis")

DEPTH = 3  # /api/v1/<resource> tells the API routes apart; pages differ in their first segment


@dataclass(frozen=True, slots=True)
class _Entry:
    route: BaseRoute
    matches: Callable[[Scope], tuple[Match, Scope]]
    handle: ASGIApp | None  # None: a kind of route this index does not dispatch; FastAPI's router takes over


@dataclass(slots=True)
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    entries: tuple[_Entry, ...] = ()


def _key(path_format: str) -> tuple[str, ...]:
    """The leading segments that a path must repeat literally to match (no parameter in them)."""
    key: list[str] = []
    for part in path_format.split("/")[1 : DEPTH + 1]:
        if "{" in part:
            break
        key.append(part)
    return tuple(key)


# Where an inclusion keeps its flattened entries, with the routes version of its router they were made at (FastAPI
# rebuilds an inclusion when that version changes; so does this). Kept on the inclusion, they go with it. The domain
# routers' inclusions are shared by every app of a process (`app._included_routes`): the test suite, which creates
# an app per test, flattened them again for each.
_FLATTENED = "_cybercrisis_dispatch_entries"


def _entries(routes: list[BaseRoute]) -> Iterator[tuple[tuple[str, ...], _Entry]]:
    """Every route in FastAPI's order, with its prefix and how to match and run it."""
    for route in routes:
        router = getattr(route, "original_router", None)
        if router is None:  # a route of the app itself: flattened with the app
            yield from _route_entries(route)
            continue
        version = router._get_routes_version()
        known = vars(route).get(_FLATTENED)
        if known is None or known[0] != version:
            known = (version, tuple(_route_entries(route)))
            vars(route)[_FLATTENED] = known
        yield from known[1]


def _route_entries(route: BaseRoute) -> Iterator[tuple[tuple[str, ...], _Entry]]:
    for found in iter_route_contexts([route]):
        original = found.original_route
        # The route as included (prefix, router dependencies and tags applied), built once by FastAPI.
        effective: Any = getattr(found, "_route_context", None)
        if effective is None:
            if isinstance(original, Route | Mount):
                yield _key(original.path_format), _Entry(original, original.matches, original.handle)
                continue
        elif isinstance(original, APIRoute) and effective.starlette_route is None and effective.app is not None:
            yield _key(effective.path_format), _Entry(original, effective.matches, effective.app)
            continue
        yield (), _Entry(original, original.matches, None)


def _form_limits(routes: list[BaseRoute]) -> bool:
    """Whether any inclusion sets form limits (FastAPI applies them while routing; this index does not)."""
    for route in routes:
        context = getattr(route, "include_context", None)
        if context is not None and (context.form_limits or _form_limits(context.included_router.routes)):
            return True
    return False


def build_index(routes: list[BaseRoute]) -> _Node:
    """A trie of path prefixes; each node holds, in order, every route whose prefix leads to it."""
    root = _Node()
    keyed = list(_entries(routes))
    nodes: dict[tuple[str, ...], _Node] = {(): root}
    for key, _entry in keyed:
        node = root
        for depth, part in enumerate(key, start=1):
            node = node.children.setdefault(part, _Node())
            nodes[key[:depth]] = node
    for path, node in nodes.items():
        node.entries = tuple(entry for key, entry in keyed if path[: len(key)] == key)
    return root


class PrefixDispatch:
    """FastAPI's router, reached through the prefix index (see the module's docstring)."""

    def __init__(self, router: APIRouter) -> None:
        self.router = router
        self.fallback = router.middleware_stack
        self._index: _Node | None = None

    def _build(self) -> _Node:
        # Built at the first request, when every router is included; routes added later are found by the fallback.
        self._index = build_index(self.router.routes)
        return self._index

    def candidates(self, path: str) -> tuple[_Entry, ...]:
        node = self._index or self._build()
        for part in path[1:].split("/", DEPTH)[:DEPTH]:
            child = node.children.get(part)
            if child is None:
                break
            node = child
        return node.entries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # root_path and FastAPI's telemetry change how routes are matched and recorded: FastAPI's router does both.
        if scope["type"] == "http" and not scope.get("root_path") and "fastapi.telemetry" not in scope:
            for entry in self.candidates(scope["path"]):
                if entry.handle is None:
                    break
                match, child_scope = entry.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self.router)
                    scope.update(child_scope)
                    scope["route"] = entry.route
                    await entry.handle(scope, receive, send)
                    return
        await self.fallback(scope, receive, send)


def install(app: FastAPI) -> None:
    """Put the prefix index in front of the app's router, unless the router does work this index would skip."""
    router = app.router
    if router.middleware_stack != router.app or router.form_limits or _form_limits(router.routes):
        log.info("routes dispatched by FastAPI's router: it has middleware or form limits")
        return
    router.middleware_stack = PrefixDispatch(router)
