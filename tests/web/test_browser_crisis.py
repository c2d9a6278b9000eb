"""Crisis coordination in a real browser, as the people involved do it, against `cybercrisis serve --demo`.

Three walks, by several users signing in and out: a statement from draft through its approvals to its release at
the embargo time (by the server's own job runner, while the other walks go on), a crisis from opening to
escalation into IPCR with the Presidency's agreement, and an assistance request from the ask to an accepted offer.
Debian's Chromium driven by Playwright, as tests/web/test_browser.py does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.test_browser import _free_port, _screenshot, _wait_until_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ENISA = "coordinator@enisa.example"
PRESIDENCY = "duty@council-presidency.example"
FR_CRISIS = "duty@anssi-crisis.example"
DE = "analyst@cert-bund.example"
RELEASE_WAIT = 150.0  # s: the embargo is at most two minutes ahead; the release job runs every 5 s


@dataclass
class Demo:
    url: str
    password: str


@pytest.fixture
def demo(chromium_path: str, tmp_path: Path) -> Iterator[Demo]:
    """The demo server with its job runner on (it releases statements at their embargo time)."""
    data_dir = tmp_path / "data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "CYBERCRISIS_DATABASE_URL"}
    env |= {"CYBERCRISIS_DATA_DIR": str(data_dir), "CYBERCRISIS_JOBS_ENABLED": "true"}
    command = [
        str(Path(sys.executable).with_name("cybercrisis")),
        "serve",
        "--demo",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_ready(f"http://127.0.0.1:{port}", process, log_path)
            password = json.loads((data_dir / "demo-credentials.json").read_text())["password"]
            yield Demo(f"http://127.0.0.1:{port}", password)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _as(page: Page, demo: Demo, email: str, path: str) -> None:
    """Sign out whoever is signed in, and sign in as `email` on `path`."""
    page.context.clear_cookies()
    page.goto(f"{demo.url}{path}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(demo.password)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{demo.url}{path}")


def _minute_after_next(now: datetime) -> datetime:
    """The embargo: a whole minute (the form takes minutes) at least a minute ahead, so approvals come first."""
    return (now + timedelta(minutes=2)).replace(second=0, microsecond=0)


def test_statement_crisis_and_assistance_walked_through_by_the_people_involved(
    demo: Demo, page: Page, tmp_path: Path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # --- a statement: drafted by ENISA, to be approved by ENISA and the French crisis authority ----------------
    _as(page, demo, ENISA, "/communications/new")
    title = "Joint statement: recovery of hospital services"
    embargo = _minute_after_next(datetime.now(UTC))
    form = page.locator("#communication-form")
    form.get_by_label("Crisis").select_option(
        label="Coordinated ransomware campaign against hospitals and energy operators"
    )
    form.get_by_label("Title", exact=False).first.fill(title)
    form.get_by_label("Text (required)").fill("Hospital services affected by the ransomware campaign are restored.")
    form.get_by_label("Organisations that must approve it").select_option(
        label=[
            "ENISA — European Union Agency for Cybersecurity (ENISA)",
            "ANSSI-CRISIS — ANSSI — cyber crisis management authority (FR)",
        ]
    )
    form.get_by_label("Embargo until (UTC)").fill(embargo.strftime("%Y-%m-%dT%H:%M"))
    form.get_by_role("button", name="Save draft").click()
    expect(page.locator("h1")).to_contain_text(title)
    statement_url = page.url.split("?")[0]
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("main")).to_contain_text("Waiting for 1 approval: ANSSI-CRISIS")
    _as(page, demo, FR_CRISIS, statement_url.removeprefix(demo.url))
    page.get_by_role("button", name="Approve").click()
    # All approvals are in, the embargo is not over: it is not public yet, and the page says when it will be.
    expect(page.locator("main")).to_contain_text(f"Embargoed until {embargo:%Y-%m-%d %H:%M} UTC")
    expect(page.locator("main")).not_to_contain_text("Waiting for")
    page.goto(f"{demo.url}/public")
    expect(page.locator("main")).not_to_contain_text(title)

    # --- a crisis: opened by ENISA, up to EU-CyCLONe at once, to IPCR with the Presidency's agreement ------------
    _as(page, demo, ENISA, "/crises/new")
    page.get_by_label("Title (required)").fill("Wiper attacks on telecom operators")
    page.get_by_label("Why this is a crisis (required)").fill("Outages in three Member States at once.")
    page.get_by_label("Significant impact in two or more Member States").check()
    page.get_by_role("button", name="Open the crisis").click()
    expect(page.locator("h1")).to_contain_text("Wiper attacks on telecom operators")
    crisis_path = page.url.removeprefix(demo.url).split("?")[0]
    overview = page.locator("#overview")
    expect(overview).to_contain_text("Technical level")

    def propose(stage: str, why: str) -> None:
        page.locator("summary", has_text="Propose a move on the scale").click()
        escalate = page.locator("#escalate-form")
        escalate.get_by_label("Move to").select_option(stage)
        escalate.get_by_label("Why").fill(why)
        escalate.get_by_role("button", name="Propose").click()

    propose("eu-cyclone", "National capacity is stretched in three Member States.")
    expect(overview).to_contain_text("Operational level")
    propose("ipcr-information-sharing", "Political attention needed across the Union.")
    expect(page.locator("#escalations")).to_contain_text("Council Presidency")  # waits for its agreement
    expect(overview).to_contain_text("Operational level")
    # The Presidency learns that its agreement is needed from My work (the navigation's count, filled by the page's
    # script from the API), and agrees there, after reading why.
    _as(page, demo, PRESIDENCY, "/my-work")
    badge = page.locator("nav [data-live-count]")
    expect(badge).to_be_visible()
    expect(badge).to_contain_text("1")
    item = page.locator(".work-item", has_text="Wiper attacks on telecom operators")
    expect(item).to_contain_text("Agreement to a crisis move")
    expect(item).to_contain_text("Political attention needed across the Union.")
    item.get_by_label("Comment (optional)").fill("IPCR information sharing activated.")
    item.get_by_role("button", name="Agree", exact=True).click()
    expect(page.locator("main")).to_contain_text("the crisis moved")
    expect(page.locator(".work-item", has_text="Wiper attacks on telecom operators")).to_have_count(0)
    expect(badge).to_be_hidden()
    page.goto(f"{demo.url}{crisis_path}")
    expect(overview).to_contain_text("Political level")
    expect(page.locator("#decisions")).to_contain_text("IPCR: information-sharing mode")
    _screenshot(page, tmp_path, "crisis-room-escalated")

    # --- assistance: the French crisis authority asks, CERT-Bund offers, the request is in support ------------
    _as(page, demo, FR_CRISIS, "/assistance/new")
    ask = page.locator("#assistance-form")
    ask.get_by_label("Forensics").check()
    ask.get_by_label("Description (required)").fill("OT forensics for a water utility hit by the wiper.")
    ask.get_by_label("Impact", exact=True).select_option("red")  # a judgement: nothing is preselected
    ask.get_by_label("CSIRTs Network").check()
    ask.get_by_role("button", name="Send request").click()
    expect(page.locator("main")).to_contain_text("OT forensics for a water utility")
    request_path = page.url.removeprefix(demo.url).split("?")[0]
    _as(page, demo, DE, request_path)
    offer = page.locator("#offer-form")
    offer.get_by_label("Capability").select_option("forensics")
    offer.get_by_label("People").fill("2")
    offer.get_by_label("Available from (UTC)").fill((datetime.now(UTC) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    offer.get_by_label("Conditions").fill("Travel paid by the requester.")
    offer.get_by_role("button", name="Offer").click()
    expect(page.locator("main")).to_contain_text("Travel paid by the requester.")
    _as(page, demo, FR_CRISIS, request_path)
    page.locator("#decide-form-1").get_by_role("button", name="Accept").click()
    expect(page.locator("main")).to_contain_text("In support")

    # --- the statement came out at its embargo time, by the job runner, without anyone pressing a button ------
    deadline = time.monotonic() + RELEASE_WAIT
    page.goto(statement_url)
    while "Statement Released" not in page.locator("main").inner_text() and time.monotonic() < deadline:
        page.wait_for_timeout(2_000)  # the page does not follow changes by itself: look again, as a person would
        page.reload()
    expect(page.locator("main")).to_contain_text("Statement Released")
    assert datetime.now(UTC) >= embargo
    page.goto(f"{demo.url}/public")
    page.get_by_role("link", name=title).click()
    expect(page.locator("main")).to_contain_text("Hospital services affected by the ransomware campaign are restored.")
    feed = page.request.get(f"{demo.url}/public/feed.xml")
    assert feed.ok and title in feed.text()
    assert errors == [], errors


def test_a_decision_appears_in_another_readers_crisis_room_without_reloading(demo: Demo, page: Page) -> None:
    """Issue 19: ENISA moves its crisis up to EU-CyCLONe, which the decision log records; CERT-Bund, with the same
    room open in a second browser, sees the decision and the new level appear (the room listens to the event
    stream and swaps in the parts that changed), with the navigation's count updated, and without its page being
    reloaded. A form CERT-Bund is typing in is kept as typed."""
    errors: list[str] = []
    _as(page, demo, ENISA, "/crises/new")
    page.get_by_label("Title (required)").fill("Wiper attacks on satellite ground stations")
    page.get_by_label("Why this is a crisis (required)").fill("Outages in two Member States at once.")
    page.get_by_label("Significant impact in two or more Member States").check()
    page.get_by_role("button", name="Open the crisis").click()
    expect(page.locator("h1")).to_contain_text("Wiper attacks on satellite ground stations")
    expect(page.locator("#overview .done-note")).to_contain_text("The crisis is open")
    crisis_path = page.url.removeprefix(demo.url).split("?")[0]

    browser = page.context.browser
    assert browser is not None
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        second = other.new_page()
        second.set_default_timeout(15_000)
        second.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        second.on("pageerror", lambda e: errors.append(str(e)))
        _as(second, demo, DE, crisis_path)
        expect(second.locator("#live-status")).to_have_text("Live")
        expect(second.locator("#room-nav")).to_contain_text("Decisions (0)")
        second.evaluate("window.__notReloaded = true")
        # CERT-Bund starts adding an action: what it typed must survive the update.
        second.locator("summary", has_text="Add an action").click()
        second.locator("#a-title").fill("Check our own ground stations")

        page.locator("summary", has_text="Propose a move on the scale").click()
        escalate = page.locator("#escalate-form")
        escalate.get_by_label("Move to").select_option("eu-cyclone")
        escalate.get_by_label("Why").fill("National capacity is stretched in two Member States.")
        escalate.get_by_role("button", name="Propose").click()
        expect(page.locator("#escalations .done-note")).to_contain_text("The crisis moved to its new stage")

        expect(second.locator("#decisions")).to_contain_text("National capacity is stretched in two Member States.")
        expect(second.locator("#overview")).to_contain_text("Operational level")
        expect(second.locator("#room-nav")).to_contain_text("Decisions (1)")
        expect(second.locator("#live-status")).to_contain_text("updated")
        assert second.evaluate("window.__notReloaded === true")
        expect(second.locator("#a-title")).to_have_value("Check our own ground stations")
    finally:
        other.close()
    assert errors == [], errors
