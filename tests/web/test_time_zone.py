"""A user's time zone for the pages (issue 19): stored per user, audited, offered on the account page; the pages
carry it for their script, which shows times in it with UTC on hover (tests/web/test_browser.py checks that)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.accounts.models import User
from cybercrisis.audit.models import AuditEvent
from tests.conftest import Actor
from tests.web.conftest import HTML, csrf_on

PAGE = "/account/tokens"


def test_a_user_chooses_a_time_zone_and_every_page_carries_it(signed_in: TestClient, fr: Actor, db: Session) -> None:
    page = signed_in.get(PAGE, headers=HTML).text
    assert '<option value="" selected>UTC (as recorded)</option>' in page
    assert page.index('value="Europe/Paris"') < page.index('value="America/New_York"')  # Europe's zones first
    assert "data-time-zone" not in signed_in.get("/", headers=HTML).text
    r = signed_in.post(
        "/account/time-zone",
        data={"csrf_token": csrf_on(signed_in, PAGE), "time_zone": "Europe/Paris"},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/tokens?saved=time-zone#time-zone"
    assert "Saved: times are shown in Europe/Paris." in signed_in.get(r.headers["location"], headers=HTML).text
    assert '<body data-time-zone="Europe/Paris">' in signed_in.get("/incidents", headers=HTML).text
    db.rollback()
    assert db.scalar(select(User.time_zone).where(User.id == fr.user_id)) == "Europe/Paris"
    [event] = db.scalars(select(AuditEvent).where(AuditEvent.tag == "accounts:user:time-zone")).all()
    assert json.loads(event.summary) == {"time_zone": ["UTC", "Europe/Paris"]}
    # Back to UTC.
    r = signed_in.post(
        "/account/time-zone", data={"csrf_token": csrf_on(signed_in, PAGE), "time_zone": ""}, headers=HTML
    )
    assert "data-time-zone" not in signed_in.get("/incidents", headers=HTML).text


def test_a_zone_that_does_not_exist_is_refused_next_to_the_field(signed_in: TestClient, fr: Actor, db: Session) -> None:
    r = signed_in.post(
        "/account/time-zone",
        data={"csrf_token": csrf_on(signed_in, PAGE), "time_zone": "Europe/Atlantis"},
        headers=HTML,
    )
    assert r.status_code == 422 and 'id="f-time-zone-error"' in r.text
    db.rollback()
    assert db.scalar(select(User.time_zone).where(User.id == fr.user_id)) == ""
