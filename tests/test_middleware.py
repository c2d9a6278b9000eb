"""What every answer carries (Cache-Control) and who the client is behind trusted proxies (issue 12)."""

from __future__ import annotations

import ipaddress
import re

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from cybercrisis.config import Settings
from cybercrisis.middleware import client_address
from tests.conftest import World

# --- Cache-Control -----------------------------------------------------------------------------------------------


def _sign_in(client: TestClient, email: str, password: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    r = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def test_api_taxii_and_signed_in_pages_are_never_stored_by_caches(client: TestClient, world: World) -> None:
    world.org("CERT-FR", country="FR", communities=("csirts-network",))
    user = world.user("CERT-FR", password="correct horse battery")
    answers = {
        "api": client.get("/api/v1/me", headers=user.headers),
        "api error": client.get(
            "/api/v1/incidents/incident--00000000-0000-4000-8000-000000000000", headers=user.headers
        ),
        "taxii": client.get("/taxii2/", headers={**user.headers, "Accept": "application/taxii+json;version=2.1"}),
        "login page": client.get("/login"),
    }
    _sign_in(client, user.email, "correct horse battery")
    answers["signed-in page"] = client.get("/")
    answers["situation page"] = client.get("/situation")
    for what, r in answers.items():
        assert r.status_code < 500, (what, r.text)
        assert r.headers.get("cache-control") == "no-store", what


def test_static_assets_the_public_page_and_health_checks_stay_cacheable(client: TestClient) -> None:
    for path in ("/static/app.css", "/public", "/public/feed.xml", "/healthz", "/readyz"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "no-store" not in r.headers.get("cache-control", ""), path
    assert client.get("/public").headers["cache-control"] == "public, max-age=60"


# --- the client behind trusted proxies ---------------------------------------------------------------------------

PROXIES = (ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("2001:db8:1::/48"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # no proxy configured or not from one: the connecting address, whatever X-Forwarded-For says
        ("198.51.100.7", ["203.0.113.1"], "198.51.100.7"),
        # from a trusted proxy: the address it saw
        ("10.0.0.5", ["198.51.100.7"], "198.51.100.7"),
        # the client's own X-Forwarded-For is left of what the proxy appended: never believed
        ("10.0.0.5", ["6.6.6.6, 198.51.100.7"], "198.51.100.7"),
        # several trusted proxies in a row, over several header lines
        ("10.0.0.5", ["6.6.6.6, 198.51.100.7", "10.0.0.9"], "198.51.100.7"),
        # ports and IPv6 brackets as some proxies write them
        ("10.0.0.5", ["[2001:db8:2::7]:4431"], "2001:db8:2::7"),
        ("2001:db8:1::1", ["198.51.100.7:51000"], "198.51.100.7"),
        # only proxies on the way: the left-most of them
        ("10.0.0.5", ["10.0.0.7, 10.0.0.8"], "10.0.0.7"),
        # a trusted proxy that forwarded nothing is the client
        ("10.0.0.5", [], "10.0.0.5"),
    ],
)
def test_the_client_is_the_right_most_address_not_a_trusted_proxy(peer: str, forwarded: list[str], client: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == client


def test_forwarded_for_is_ignored_when_no_proxy_is_trusted() -> None:
    assert client_address("10.0.0.5", ["198.51.100.7"], ()) == "10.0.0.5"


def test_an_invalid_trusted_proxy_setting_stops_the_start_with_its_reason() -> None:
    assert Settings(trusted_proxies=" 10.0.0.0/24, 192.0.2.1 ,2001:db8::/32").trusted_proxy_networks == (
        ipaddress.ip_network("10.0.0.0/24"),
        ipaddress.ip_network("192.0.2.1/32"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    with pytest.raises(ValidationError, match=r"trusted_proxies[\s\S]*'nginx' is not an IP address or network"):
        Settings(trusted_proxies="10.0.0.1,nginx")
