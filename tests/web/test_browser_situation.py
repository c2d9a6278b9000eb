"""The situation dashboard in a real browser: it follows changes made elsewhere without reloading.

Debian's Chromium driven by Playwright against `cybercrisis serve --demo`, as tests/web/test_browser.py does.
CERT-Bund's analyst watches the dashboard; an analyst of CERT.at (Austria, which the demo leaves without a
contribution) changes the Austrian status through the API. Figures are read before and after, never assumed, so
that the demo data may grow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_browser import _free_port, _screenshot, _wait_until_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WATCHER = "analyst@cert-bund.example"
CONTRIBUTOR = "analyst@cert-at.example"
CONTRIBUTOR_ORG = "CERT.at"
COUNTRY = "AT"
LIVE = 15_000  # ms: how long a change may take to show


class Server:
    """`cybercrisis serve --demo` on a free port with its own data directory; it can be killed and started again."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "data"
        self.log_path = tmp_path / "server.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k != "CYBERCRISIS_DATABASE_URL"}
        self.env["CYBERCRISIS_DATA_DIR"] = str(self.data_dir)
        self.process: subprocess.Popen[bytes] | None = None
        self.password = ""
        self.token = ""  # of the contributor, for the API

    def start(self) -> None:
        command = [_command(), "serve", "--demo", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        _wait_until_ready(self.url, self.process, self.log_path)
        if not self.token:
            self.password = json.loads((self.data_dir / "demo-credentials.json").read_text())["password"]
            self.cli(
                "user",
                "create",
                "--org",
                CONTRIBUTOR_ORG,
                "--role",
                "analyst",
                "--email",
                CONTRIBUTOR,
                stdin=self.password,
            )
            self.token = self.cli("token", "create", "--user", CONTRIBUTOR, "--name", "browser test").split()[-1]

    def kill(self) -> None:
        """As in a crash: open connections break at once."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self.process = None

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [_command(), *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=60, check=True
        )
        return done.stdout


def _command() -> str:
    return str(Path(sys.executable).with_name("cybercrisis"))


@pytest.fixture
def server(chromium_path: str, tmp_path: Path) -> Iterator[Server]:
    """The demo server, started only if a browser exists, with an Austrian contributor and their API token."""
    s = Server(tmp_path)
    try:
        s.start()
        yield s
    finally:
        s.stop()


def _api(server: Server, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - our own server
        f"{server.url}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
        result: dict[str, Any] = json.load(response)
        return result


def _contribute(server: Server, status: str) -> dict[str, Any]:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)  # the demo's own period
    return _api(
        server,
        "POST",
        "/api/v1/contributions",
        {
            "country": COUNTRY,
            "period_start": today.isoformat(),
            "period_end": (today + timedelta(days=1)).isoformat(),
            "status": status,
            "outlook": "worsening",
            "sectors": [{"sector": "energy", "impact": "red"}],
            "tlp": "green",
            "share_with": {"communities": ["csirts-network"]},
        },
    )


def _open_dashboard(page: Page, server: Server, errors: list[str]) -> None:
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/situation")
    page.get_by_label("E-mail").fill(WATCHER)
    page.get_by_label("Password").fill(server.password)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{server.url}/situation")
    expect(page.locator("#live-status")).to_contain_text("Live · updated")  # the event stream is open
    page.evaluate("window.__marker = 1")  # gone if the page reloads or navigates


def _tile(page: Page) -> Any:
    """The title (tooltip) of the Austrian tile of the map."""
    return page.locator(".sit-map figure svg g", has=page.locator("title", has_text=f"{COUNTRY}:")).first.locator(
        "title"
    )


def _troubled(page: Page) -> int:
    """How many Member States the headline counts at 'degraded' or worse."""
    found = re.match(r"(\d+) Member States? reports? a degraded", page.locator(".sit-headline").inner_text().strip())
    assert found, page.locator(".sit-headline").inner_text()
    return int(found.group(1))


def _count(n: int) -> str:
    return f"{n} Member State reports" if n == 1 else f"{n} Member States report"


def test_dashboard_shows_a_change_live_and_the_briefing_pdf_is_marked_on_every_page(
    server: Server, page: Page, tmp_path: Path
) -> None:
    errors: list[str] = []
    _open_dashboard(page, server, errors)
    before = _troubled(page)
    expect(_tile(page)).to_have_text(f"{COUNTRY}: no report")
    _screenshot(page, tmp_path, "situation-before")

    # The table under the map is open: it stays open when the live part is swapped.
    page.get_by_role("region", name="Member States by reported status").get_by_text("Show as a table").click()

    _contribute(server, "crisis")
    expect(_tile(page)).to_contain_text(f"{COUNTRY}: crisis", timeout=LIVE)
    expect(page.locator(".sit-headline")).to_contain_text(f"{_count(before + 1)} a degraded or worse status")
    expect(page.locator("#t-map")).to_have_attribute("open", "")
    expect(page.locator("#t-map tbody tr", has_text="Austria")).to_contain_text("crisis")
    expect(page.locator("#live-status")).to_contain_text("Live · updated")
    assert page.evaluate("window.__marker") == 1  # the same document: no reload, no navigation
    shot = _screenshot(page, tmp_path, "situation-live")
    keep = os.environ.get("CYBERCRISIS_DASHBOARD_SHOT")  # a copy for a human to look at
    if keep:
        Path(keep).write_bytes(shot.read_bytes())
    page.set_viewport_size({"width": 768, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 768  # no sideways scrolling of the page
    assert errors == [], errors

    # The published technical report of the demo, downloaded as a briefing from its page.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{server.url}/sitreps?level=technical")
    page.locator("table a[href^='/sitreps/sitrep--']").first.click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download briefing PDF").click()
    pdf = tmp_path / "briefing.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: run `make browser-deps`")
    pages = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert pages
    assert all(re.search(r"TLP:(CLEAR|GREEN|AMBER\+STRICT|AMBER|RED)", p) for p in pages), pages


def test_dashboard_catches_up_after_its_event_stream_was_cut(server: Server, page: Page, tmp_path: Path) -> None:
    errors: list[str] = []
    _open_dashboard(page, server, errors)
    first = _contribute(server, "elevated")
    expect(_tile(page)).to_contain_text(f"{COUNTRY}: elevated", timeout=LIVE)

    # The server crashes; while it is down and while the browser cannot reach the stream, Austria raises its status.
    page.route("**/api/v1/events*", lambda route: route.abort())
    server.kill()
    expect(page.locator("#live-status")).to_have_text("Reconnecting…", timeout=LIVE)
    server.start()
    _api(server, "PATCH", f"/api/v1/contributions/{first['id']}", {"version": first["version"], "status": "crisis"})
    page.wait_for_timeout(3000)  # a reconnection attempt or more, refused
    expect(page.locator("#live-status")).to_have_text("Reconnecting…")
    expect(_tile(page)).to_contain_text(f"{COUNTRY}: elevated")

    # The stream is reachable again: the browser reconnects (with Last-Event-ID) and the page catches up.
    page.unroute("**/api/v1/events*")
    expect(_tile(page)).to_contain_text(f"{COUNTRY}: crisis", timeout=LIVE)
    expect(page.locator("#live-status")).to_contain_text("Live · updated", timeout=LIVE)
    assert page.evaluate("window.__marker") == 1
    # The browser logs its refused reconnection attempts; nothing else may go wrong.
    assert [e for e in errors if "net::ERR_" not in e] == [], errors
