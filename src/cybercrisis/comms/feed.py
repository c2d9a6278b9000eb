"""The public publications: the one query that reads them, and their RSS 2.0 feed (ADR 0007).

Only `Publication` rows are read here, never drafts, and only TLP:CLEAR ones that belong to no exercise: the
access layer's anonymous filter and an explicit `tlp = 'clear'` both say so.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime

from sqlalchemy import Select, select, tuple_

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import ANONYMOUS
from cybercrisis.access.tlp import TLP
from cybercrisis.comms.models import Publication
from cybercrisis.config import Settings
from cybercrisis.pagination import cursor_time, decode_cursor, encode_cursor

RSS_MEDIA_TYPE = "application/rss+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_TITLE = "cybercrisis: public statements"
FEED_DESCRIPTION = "Statements released through coordinated public communication on cybersecurity crises (TLP:CLEAR)."
FEED_ITEMS = 50
# Characters XML 1.0 cannot carry at all, not even escaped: dropped from the feed.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

ET.register_namespace("atom", ATOM_NS)


def public_base(settings: Settings, request_base: str) -> str:
    """Where the public pages are for those who follow the feed's links: the configured address, else the address
    the request came to (behind a proxy, as the proxy's forwarded headers say, when the server trusts them)."""
    return (settings.public_base_url or request_base).rstrip("/")


def public_url(base: str, publication_id: str) -> str:
    return f"{base}/public/{publication_id}"


def public_query() -> Select[Publication]:
    """Publications anyone may read: TLP:CLEAR (filtered explicitly as well) and not part of an exercise."""
    return select(Publication).where(
        read_filter(ANONYMOUS, Publication),
        Publication.tlp == TLP.CLEAR.value,
        Publication.exercise.is_(False),
    )


def page_query(cursor: str | None, limit: int) -> Select[Publication]:
    """Newest first, keyset-paginated on (released_at, id); fetch `limit + 1` rows to know if there is more."""
    q = public_query()
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(Publication.released_at, Publication.id) < tuple_(cursor_time(after[0]), after[1]))
    return q.order_by(Publication.released_at.desc(), Publication.id.desc()).limit(limit + 1)


def next_cursor(rows: Sequence[Publication], limit: int) -> str | None:
    if len(rows) <= limit:
        return None
    last = rows[limit - 1]
    return encode_cursor([last.released_at.isoformat(), last.id])


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _add(parent: ET.Element, tag: str, text: str, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    element.text = _clean(text)
    return element


def rfc822(value: datetime) -> str:
    """RSS 2.0 dates are RFC 822 dates, e.g. `Sat, 28 Nov 2026 18:00:00 GMT`."""
    return format_datetime(value.astimezone(UTC), usegmt=True)


def build_feed(publications: Sequence[Publication], *, base: str, now: datetime) -> bytes:
    """An RSS 2.0 document with one item per publication (guid: the publication id), newest first; `base`: see
    `public_base`."""
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    _add(channel, "title", FEED_TITLE)
    _add(channel, "link", f"{base}/public")
    _add(channel, "description", FEED_DESCRIPTION)
    ET.SubElement(
        channel, f"{{{ATOM_NS}}}link", {"href": f"{base}/public/feed.xml", "rel": "self", "type": RSS_MEDIA_TYPE}
    )
    _add(channel, "lastBuildDate", rfc822(publications[0].released_at if publications else now))
    _add(channel, "generator", "cybercrisis")
    for pub in publications:
        item = ET.SubElement(channel, "item")
        _add(item, "title", pub.title)
        _add(item, "link", public_url(base, pub.id))
        _add(item, "guid", pub.id, isPermaLink="false")
        _add(item, "pubDate", rfc822(pub.released_at))
        _add(item, "description", pub.body)
    body: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return body
