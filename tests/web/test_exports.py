"""The export links of the pages (issue 19): every early warning and situation report page a reader opens offers
its STIX 2.1 bundle, served to the reader's own session, and what the link serves is what the API serves them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis import demo
from cybercrisis.config import Settings
from cybercrisis.db import unit_of_work
from tests.conftest import bearer_of
from tests.web.conftest import HTML, sign_in

ANALYST = "analyst@cert-bund.example"


@pytest.fixture
def demo_db(session_factory: sessionmaker[Session], settings: Settings) -> demo.DemoResult:
    with unit_of_work(session_factory) as s:
        return demo.load(s, data_dir=settings.data_dir)


def test_alert_and_sitrep_pages_link_their_stix_export(
    demo_db: demo.DemoResult, client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    headers = bearer_of(session_factory, ANALYST)
    # The demo holds no early warning: CERT-FR sends one to the CSIRTs Network.
    sent = client.post(
        "/api/v1/alerts",
        json={"title": "Same VPN exploit", "tlp": "green", "recipients": {"communities": ["csirts-network"]}},
        headers=bearer_of(session_factory, "analyst@cert-fr.example"),
    )
    assert sent.status_code == 201, sent.text
    assert sign_in(client, ANALYST, demo_db.password).status_code == 303
    checked = 0
    for listing, kind in (("/alerts", "alerts"), ("/sitreps", "sitreps")):
        ids = sorted(
            set(re.findall(rf'href="/{kind}/({kind[:-1]}--[0-9a-f-]+)"', client.get(listing, headers=HTML).text))
        )
        assert ids, listing
        for oid in ids:
            page = client.get(f"/{kind}/{oid}", headers=HTML)
            assert page.status_code == 200, oid
            link = re.search(rf'href="(/api/v1/{kind}/{oid}/stix[^"]*)"', page.text)
            assert link, f"no STIX link on /{kind}/{oid}"
            by_page = client.get(link.group(1).replace("&amp;", "&"))  # the session cookie, as the browser sends it
            assert by_page.status_code == 200 and by_page.json()["type"] == "bundle", oid
            assert by_page.content == client.get(link.group(1).replace("&amp;", "&"), headers=headers).content
            checked += 1
    assert checked >= 2
