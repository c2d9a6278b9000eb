"""Outbound requests (webhooks, peers) reach only globally routable addresses, unless the operator allows a network.

An organisation administrator chooses a webhook URL, and a peer's discovery chooses the URLs we fetch next: without
this module either could make the server send requests to itself, to a database on 127.0.0.1, to the cloud metadata
service at 169.254.169.254 or into the operator's private network. So every destination address is refused when it
is not globally routable (`refusal`): loopback, link-local, private (RFC 1918, unique local), shared (carrier-grade
NAT), multicast, unspecified and the other special-purpose ranges of the IANA registries, including the IPv6 forms
that carry such an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 64:ff9b::/96, 6to4). The operator allows
networks that outbound requests may reach anyway with CYBERCRISIS_OUTBOUND_ALLOW (a private national network,
10.0.0.0/8; two nodes on one machine, 127.0.0.0/8).

The check is made twice:
- when the destination is set (`check_url`: a route is created, a peer added): an IP literal is checked, a name is
  resolved and every address it has now is checked. A name that does not resolve now is accepted (a receiver may
  be set up before its DNS record); it is checked when the server connects, like every other name;
- when the server connects (`http_client` for httpx, `guard_session` for requests): the address the socket is
  actually connected to is checked, after the TCP handshake and before one byte is sent (no request line, no TLS
  ClientHello, no credentials). It is the address the connection uses, not the answer of an earlier lookup, so a
  name that resolved to a public address when it was checked and resolves to 127.0.0.1 now (DNS rebinding), a
  redirect to another host, and a peer's discovery that names an internal API root are all caught here.

Proxies from the environment (HTTP_PROXY, ...) and .netrc are not used: through a proxy, the address connected to
would be the proxy's, and the proxy would reach the destination unchecked.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from functools import partial
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests
import requests.adapters
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
Allow = tuple[Network, ...]

SETTING = "CYBERCRISIS_OUTBOUND_ALLOW"

_PRIVATE: tuple[Network, ...] = tuple(
    ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")
)  # RFC 1918; RFC 4193 unique local and the deprecated site-local
_SHARED = IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_NAT64 = IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix: the last 32 bits are the IPv4 destination
_IPV4_COMPATIBLE = IPv6Network("::/96")  # deprecated (RFC 4291 2.5.5.1), still routed to IPv4 by some stacks
_GLOBAL_UNICAST = IPv6Network("2000::/3")
# Not globally reachable per the IANA special-purpose registries, and not (or not in every Python release) covered
# by ipaddress's is_global: this network, IETF protocol assignments, documentation, 6to4 relay anycast,
# benchmarking, reserved; discard, local-use NAT64, IETF protocol assignments (Teredo), documentation.
_SPECIAL: tuple[Network, ...] = tuple(
    ip_network(n)
    for n in [
        "0.0.0.0/8",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "100::/64",
        "64:ff9b:1::/48",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
    ]
)


class Refused(Exception):
    """A destination the outbound policy refuses. The message is safe to show to whoever set the destination.

    Deliberately not an OSError: urllib3 and httpx turn OSErrors raised while connecting into their own connection
    errors (and may retry); this one must reach the caller as it is.
    """

    def __init__(self, host: str, reason: str, *, stage: str) -> None:
        self.host, self.reason, self.stage = host, reason, stage
        kind = with_article(reason)
        what = {
            "literal": f"{host} is {kind} address",
            "resolved": f"{host} resolves to {kind} address",
            "connected": f"the connection to {host} reached {kind} address and was closed before anything was sent",
            "proxy": f"{host} is a proxy, and outbound requests go to their destination directly",
        }[stage]
        super().__init__(f"{what}: {policy_text()}")


def policy_text() -> str:
    return f"outbound requests reach such addresses only in networks the server's operator allows ({SETTING})"


def with_article(reason: str) -> str:
    return ("an " if reason[0] in "aeiou" else "a ") + reason


def parse_allow(value: str) -> Allow:
    """The networks of CYBERCRISIS_OUTBOUND_ALLOW (comma-separated CIDR; a bare address is one host)."""
    networks: list[Network] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ip_network(item))
        except ValueError as exc:
            raise ValueError(
                f"{SETTING}: {item!r} is not a network in CIDR notation such as 10.0.0.0/8 or fd00::/8 ({exc})"
            ) from None
    return tuple(networks)


def _embedded_ipv4(address: IPv6Address) -> tuple[IPv4Address, str] | None:
    """The IPv4 address an IPv6 address stands for, and the form: what the packets would actually reach."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped, "IPv4-mapped"
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address.sixtofour is not None:
        return address.sixtofour, "6to4"
    if address in _IPV4_COMPATIBLE and int(address) > 1:  # not :: and ::1, which are themselves
        return IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-compatible"
    return None


def address_class(address: Address) -> str | None:
    """Why `address` is not globally routable ('loopback', 'private', ...), or None when it is."""
    address = _unscoped(address)
    if isinstance(address, IPv6Address) and not (address.is_unspecified or address.is_loopback):
        inner = _embedded_ipv4(address)
        if inner is not None:
            why = address_class(inner[0])
            return f"{why} ({inner[1]})" if why else None
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "unspecified"),
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, IPv4Address) and address in _SHARED, "shared (carrier-grade NAT)"),
        (any(address in n for n in _PRIVATE), "private"),
        (
            not address.is_global
            or any(address in n for n in _SPECIAL)
            or (isinstance(address, IPv6Address) and address not in _GLOBAL_UNICAST),
            "special-purpose",
        ),
    )
    return next((why for hit, why in checks if hit), None)


