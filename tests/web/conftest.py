"""Signing in through the login form, and the CSRF token that every page form carries."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response  # what starlette.testclient returns
from playwright.sync_api import Page, sync_playwright

from tests.conftest import Actor, World

PASSWORD = "correct horse battery"
HTML = {"Accept": "text/html"}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium_path() -> str:
    """Debian's Chromium (`make browser-deps`); browser tests need it and never download a browser."""
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian chromium not installed: run `make browser-deps`")
    return path


@pytest.fixture
def page(chromium_path: str) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            tab = context.new_page()
            tab.set_default_timeout(15_000)
            yield tab
            context.close()
        finally:
            browser.close()


def csrf_on(client: TestClient, path: str) -> str:
    """The token of the forms on a page (on /login, the login form's own)."""
    page = client.get(path, headers=HTML)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    token = csrf_on(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/"},
        headers=HTML,
        follow_redirects=False,
    )


@pytest.fixture
def fr(world: World) -> Actor:
    """An organisation admin of a French CSIRT in the CSIRTs Network, not signed in yet."""
    world.org("CERT-XF", country="FR", communities=("csirts-network",))
    return world.user("CERT-XF", roles=("org-admin",))


@pytest.fixture
def signed_in(client: TestClient, fr: Actor) -> TestClient:
    assert sign_in(client, fr.email).status_code == 303
    return client


@pytest.fixture
def cast(world: World, fr: Actor) -> dict[str, Actor]:
    """CERT-XF (FR, the signed-in side), CERT-XB (DE) and CERT-XE (EE) in the CSIRTs Network, and an outsider."""
    world.org("CERT-XB", country="DE", communities=("csirts-network",))
    world.org("CERT-XE", country="EE", communities=("csirts-network",))
    world.org("Outsider", type_="partner", country=None)
    return {
        "fr": fr,
        "de": world.user("CERT-XB"),
        "ee": world.user("CERT-XE"),
        "out": world.user("Outsider"),
        "viewer": world.user("CERT-XF", roles=("viewer",)),
        "de_viewer": world.user("CERT-XB", roles=("viewer",)),
    }
