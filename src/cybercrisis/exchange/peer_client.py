"""A peer node's TAXII side (ADR 0008): the connection to it, its discovery and collections, and the probe that
`peer add` makes before storing anything.

Discovery must carry `x_cybercrisis_node` (a cybercrisis node, not any TAXII server). Every request goes through
taxii2-client with a per-request timeout, and every connection it opens (redirects and the API root the discovery
names included) is checked by the outbound policy (`outbound`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.auth
from taxii2client import exceptions as taxii_errors  # type: ignore[import-untyped]
from taxii2client.common import _HTTPConnection  # type: ignore[import-untyped]
from taxii2client.v21 import ApiRoot, Server  # type: ignore[import-untyped]

from cybercrisis import __version__, outbound, textcheck
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange import node as nodes

USER_AGENT = f"cybercrisis/{__version__} (federation; taxii2-client)"


class PeerError(Exception):
    """A peer answered something we cannot use, or not at all: the message is safe to show and to store."""


# --- the connection ----------------------------------------------------------------------------------------------


class _BearerAuth(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


class _TimedSession(requests.Session):
    """A requests session that puts a timeout on every request and keeps the last response (for its headers).

    Its connections reach only what the outbound policy allows; a refused one ends the request as a PeerError."""

    def __init__(self, timeout: float, allow: outbound.Allow) -> None:
        super().__init__()
        outbound.guard_session(self, allow)
        self.timeout = timeout
        self.last: requests.Response | None = None

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = super().request(method, url, *args, **kwargs)
        except outbound.Refused as exc:
            raise PeerError(str(exc)) from exc
        self.last = response
        return response


class Connection(_HTTPConnection):  # type: ignore[misc]
    """taxii2-client's connection with our credentials (Bearer token, or HTTP Basic with an e-mail) and timeout."""

    def __init__(self, *, token: str, username: str | None, timeout: float, allow: outbound.Allow) -> None:
        super().__init__(user_agent=USER_AGENT, version="2.1")
        self.session.close()
        self.session: _TimedSession = _TimedSession(timeout, allow)
        self.session.auth = requests.auth.HTTPBasicAuth(username, token) if username else _BearerAuth(token)
        self.timeout = timeout

    @property
    def last_headers(self) -> Mapping[str, str]:
        last = self.session.last
        return last.headers if last is not None else {}


def connect(*, token: str, username: str | None, timeout: float, allow: outbound.Allow) -> Connection:
    """A connection to a peer; `allow` is the operator's CYBERCRISIS_OUTBOUND_ALLOW (`Settings.outbound_networks`)."""
    return Connection(token=token, username=username, timeout=timeout, allow=allow)


def describe(exc: BaseException, *, url: str, timeout: float) -> str:
    """A short, safe message for a failed exchange with a peer (stored on the peer, shown by `peer status`)."""
    host = urlsplit(url).netloc or url
    if isinstance(exc, PeerError):
        return str(exc)
    if isinstance(exc, requests.Timeout):
        return f"{host} did not answer within {timeout:g} s"
    if isinstance(exc, requests.ConnectionError):
        return f"cannot connect to {host} (is the peer running, and the URL right?)"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        detail = _taxii_error(exc.response)
        if status == 401:
            return f"{host} refused our credentials (HTTP 401): check the token" + (f": {detail}" if detail else "")
        return f"{host} answered HTTP {status} to {exc.response.request.method} {_path(exc.response.url)}" + (
            f": {detail}" if detail else ""
        )
    if isinstance(exc, taxii_errors.InvalidJSONError):
        return f"{host} answered something that is not JSON: not a TAXII 2.1 server?"
    if isinstance(exc, taxii_errors.TAXIIServiceException | taxii_errors.ValidationError):
        return f"{host} is not a TAXII 2.1 server we can use: {str(exc).splitlines()[0]}"
    if isinstance(exc, requests.RequestException):
        return f"request to {host} failed: {type(exc).__name__}"
    return f"unexpected answer from {host}: {type(exc).__name__}"


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def _taxii_error(response: requests.Response) -> str:
    """The title/description of a TAXII error message, shortened; '' when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body[k]) for k in ("title", "description") if isinstance(body.get(k), str) and body.get(k)]
    return " - ".join(parts)[:300]


# --- discovery ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Discovery:
    """What a peer's discovery says about it."""

    url: str
    title: str
    api_root: str
    node_id: str
    name: str
    organisation: str | None
    keys: list[dict[str, Any]]  # as published: id, public_key, created, retired, endorsed_by, endorsement
    relayed: dict[str, dict[str, str]] = field(default_factory=dict)  # node id -> {key id: public key}

    @property
    def current_key(self) -> str:
        return str(self.keys[-1]["id"])