def _unscoped(address: Address) -> Address:
    """An IPv6 zone (fe80::1%eth0) says which interface, not where: it plays no part in the decision."""
    if isinstance(address, IPv6Address) and address.scope_id:
        return IPv6Address(str(address).split("%", 1)[0])
    return address


def _allowed(address: Address, allow: Allow) -> bool:
    address = _unscoped(address)
    candidates: list[Address] = [address]
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        # The same destination (a dual-stack socket reports 127.0.0.1 so). NAT64, 6to4 and IPv4-compatible forms
        # go through a gateway instead: they are allowed by an IPv6 network only.
        candidates.append(address.ipv4_mapped)
    return any(a in n for a in candidates for n in allow if a.version == n.version)


def refusal(address: Address, allow: Allow = ()) -> str | None:
    """The class of address refused ('loopback', ...), or None when outbound requests may reach it."""
    why = address_class(address)
    return None if why is None or _allowed(address, allow) else why


def check_url(url: str, allow: Allow) -> None:
    """Refuse (Refused) a URL whose host is, or now resolves to, an address the policy refuses.

    A name that does not resolve now is accepted: the connection made later is checked all the same. The lookup is
    the system resolver's, with its own timeout.
    """
    host = urlsplit(url).hostname
    if not host:
        return
    try:
        literal: Address | None = ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        why = refusal(literal, allow)
        if why:
            raise Refused(host, why, stage="literal")
        return
    try:
        # Also what turns 2130706433, 0x7f.1 or 127.1 into 127.0.0.1, as the connection would.
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return
    for info in infos:
        why = refusal(ip_address(str(info[4][0]).split("%", 1)[0]), allow)
        if why:
            raise Refused(host, why, stage="resolved")


def check_peer(sock: socket.socket | None, *, host: str, allow: Allow) -> None:
    """Refuse (Refused, after closing the socket) a connection whose far end the policy refuses."""
    try:
        why = refusal(ip_address(str(sock.getpeername()[0]).split("%", 1)[0]), allow) if sock else "unknown"
    except (OSError, ValueError):
        why = "unknown"
    if why:
        if sock is not None:
            sock.close()
        raise Refused(host, why, stage="connected")


# --- httpx (webhooks) ---------------------------------------------------------------------------------------------


def _trace(name: str, info: Mapping[str, Any], *, host: str, allow: Allow) -> None:
    # httpcore reports each new connection once it is connected and before TLS or the request are started.
    if name.endswith(".connect_tcp.complete"):
        stream = info["return_value"]
        try:
            check_peer(stream.get_extra_info("socket"), host=host, allow=allow)
        except Refused:
            stream.close()
            raise


def http_client(allow: Allow, *, timeout: float) -> httpx.Client:
    """An httpx client whose every new connection is checked by `check_peer`; it follows no redirect.

    The check is httpcore's public `trace` request extension, set on every request by an event hook: its
    `connection.connect_tcp.complete` event carries the connected stream before anything is written to it, and an
    exception raised there ends the request.
    """

    def vet(request: httpx.Request) -> None:
        request.extensions["trace"] = partial(_trace, host=request.url.host, allow=allow)

    return httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, event_hooks={"request": [vet]})


# --- requests / urllib3 (peers, taxii2-client) ----------------------------------------------------------------------


def _pool_classes(allow: Allow) -> dict[str, type[HTTPConnectionPool]]:
    """urllib3 pools whose connections check the far end of each new socket before it is used.

    urllib3 has no public hook between the TCP connect and the first byte (for HTTPS, `connect()` opens the socket
    and starts TLS in one call); `_new_conn()` is where every urllib3 release opens the socket, so the check wraps
    it. Should a urllib3 release stop calling it, the refusal tests (tests/test_outbound.py, tests/exchange) fail.
    """

    class Plain(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            check_peer(sock, host=self.host, allow=allow)
            return sock

    class Tls(Plain, HTTPSConnection):
        """HTTPS: the same checked connect (Plain._new_conn) before the TLS handshake."""

    class PlainPool(HTTPConnectionPool):
        ConnectionCls = Plain

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = Tls

    return {"http": PlainPool, "https": TlsPool}


class _Adapter(requests.adapters.HTTPAdapter):
    def __init__(self, allow: Allow) -> None:
        self.allow = allow  # before super().__init__, which builds the pool manager
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allow)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        # Through a proxy the checked address would be the proxy's: no proxy is ever configured (see the module).
        raise Refused(proxy, "proxy", stage="proxy")


def guard_session(session: requests.Session, allow: Allow) -> requests.Session:
    """Make every connection of `session` checked by `check_peer`; no proxy or .netrc from the environment.

    Redirects are followed as requests does, and each hop's connection is checked like the first.
    """
    session.trust_env = False
    adapter = _Adapter(allow)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
