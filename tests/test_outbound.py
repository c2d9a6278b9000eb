"""The outbound policy: which addresses webhooks and peers may reach, checked when set and again on connect."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any

import httpx
import pytest
import requests
from pydantic import ValidationError

from cybercrisis import outbound
from cybercrisis.config import Settings

LOOPBACK_ALLOWED = outbound.parse_allow("127.0.0.0/8,::1/128")
PUBLIC = "93.184.216.34"


class Recorder:
    """An HTTP server on `host` that records every request it receives; `answer` decides the response."""

    def __init__(self, host: str = "127.0.0.1", answer: Callable[[BaseHTTPRequestHandler], None] | None = None):
        self.requests: list[tuple[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                recorder.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length", "0"))
                if length:
                    self.rfile.read(length)
                if answer is not None:
                    answer(self)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_GET = do_POST = _any  # noqa: N815 - BaseHTTPRequestHandler's names

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
                """Quiet: the test reads what arrived."""

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, str]) -> None:
    """Resolve the given names to the given addresses (as a hostile DNS server would); others as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in names:
            return real(names[host], port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --- which addresses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%2", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "shared (carrier-grade NAT)"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to classify, not one to bind
        ("::", "unspecified"),
        ("0.1.2.3", "special-purpose"),
        ("192.0.2.1", "special-purpose"),
        ("198.18.0.1", "special-purpose"),
        ("240.0.0.1", "special-purpose"),
        ("255.255.255.255", "special-purpose"),
        ("2001:db8::1", "special-purpose"),
        ("2001::1", "special-purpose"),  # Teredo
        ("64:ff9b:1::1", "special-purpose"),
        ("::ffff:127.0.0.1", "loopback (IPv4-mapped)"),
        ("::ffff:169.254.169.254", "link-local (IPv4-mapped)"),
        ("::ffff:10.0.0.1", "private (IPv4-mapped)"),
        ("::127.0.0.1", "loopback (IPv4-compatible)"),
        ("64:ff9b::169.254.169.254", "link-local (NAT64)"),
        ("64:ff9b::10.0.0.1", "private (NAT64)"),
        ("2002:7f00:1::1", "loopback (6to4)"),
        (PUBLIC, None),
        ("2606:4700:4700::1111", None),
        (f"::ffff:{PUBLIC}", None),
        (f"64:ff9b::{PUBLIC}", None),
    ],
)
def test_every_address_that_is_not_globally_routable_is_refused_with_its_class(address: str, why: str | None) -> None:
    assert outbound.refusal(ip_address(address)) == why


def test_allowed_networks_let_their_addresses_through_and_only_those() -> None:
    allow = outbound.parse_allow(" 127.0.0.0/8 , 10.0.0.0/8,fd00::/8,")
    assert [str(n) for n in allow] == ["127.0.0.0/8", "10.0.0.0/8", "fd00::/8"]
    for address in ("127.0.0.1", "::ffff:127.0.0.1", "10.200.0.1", "::ffff:10.0.0.1", "fd00::5"):
        assert outbound.refusal(ip_address(address), allow) is None, address
    assert outbound.refusal(ip_address("::1"), allow) == "loopback"
    assert outbound.refusal(ip_address("64:ff9b::10.0.0.1"), allow) == "private (NAT64)"  # a gateway's business
    assert outbound.refusal(ip_address("169.254.169.254"), allow) == "link-local"
    assert outbound.refusal(ip_address("192.168.0.1"), allow) == "private"
    assert outbound.parse_allow("") == ()


@pytest.mark.parametrize("value", ["10.0.0.0/33", "10.1.2.3/8", "intranet", "10.0.0.0/8;192.168.0.0/16"])
def test_a_bad_network_in_the_allow_list_stops_the_settings_naming_it(value: str) -> None:
    with pytest.raises(ValidationError, match="CYBERCRISIS_OUTBOUND_ALLOW") as caught:
        Settings(outbound_allow=value)
    assert repr(value.split(",", maxsplit=1)[0]) in str(caught.value)
    assert Settings(outbound_allow="10.0.0.0/8, ::1").outbound_networks == outbound.parse_allow("10.0.0.0/8,::1/128")


# --- when a destination is set -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("http://[::1]:8000/", "::1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1 is a loopback (IPv4-mapped) address"),
        ("https://10.1.2.3/hook", "10.1.2.3 is a private address"),
        ("http://localhost:8000/api/v1/me", "localhost resolves to a loopback address"),
        ("http://2130706433/", "2130706433 resolves to a loopback address"),  # 127.0.0.1 as one number
        ("http://0x7f.1/", "0x7f.1 resolves to a loopback address"),
    ],
)
def test_a_url_aimed_at_a_refused_address_is_refused_with_the_setting_to_allow_it(url: str, message: str) -> None:
    with pytest.raises(outbound.Refused, match="CYBERCRISIS_OUTBOUND_ALLOW") as caught:
        outbound.check_url(url, ())
    assert str(caught.value).startswith(message)


