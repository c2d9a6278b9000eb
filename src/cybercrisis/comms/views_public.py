"""The public page and RSS feed: TLP:CLEAR publications only, no login (ADR 0007).

Nothing here authenticates anyone or reads anything but `Publication` rows (through feed.public_query), so a draft,
an approval or an unreleased version cannot appear publicly whatever its marking.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from cybercrisis.comms import feed
from cybercrisis.comms.labels import language_name
from cybercrisis.comms.models import Publication
from cybercrisis.comms.schemas import PublicationOut, PublicationPage
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.deps import DB
from cybercrisis.errors import NotFound
from cybercrisis.web.render import render

router = APIRouter(tags=["public"])

PAGE_SIZE = 50
# Public pages change when a statement is released; a minute of caching is harmless and spares the database.
CACHE = {"Cache-Control": "public, max-age=60"}
# Links made from the address the request came to (no CYBERCRISIS_PUBLIC_BASE_URL) differ per Host: a shared cache
# must not serve one host's links to another (a forged Host would otherwise poison the feed for everyone).
PER_HOST = {"Cache-Control": "private, max-age=60", "Vary": "Host"}


def _settings(request: Request) -> Settings:
    s: Settings = request.app.state.settings
    return s


def _one(db: DB, publication_id: str) -> Publication:
    pub = db.scalars(feed.public_query().where(Publication.id == publication_id)).first()
    if pub is None:
        raise NotFound(f"no public statement with id {publication_id}")
    return pub


@router.get(
    "/public/feed.xml",
    operation_id="public_feed",
    response_class=Response,
    responses={200: {"content": {feed.RSS_MEDIA_TYPE: {}}, "description": "RSS 2.0"}},
)
def public_feed(db: DB, request: Request) -> Response:
    """RSS 2.0 feed of the released statements, newest first; each item's guid is the publication id. No login."""
    query = feed.public_query().order_by(Publication.released_at.desc(), Publication.id.desc())
    rows = list(db.scalars(query.limit(feed.FEED_ITEMS)))
    body = feed.build_feed(rows, base=feed.public_base(_settings(request), str(request.base_url)), now=utcnow())
    headers = CACHE if _settings(request).public_base_url else PER_HOST
    return Response(body, media_type=f"{feed.RSS_MEDIA_TYPE}; charset=utf-8", headers=headers)


@router.get("/public", operation_id="public_page", response_class=HTMLResponse)
def public_page(db: DB, request: Request, cursor: Annotated[str | None, Query(max_length=500)] = None) -> HTMLResponse:
    """The public page: released statements, newest first, with links to each language. No login."""
    rows = list(db.scalars(feed.page_query(cursor, PAGE_SIZE)))
    nxt = feed.next_cursor(rows, PAGE_SIZE)
    context = {
        "publications": rows[:PAGE_SIZE],
        "language_name": language_name,
        "next_url": f"/public?cursor={nxt}" if nxt else None,
        "first_url": "/public" if cursor else None,
    }
    return render(request, "public.html", context, headers=CACHE)


@router.get("/public/{publication_id}", operation_id="public_statement", response_class=HTMLResponse)
def public_statement(publication_id: str, db: DB, request: Request) -> HTMLResponse:
    """One released statement, its text and its translations side by side per language. No login."""
    pub = _one(db, publication_id)
    texts = [(pub.language, pub.title, pub.body)] + [
        (lang, t.get("title", ""), t.get("body", "")) for lang, t in sorted(pub.translations.items())
    ]
    context = {"pub": pub, "texts": texts, "language_name": language_name}
    return render(request, "public_item.html", context, headers=CACHE)


@router.get("/api/v1/public/publications", operation_id="list_publications", response_model=PublicationPage)
def list_publications(
    db: DB,
    request: Request,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PublicationPage:
    """Released statements (TLP:CLEAR), newest first, with their translations. No login; pass `next` as `cursor`."""
    rows = list(db.scalars(feed.page_query(cursor, limit)))
    base = feed.public_base(_settings(request), str(request.base_url))
    items = [
        PublicationOut(
            id=p.id,
            title=p.title,
            body=p.body,
            language=p.language,
            translations=p.translations,
            released_at=p.released_at,
            url=feed.public_url(base, p.id),
        )
        for p in rows[:limit]
    ]
    return PublicationPage(items=items, next=feed.next_cursor(rows, limit))
