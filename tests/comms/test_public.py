"""The public page, statement page, RSS feed and JSON list: released statements only, no login (ADR 0007)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cybercrisis.comms.models import Publication
from cybercrisis.comms.tasks import release_due
from cybercrisis.config import Settings
from tests.comms.conftest import PUBLIC_BASE, Cast, approve_all, draft, rows

API = "/api/v1/communications"


def test_public_page_feed_and_list_show_released_statements_only(
    client: TestClient, cast: Cast, db: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    first_time = datetime(2031, 5, 1, 8, 0, tzinfo=UTC)
    first = approve_all(client, cast, draft(client, cast, title="Grid advice", embargo_until=first_time.isoformat()))
    tricky = 'Phishing "alerts" <b>fake</b> & real\x0b'
    second = approve_all(
        client,
        cast,
        draft(
            client,
            cast,
            title=tricky,
            body="Ignore <script>alert(1)</script> mails.",
            embargo_until=(first_time + timedelta(hours=1)).isoformat(),
        ),
    )
    # Never public: a draft, an approved statement still under embargo, lines to take, a withdrawn one.
    secret = "UNRELEASED-DRAFT-TEXT"
    hidden = [
        draft(client, cast, title=f"{secret} draft", body=secret),
        approve_all(
            client,
            cast,
            draft(
                client,
                cast,
                title=f"{secret} embargoed",
                body=secret,
                embargo_until=(first_time + timedelta(days=9)).isoformat(),
            ),
        ),
        approve_all(client, cast, draft(client, cast, kind="lines-to-take", title=f"{secret} lines", body=secret)),
    ]
    withdrawn = draft(client, cast, title=f"{secret} withdrawn", body=secret)
    assert client.post(f"{API}/{withdrawn['id']}/withdraw", headers=cast["fr"].headers).status_code == 200
    assert release_due(session_factory, settings, first_time) == 1
    assert release_due(session_factory, settings, first_time + timedelta(hours=1)) == 1
    assert release_due(session_factory, settings, first_time + timedelta(days=2)) == 0
    pubs = {p.communication_id: p for p in rows(db, Publication)}
    newest, oldest = pubs[second["id"]], pubs[first["id"]]

    # RSS 2.0: parses, absolute links, guid = publication id, RFC 822 dates, escaped text, newest first.
    r = client.get("/public/feed.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/rss+xml")
    assert r.headers["cache-control"] == "public, max-age=60"  # the configured address: the same for everyone
    assert secret not in r.text and "<script>" not in r.text
    rss = ET.fromstring(r.content)  # noqa: S314 - our own output under test
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel is not None and channel.findtext("link") == f"{PUBLIC_BASE}public"
    items = channel.findall("item")
    assert [i.findtext("guid") for i in items] == [newest.id, oldest.id]
    assert items[0].findtext("title") == tricky.replace("\x0b", "")
    assert items[0].findtext("description") == "Ignore <script>alert(1)</script> mails."
    assert items[0].findtext("link") == f"{PUBLIC_BASE}public/{newest.id}"
    assert items[0].find("guid").get("isPermaLink") == "false"  # type: ignore[union-attr]
    assert parsedate_to_datetime(items[1].findtext("pubDate") or "") == first_time
    assert (items[1].findtext("pubDate") or "").endswith("GMT")

    # The HTML page: no login, newest first, each language linked; the text is escaped.
    page = client.get("/public", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert secret not in page.text and "<b>fake</b>" not in page.text and "&lt;b&gt;fake&lt;/b&gt;" in page.text
    assert page.text.index(newest.id) < page.text.index(oldest.id)
    assert f'href="/public/{oldest.id}#lang-fr"' in page.text and "French" in page.text
    assert "content-security-policy" in page.headers and "<style" not in page.text and "style=" not in page.text

    # The JSON list, paginated, also without login.
    listed = client.get("/api/v1/public/publications?limit=1").json()
    assert [p["id"] for p in listed["items"]] == [newest.id] and listed["next"]
    rest = client.get(f"/api/v1/public/publications?limit=1&cursor={listed['next']}").json()
    assert [p["id"] for p in rest["items"]] == [oldest.id] and rest["next"] is None
    assert rest["items"][0]["url"] == f"{PUBLIC_BASE}public/{oldest.id}"
    assert rest["items"][0]["translations"]["fr"]["title"] == "Rançongiciel chez des gestionnaires de réseau"

    # Drafts are not reachable by their id either; the API of drafts needs a login.
    for c in [*hidden, withdrawn, first]:
        assert client.get(f"/public/{c['id']}").status_code == 404
        assert client.get(f"{API}/{c['id']}").status_code == 401


def test_public_statement_shows_the_translations_side_by_side(client: TestClient, cast: Cast, db: Session) -> None:
    translations = {
        "fr": {"title": "Conseils aux usagers", "body": "Restez vigilants."},
        "de": {"title": "Hinweise für Nutzer", "body": "Bleiben Sie wachsam."},
    }
    c = approve_all(
        client, cast, draft(client, cast, title="Advice to users", body="Stay alert.", translations=translations)
    )
    assert client.post(f"{API}/{c['id']}/release", headers=cast["fr"].headers).status_code == 200
    [pub] = rows(db, Publication)
    r = client.get(f"/public/{pub.id}", headers={"Accept": "text/html"})
    assert r.status_code == 200
    html = r.text
    # The original first, then each translation in its own language section.
    positions = [html.index(f'id="lang-{lang}" lang="{lang}"') for lang in ("en", "de", "fr")]
    assert positions == sorted(positions)
    for text in ("Advice to users", "Stay alert.", "Hinweise für Nutzer", "Bleiben Sie wachsam.", "Restez vigilants."):
        assert text in html
    assert "English" in html and "German" in html and "French" in html
    assert "<script>" not in html and "style=" not in html
    missing = client.get("/public/publication--00000000-0000-4000-8000-000000000000", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_without_a_configured_address_the_feed_links_to_the_address_it_was_read_at(
    client: TestClient, cast: Cast, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    """Issue 19: the feed's links pointed to localhost:8000 unless a setting was changed; unset, they follow the
    address the reader used (here the test client's, and a second host name)."""
    settings.public_base_url = None
    released_at = datetime(2031, 5, 1, 8, 0, tzinfo=UTC)
    approve_all(client, cast, draft(client, cast, title="Grid advice", embargo_until=released_at.isoformat()))
    assert release_due(session_factory, settings, released_at) == 1
    for host in ("testserver", "crisis.example.gov"):
        got = client.get("/public/feed.xml", headers={"Host": host})
        # Links that depend on the Host are never kept by a shared cache for another host.
        assert got.headers["cache-control"].startswith("private") and got.headers["vary"] == "Host"
        rss = ET.fromstring(got.content)  # noqa: S314
        channel = rss.find("channel")
        assert channel is not None and channel.findtext("link") == f"http://{host}/public"
        link = channel.findall("item")[0].findtext("link") or ""
        assert link.startswith(f"http://{host}/public/publication--"), link
        listed = client.get("/api/v1/public/publications", headers={"Host": host}).json()
        assert listed["items"][0]["url"] == link