def test_a_name_is_refused_when_any_of_its_addresses_is(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def two_addresses(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hooks.partner.example":
            return [*real(PUBLIC, port, *args, **kwargs), *real("10.9.8.7", port, *args, **kwargs)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_addresses)
    with pytest.raises(outbound.Refused, match=r"hooks\.partner\.example resolves to a private address"):
        outbound.check_url("https://hooks.partner.example/in", ())
    outbound.check_url("https://hooks.partner.example/in", outbound.parse_allow("10.0.0.0/8"))


def test_public_and_allowed_and_not_yet_resolvable_destinations_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"hooks.partner.example": PUBLIC})
    outbound.check_url("https://hooks.partner.example/in", ())
    outbound.check_url(f"http://{PUBLIC}:8080/in", ())
    outbound.check_url("http://127.0.0.1:5432/", LOOPBACK_ALLOWED)
    outbound.check_url("http://localhost:8000/", LOOPBACK_ALLOWED)
    # Not in DNS yet: accepted now, and checked on every connection (below).
    outbound.check_url("https://soc.not-yet-in-dns.example/hook", ())


# --- when the server connects ------------------------------------------------------------------------------------


def test_httpx_client_refuses_a_refused_address_before_sending_anything(recorder: Recorder) -> None:
    url = f"http://127.0.0.1:{recorder.port}/hook"
    with outbound.http_client((), timeout=5) as client, pytest.raises(outbound.Refused) as caught:
        client.post(url, content=b"{}")
    assert str(caught.value).startswith("the connection to 127.0.0.1 reached a loopback address")
    assert recorder.requests == []
    with outbound.http_client(LOOPBACK_ALLOWED, timeout=5) as client:
        assert client.post(url, content=b"{}").status_code == 200
    assert recorder.requests == [("POST", "/hook")]


def test_httpx_client_checks_the_address_connected_to_not_the_one_checked_earlier(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"http://hooks.partner.example:{recorder.port}/hook"
    fake_dns(monkeypatch, {"hooks.partner.example": PUBLIC})
    outbound.check_url(url, ())  # public when the route is set up ...
    fake_dns(monkeypatch, {"hooks.partner.example": "127.0.0.1"})  # ... loopback when the server connects
    with outbound.http_client((), timeout=5) as client, pytest.raises(outbound.Refused, match="loopback"):
        client.post(url, content=b"{}")
    assert recorder.requests == []


def test_httpx_client_follows_no_redirect_and_takes_no_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", "http://127.0.0.1:9/elsewhere")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server = Recorder(answer=redirect)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    try:
        with outbound.http_client(LOOPBACK_ALLOWED, timeout=5) as client:
            assert client.post(f"http://127.0.0.1:{server.port}/hook", content=b"{}").status_code == 307
    finally:
        server.close()
    assert server.requests == [("POST", "/hook")]


def test_requests_session_refuses_a_refused_address_before_sending_anything(recorder: Recorder) -> None:
    url = f"http://127.0.0.1:{recorder.port}/taxii2/"
    with outbound.guard_session(requests.Session(), ()) as session, pytest.raises(outbound.Refused) as caught:
        session.get(url, timeout=5)
    assert str(caught.value).startswith("the connection to 127.0.0.1 reached a loopback address")
    assert recorder.requests == []
    with outbound.guard_session(requests.Session(), LOOPBACK_ALLOWED) as session:
        assert session.get(url, timeout=5).status_code == 200
    assert recorder.requests == [("GET", "/taxii2/")]


def test_requests_session_refuses_a_redirect_to_a_refused_address() -> None:
    inside = Recorder(host="127.0.0.2")  # loopback, but outside the one address allowed below

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", f"http://127.0.0.2:{inside.port}/taxii2/")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    front = Recorder(answer=redirect)
    try:
        allow = outbound.parse_allow("127.0.0.1/32")
        with outbound.guard_session(requests.Session(), allow) as session, pytest.raises(outbound.Refused) as caught:
            session.get(f"http://127.0.0.1:{front.port}/taxii2/", timeout=5)
    finally:
        front.close()
        inside.close()
    assert str(caught.value).startswith("the connection to 127.0.0.2 reached a loopback address")
    assert front.requests == [("GET", "/taxii2/")]
    assert inside.requests == []


def test_httpx_refusal_is_not_mistaken_for_a_network_error() -> None:
    # deliver.describe and the peers' messages rely on it reaching them as itself.
    assert not issubclass(outbound.Refused, OSError | httpx.HTTPError | requests.RequestException)