def _valid_key(key: Any) -> bool:
    if not isinstance(key, dict) or not isinstance(key.get("id"), str) or not isinstance(key.get("public_key"), str):
        return False
    try:
        raw = base64.b64decode(key["public_key"].encode(), validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and nodes.key_id(raw) == key["id"]


def _relayed(value: Any) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    if not isinstance(value, dict):
        return out
    for node_id, keys in value.items():
        if isinstance(node_id, str) and isinstance(keys, dict):
            good = {k: v for k, v in keys.items() if _valid_key({"id": k, "public_key": v})}
            if good:
                out[node_id] = good
    return out


DISCOVERY_PATH = "/taxii2/"


def normalise_url(url: str) -> str:
    """The peer's discovery URL: as given (with a final slash), or for a bare node address (`http://host:port`)
    the TAXII 2.1 discovery path under it. No query, fragment or user name and password: a discovery URL has none,
    and the URL is stored, shown and audited (the token travels apart)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            f"url: {url!r} is not an http(s) URL such as https://node.example/taxii2/",
            errors=[{"field": "url", "message": "not an http(s) URL"}],
        )
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise InvalidInput(
            f"url: {url!r} has a query, a fragment or credentials; give the discovery URL alone (the token apart)",
            errors=[{"field": "url", "message": "a discovery URL has no query, fragment or credentials"}],
        )
    # A node's address: its discovery is at the path TAXII 2.1 defines for it (section 4.1, "/taxii2/").
    path = DISCOVERY_PATH if parts.path in ("", "/") else parts.path.rstrip("/") + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def discover(conn: Connection, url: str) -> Discovery:
    """The peer's discovery resource; a TAXII server that is not a cybercrisis node is refused (PeerError)."""
    server = Server(url, conn=conn)
    server.refresh()
    custom = server.custom_properties
    ident = custom.get("x_cybercrisis_node")
    if not isinstance(ident, dict) or not isinstance(ident.get("id"), str):
        raise PeerError(f"{url} is a TAXII server but not a cybercrisis node (its discovery has no x_cybercrisis_node)")
    # What is kept of it (title, node id, keys it relays) must be text we can store and serve again (textcheck.py).
    problem = textcheck.find_problem({"title": server.title, "x_cybercrisis_node": ident})
    if problem is not None:
        raise PeerError(f"{url} discovery: {problem.field} {problem.message}")
    keys = [k for k in ident.get("keys") or [] if _valid_key(k)]
    if not keys:
        raise PeerError(f"{url} publishes no valid node key (x_cybercrisis_node.keys)")
    roots = [r.url for r in server.api_roots]
    api_root = server.default.url if server.default is not None else (roots[0] if roots else None)
    if not api_root:
        raise PeerError(f"{url} lists no API root")
    organisation = ident.get("organisation")
    return Discovery(
        url=url,
        title=str(server.title),
        api_root=api_root,
        node_id=ident["id"],
        name=str(ident.get("name") or ""),
        organisation=organisation if isinstance(organisation, str) else None,
        keys=keys,
        relayed=_relayed(ident.get("peers")),
    )


@dataclass(frozen=True, slots=True)
class RemoteCollection:
    id: str
    title: str
    can_read: bool
    can_write: bool


def api_root(conn: Connection, url: str) -> ApiRoot:
    return ApiRoot(url, conn=conn)


def remote_collections(root: ApiRoot) -> dict[str, RemoteCollection]:
    """The collections our account sees on the peer."""
    return {
        c.id: RemoteCollection(id=c.id, title=str(c.title), can_read=bool(c.can_read), can_write=bool(c.can_write))
        for c in root.collections
    }


@dataclass(frozen=True, slots=True)
class Probe:
    """Everything `peer add` learns from the peer before storing anything."""

    discovery: Discovery
    collections: dict[str, RemoteCollection]


def probe(*, url: str, token: str, username: str | None, timeout: float, allow: outbound.Allow = ()) -> Probe:
    """Ask the peer for its discovery and collections (no database work): PeerError with a clear message.

    A URL whose host is, or resolves to, an address the outbound policy refuses is refused before any connection.
    """
    url = normalise_url(url)
    try:
        outbound.check_url(url, allow)
    except outbound.Refused as exc:
        raise PeerError(str(exc)) from None
    conn = connect(token=token, username=username, timeout=timeout, allow=allow)
    try:
        discovery = discover(conn, url)
        return Probe(discovery, remote_collections(api_root(conn, discovery.api_root)))
    except PeerError:
        raise
    except Exception as exc:  # anything the peer or the network does ends as one clear message
        raise PeerError(describe(exc, url=url, timeout=timeout)) from exc
    finally:
        conn.close()
