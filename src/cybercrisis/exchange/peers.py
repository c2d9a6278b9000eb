"""Peer nodes (ADR 0008): the TAXII connection to one, its discovery, and adding, listing, removing and keys.

A peer is added from its discovery URL and one of our API tokens on it. Discovery must carry `x_cybercrisis_node`
(a cybercrisis node, not any TAXII server); its keys are pinned then (trust on first use, or checked against a
key id given out of band), and each sync round accepts only new keys endorsed by an accepted one
(`node.endorsed_keys`). Every request goes through taxii2-client with a per-request timeout, and every connection
it opens (redirects and the API root the discovery names included) is checked by the outbound policy (`outbound`).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.auth
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from taxii2client import exceptions as taxii_errors  # type: ignore[import-untyped]
from taxii2client.common import _HTTPConnection  # type: ignore[import-untyped]
from taxii2client.v21 import ApiRoot, Server  # type: ignore[import-untyped]

from cybercrisis import __version__, outbound, secretbox, textcheck
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import Conflict, InvalidInput, NotFound
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import Peer, PeerCursor

DIRECTIONS = ("pull", "push", "both")
USER_AGENT = f"cybercrisis/{__version__} (federation; taxii2-client)"
MAX_TIMEOUT = 600.0


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


def normalise_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidInput(
            f"url: {url!r} is not an http(s) URL such as https://node.example/taxii2/",
            errors=[{"field": "url", "message": "not an http(s) URL"}],
        )
    return url if url.endswith("/") else url + "/"


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


# --- the service -------------------------------------------------------------------------------------------------


def _key_entries(keys: list[dict[str, Any]], accepted: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"id": k["id"], "public_key": k["public_key"], "created": k.get("created"), "endorsed_by": k.get("endorsed_by")}
        for k in keys
        if k["id"] in accepted
    ]


def add(
    session: Session,
    *,
    actor: Principal | None,
    local_node: str,
    probe: Probe,
    token: str,
    username: str | None,
    direction: str,
    collections: list[str],
    timeout: float,
    settings: Settings,
    fingerprint: str | None = None,
) -> Peer:
    """Store a peer from what `probe` learned; its current keys are pinned; `token` is stored sealed with the
    server key (secretbox). Audited `exchange:peer:add`."""
    d = probe.discovery

    def refuse(where: str, message: str) -> InvalidInput:
        return InvalidInput(message, errors=[{"field": where, "message": message}])

    if direction not in DIRECTIONS:
        raise refuse("direction", f"direction {direction!r} is not one of {', '.join(DIRECTIONS)}")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise refuse("timeout", f"timeout {timeout:g} is not between 0 and {MAX_TIMEOUT:g} seconds")
    if d.node_id == local_node:
        raise refuse("url", f"{d.url} is this node itself ({local_node})")
    if fingerprint is not None and fingerprint.strip().lower() != d.current_key:
        raise refuse(
            "fingerprint",
            f"the peer's current key is {d.current_key}, not {fingerprint.strip()}: do not add it until you know why",
        )
    unknown = [c for c in collections if c not in probe.collections]
    if unknown:
        raise refuse("collections", f"collection {unknown[0]} is not one the peer shows to this token")
    organisation = d.organisation if d.organisation and session.get(Organisation, d.organisation) else None
    if direction != "pull" and organisation is None:
        what = (
            f"its organisation {d.organisation}, which is not in this node's directory"
            if d.organisation
            else ("no organisation (set CYBERCRISIS_NODE_ORGANISATION on the peer)")
        )
        raise refuse(
            "direction", f"cannot push to {d.url}: it names {what}; push sends what that organisation may read"
        )
    clash = session.scalars(select(Peer).where(or_(Peer.url == d.url, Peer.node_id == d.node_id))).first()
    if clash is not None:
        raise Conflict(f"{d.url} (node {d.node_id}) is already peer {clash.id}")
    pinned = {str(k["id"]): str(k["public_key"]) for k in d.keys}
    peer = Peer(
        id=f"peer--{uuid.uuid4()}",
        url=d.url,
        api_root=d.api_root,
        title=d.title[:200],
        node_id=d.node_id,
        organisation_id=organisation,
        token=secretbox.seal(settings, secretbox.PEER_TOKEN, token),
        username=username.strip().lower() if username else None,
        direction=direction,
        collections=list(collections),
        keys=_key_entries(d.keys, pinned),
        relayed_keys={n: k for n, k in d.relayed.items() if n != local_node},
        timeout_seconds=timeout,
        enabled=True,
        created_by_id=actor.user_id if actor else None,
    )
    session.add(peer)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="exchange:peer:add",
        object_id=peer.id,
        summary={
            "url": peer.url,
            "node": peer.node_id,
            "organisation": organisation,
            "direction": direction,
            "collections": list(collections),
            "keys": sorted(pinned),
            "fingerprint_checked": fingerprint is not None,
        },
    )
    return peer


def get(session: Session, ref: str) -> Peer:
    """A peer by its id, node id or URL; NotFound otherwise."""
    ref = ref.strip()
    peer = session.scalars(
        select(Peer).where(or_(Peer.id == ref, Peer.node_id == ref, Peer.url == ref, Peer.url == ref + "/"))
    ).first()
    if peer is None:
        raise NotFound(f"no peer {ref}")
    return peer


def list_peers(session: Session) -> list[Peer]:
    return list(session.scalars(select(Peer).order_by(Peer.created_at, Peer.id)))


def remove(session: Session, *, actor: Principal | None, ref: str) -> Peer:
    """Forget a peer and its cursors (what was pulled from it stays). Audited `exchange:peer:remove`."""
    peer = get(session, ref)
    for cursor in session.scalars(select(PeerCursor).where(PeerCursor.peer_id == peer.id)):
        session.delete(cursor)
    session.delete(peer)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="exchange:peer:remove",
        object_id=peer.id,
        summary={"url": peer.url, "node": peer.node_id},
    )
    return peer


def refresh_keys(session: Session, *, peer_id: str, discovery: Discovery, local_node: str) -> list[str]:
    """Accept the peer's new keys that chain to a pinned one, and take its relayed keys; the key ids added.

    Audited `exchange:peer:keys` when the pinned keys change."""
    peer = session.get(Peer, peer_id, with_for_update=True)
    if peer is None:
        raise NotFound(f"no peer {peer_id}")
    pinned = {str(k["id"]): str(k["public_key"]) for k in peer.keys}
    published: list[Mapping[str, Any]] = list(discovery.keys)
    accepted = nodes.endorsed_keys(peer.node_id, pinned, published)
    added = sorted(set(accepted) - set(pinned))
    if added:
        known = {k["id"] for k in peer.keys}
        peer.keys = [*peer.keys, *(e for e in _key_entries(discovery.keys, accepted) if e["id"] not in known)]
        audit.record(
            session,
            actor=None,
            tag="exchange:peer:keys",
            object_id=peer.id,
            summary={"node": peer.node_id, "added": added},
        )
    relayed = {n: k for n, k in discovery.relayed.items() if n not in (local_node, peer.node_id)}
    if relayed != peer.relayed_keys:
        peer.relayed_keys = relayed
    return added


def ignored_keys(peer: Peer, discovery: Discovery) -> list[str]:
    """Published key ids that are neither pinned nor endorsed by a pinned key (a warning for the operator)."""
    pinned = {str(k["id"]): str(k["public_key"]) for k in peer.keys}
    published: list[Mapping[str, Any]] = list(discovery.keys)
    accepted = nodes.endorsed_keys(peer.node_id, pinned, published)
    return [str(k["id"]) for k in discovery.keys if k["id"] not in accepted]


def set_enabled(session: Session, *, actor: Principal | None, ref: str, enabled: bool) -> Peer:
    peer = get(session, ref)
    if peer.enabled != enabled:
        peer.enabled = enabled
        audit.record(
            session,
            actor=actor,
            tag=f"exchange:peer:{'enable' if enabled else 'disable'}",
            object_id=peer.id,
            summary={"url": peer.url},
        )
    return peer


def age(since: datetime | None, now: datetime | None = None) -> str:
    """'3 min', '2 h', 'never'."""
    if since is None:
        return "never"
    seconds = max(0.0, ((now or utcnow()) - since).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
