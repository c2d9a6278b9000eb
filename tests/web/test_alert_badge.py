"""The navigation's pending-alert badge is cached per reader (web/badge.py) and right at once after a change."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import Actor
from tests.test_query_counts import count_queries
from tests.web.conftest import HTML, sign_in
from tests.web.test_alert_pages import badge, send


def shown(app: FastAPI, client: TestClient) -> tuple[int, bool]:
    """The badge of the overview page, and whether the page view counted alert recipients to draw it."""
    with count_queries(app) as statements:
        page = client.get("/", headers=HTML)
    assert page.status_code == 200
    return badge(page.text), any("alert_recipients" in s for s in statements)


def test_badge_shows_an_alert_that_arrives_after_the_count_was_cached_and_drops_on_acknowledgement(
    app: FastAPI, client: TestClient, cast: dict[str, Actor]
) -> None:
    sign_in(client, cast["de"].email)
    assert shown(app, client) == (0, True)  # counted once...
    assert shown(app, client) == (0, False)  # ...then served from the cache

    first = send(client, cast["fr"], title="First warning")
    assert shown(app, client) == (1, True)  # the very next page view counts it
    send(client, cast["fr"], title="Second warning")
    assert shown(app, client) == (2, True)

    r = client.post(f"/api/v1/alerts/{first['id']}/acknowledge", headers=cast["de"].headers)
    assert r.status_code == 200, r.text
    assert shown(app, client) == (1, True)
    assert shown(app, client) == (1, False)


def test_a_change_to_an_alert_the_reader_cannot_read_leaves_its_cached_badge_alone(
    app: FastAPI, client: TestClient, cast: dict[str, Actor]
) -> None:
    send(client, cast["fr"], title="For the network")
    sign_in(client, cast["de"].email)
    assert shown(app, client) == (1, True)
    # Sent to another organisation only, TLP:AMBER+STRICT: CERT-XB can read it neither before nor after. Its first
    # change since the process started may have narrowed who reads it (cybercrisis.cache): counted again, once.
    other = send(
        client,
        cast["fr"],
        title="For the outsider",
        tlp="amber+strict",
        recipients={"organisations": [cast["out"].org_id]},
    )
    assert shown(app, client) == (1, True)
    r = client.post(f"/api/v1/alerts/{other['id']}/acknowledge", headers=cast["out"].headers)
    assert r.status_code == 200, r.text
    assert shown(app, client) == (1, False)
