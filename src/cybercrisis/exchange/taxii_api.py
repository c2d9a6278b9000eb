"""TAXII 2.1 server: discovery, the `cybercrisis` API root, collections, objects, manifests, versions, status.

Thin routes over exchange/taxii.py, taxii_pages.py, taxii_resources.py and taxii_posts.py. Every answer, errors
included, is `application/taxii+json;version=2.1`; errors are TAXII error messages. Authentication:
`Authorization: Bearer <token>` or HTTP Basic (e-mail, API token). docs/taxii.md.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cybercrisis import textcheck
from cybercrisis.access.principal import Principal
from cybercrisis.config import Settings
from cybercrisis.deps import DB, OptionalPrincipal
from cybercrisis.errors import DomainError, InvalidInput, NotAuthenticated, NotFound
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange import taxii, taxii_pages, taxii_posts, taxii_resources
from cybercrisis.exchange.taxii import MEDIA_TAXII

log = logging.getLogger("cybercrisis.taxii")
REALM = 'Basic realm="cybercrisis"'
_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal error",
    503: "Service unavailable",
}


class TaxiiJSON(JSONResponse):
    media_type = MEDIA_TAXII

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            # A stored object holding a lone surrogate (from before the input checks; migration 0008 repairs them)
            # goes out with U+FFFD rather than failing the page for everyone: its signature no longer verifies.
            log.warning("a TAXII answer held text that is not valid Unicode: written with U+FFFD")
            return textcheck.lossy_json(content)


def taxii_error(
    status: int,
    description: str,
    *,
    title: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A TAXII 2.1 error message (§3.6.1)."""
    body: dict[str, Any] = {
        "title": title or _TITLES.get(status, "Error"),
        "description": description,
        "http_status": str(status),
    }
    if details:
        body["details"] = {"errors": details}
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": REALM}
    return TaxiiJSON(body, status_code=status, headers=dict(headers) if headers else None)


class TaxiiRoute(APIRoute):
    """Turn every error of a TAXII route (ours, validation, authentication) into a TAXII error message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def taxii_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return taxii_error(exc.status, exc.detail, title=exc.title, details=exc.errors or None)
            except RequestValidationError as exc:
                errors = [
                    {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
                    for e in exc.errors()
                ]
                return taxii_error(400, "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), details=errors)
            except StarletteHTTPException as exc:
                detail = exc.detail if isinstance(exc.detail, str) else "request refused"
                return taxii_error(exc.status_code, detail, headers=exc.headers)
            except (SATimeoutError, OperationalError):
                log.warning("database unavailable on %s", request.url.path, exc_info=True)
                return taxii_error(503, "the database is unavailable; retry shortly", headers={"Retry-After": "5"})

        return taxii_handler


def _accepts(header: str | None) -> bool:
    """Whether an Accept header allows TAXII 2.1 JSON (absent, */*, application/*, application/taxii+json)."""
    if not header or not header.strip():
        return True
    for item in header.split(","):
        kind, *params = (p.strip().lower() for p in item.split(";"))
        version = next((p.split("=", 1)[1].strip() for p in params if p.startswith("version=")), None)
        if kind in ("*/*", "application/*") or (kind == "application/taxii+json" and version in (None, "2.1")):
            return True
    return False


class _NotAcceptable(DomainError):
    status = 406
    title = "Not acceptable"


def _check_accept(request: Request) -> None:
    accept = request.headers.get("accept")
    if not _accepts(accept):
        raise _NotAcceptable(f"this server answers {MEDIA_TAXII} only; the Accept header was {accept!r}")


class _UnsupportedMediaType(DomainError):
    status = 415
    title = "Unsupported media type"


class _TooLarge(DomainError):
    status = 413
    title = "Request body too large"


router = APIRouter(prefix="/taxii2", tags=["taxii"], route_class=TaxiiRoute, dependencies=[Depends(_check_accept)])


async def _principal(request: Request, principal: OptionalPrincipal) -> Principal:
    # TAXII clients authenticate every request; the UI session cookie is not accepted here.
    if not request.headers.get("authorization") or not principal.is_authenticated:
        raise NotAuthenticated("send 'Authorization: Bearer <API token>' or HTTP Basic (e-mail, API token)")
    return principal


TaxiiPrincipal = Annotated[Principal, Depends(_principal)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _node(request: Request) -> nodes.Node:
    return nodes.load(_settings(request).data_dir)


def _filters(request: Request) -> taxii_pages.Filters:
    return taxii_pages.parse_filters(dict(request.query_params))


Filters = Annotated[taxii_pages.Filters, Depends(_filters)]


def _ok(body: dict[str, Any], headers: dict[str, str] | None = None, status: int = 200) -> Response:
    return TaxiiJSON(body, status_code=status, headers=headers)


async def _envelope_body(request: Request) -> Any:
    """The POSTed envelope: TAXII media type (415), size (413), JSON (422); checked before anything is written."""
    media = [p.strip().lower() for p in request.headers.get("content-type", "").split(";")]
    version = next((p.split("=", 1)[1].strip() for p in media[1:] if p.startswith("version=")), None)
    if media[0] != "application/taxii+json" or version not in (None, "2.1"):
        raise _UnsupportedMediaType(
            f"send the envelope as {MEDIA_TAXII}; the Content-Type was {request.headers.get('content-type', '')!r}"
        )
    limit = _settings(request).taxii_max_content_length
    length = request.headers.get("content-length", "")
    if (length.isdigit() and int(length) > limit) or len(raw := await request.body()) > limit:
        raise _TooLarge(f"the body is larger than max_content_length ({limit} bytes): send fewer objects per request")
    try:
        # The door's own check (hygiene.py) ran already; this one holds even if a request got round it.
        return textcheck.parse_json(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        message = f"malformed JSON: {exc}"
        raise InvalidInput(message, errors=[{"field": "body", "message": message}]) from None


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown credentials"},
    404: {"description": "Unknown collection or object, or one you may not see"},
    406: {"description": "The Accept header does not allow application/taxii+json;version=2.1"},
}


@router.get("/", operation_id="taxii_discovery", responses=_ERRORS)
def discovery(request: Request, db: DB, principal: TaxiiPrincipal) -> Response:
    """TAXII discovery: the API root, and this node's identity and keys (`x_cybercrisis_node`)."""
    base = str(request.base_url)
    return _ok(taxii_resources.discovery(db, settings=_settings(request), node=_node(request), base=base))


@router.get(f"/{taxii.API_ROOT}/", operation_id="taxii_api_root", responses=_ERRORS)
def api_root(request: Request, principal: TaxiiPrincipal) -> Response:
    """The API root: versions and the largest envelope accepted (`max_content_length`)."""
    return _ok(taxii_resources.api_root(_settings(request)))


@router.get(f"/{taxii.API_ROOT}/collections/", operation_id="taxii_list_collections", responses=_ERRORS)
def list_collections(db: DB, principal: TaxiiPrincipal) -> Response:
    """The collections you see: your organisation's, your communities', and those defined for either."""
    found = taxii.visible_collections(db, principal=principal)
    return _ok({"collections": [c.resource(principal) for c in found]} if found else {})


@router.get(f"/{taxii.API_ROOT}/collections/{{collection_id}}/", operation_id="taxii_get_collection", responses=_ERRORS)
def get_collection(collection_id: str, db: DB, principal: TaxiiPrincipal) -> Response:
    """One collection."""
    return _ok(taxii.get_collection(db, principal=principal, cid=collection_id).resource(principal))


@router.get(
    f"/{taxii.API_ROOT}/collections/{{collection_id}}/objects/", operation_id="taxii_get_objects", responses=_ERRORS
)
def get_objects(collection_id: str, request: Request, db: DB, principal: TaxiiPrincipal, filters: Filters) -> Response:
    """Objects of the collection you may read, in the order they were added (keyset paging with `next`)."""
    collection = taxii.get_collection(db, principal=principal, cid=collection_id)
    page = taxii_pages.objects_page(db, principal=principal, collection=collection, filters=filters)
    objects = taxii_resources.served(db, node=_node(request), rows=[r.StixObject for r in page.rows])
    return _ok(taxii_resources.envelope(page, objects), page.headers())


@router.post(
    f"/{taxii.API_ROOT}/collections/{{collection_id}}/objects/",
    operation_id="taxii_add_objects",
    status_code=202,
    responses={
        **_ERRORS,
        403: {"description": "No write access"},
        413: {"description": "Over max_content_length"},
        415: {"description": "Not application/taxii+json;version=2.1"},
        422: {"description": "Malformed JSON or not an envelope"},
    },
)
def add_objects(
    collection_id: str,
    request: Request,
    db: DB,
    principal: TaxiiPrincipal,
    body: Annotated[Any, Depends(_envelope_body)],
) -> Response:
    """Add the objects of an envelope; answers the (complete) status resource."""
    collection = taxii.get_collection(db, principal=principal, cid=collection_id)
    status = taxii_posts.add_objects(db, principal=principal, node=_node(request), collection=collection, body=body)
    return _ok(status, status=202)


@router.get(
    f"/{taxii.API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/",
    operation_id="taxii_get_object",
    responses=_ERRORS,
)
def get_object(
    collection_id: str, object_id: str, request: Request, db: DB, principal: TaxiiPrincipal, filters: Filters
) -> Response:
    """One object's versions you may read (match[version], default the last)."""
    collection = taxii.get_collection(db, principal=principal, cid=collection_id)
    page = taxii_pages.objects_page(
        db, principal=principal, collection=collection, filters=filters, object_id=object_id
    )
    objects = taxii_resources.served(db, node=_node(request), rows=[r.StixObject for r in page.rows])
    return _ok(taxii_resources.envelope(page, objects), page.headers())


@router.delete(
    f"/{taxii.API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/",
    operation_id="taxii_delete_object",
    responses={**_ERRORS, 403: {"description": "Not your organisation's, or one of this node's own objects"}},
)
def delete_object(collection_id: str, object_id: str, db: DB, principal: TaxiiPrincipal, filters: Filters) -> Response:
    """Delete versions (match[version], default the last) of an object your organisation imported."""
    collection = taxii.get_collection(db, principal=principal, cid=collection_id)
    taxii_posts.delete_object(db, principal=principal, collection=collection, object_id=object_id, filters=filters)
    return Response(status_code=200, media_type=MEDIA_TAXII)


@router.get(
    f"/{taxii.API_ROOT}/collections/{{collection_id}}/objects/{{object_id}}/versions/",
    operation_id="taxii_get_object_versions",
    responses=_ERRORS,
)
def get_object_versions(
    collection_id: str, object_id: str, db: DB, principal: TaxiiPrincipal, filters: Filters
) -> Response:
    """The versions of one object you may read, oldest first."""
    collection = taxii.get_collection(db, principal=principal, cid=collection_id)
    page = taxii_pages.versions_page(
        db, principal=principal, collection=collection, filters=filters, object_id=object_id
    )
    versions = [taxii.version_of(r.modified, r.added_at) for r in page.rows]
    return _ok(taxii_resources.envelope(page, versions, key="versions"), page.headers())


@router.get(
    f"/{taxii.API_ROOT}/collections/{{collection_id}}/manifest/", operation_id="taxii_get_manifest", responses=_ERRORS
)
def get_manifest(collection_id: str, db: DB, principal: TaxiiPrincipal, filters: Filters) -> Response:
    """Manifest records (id, date_added, version, media type) of the objects you may read."""
    collection = taxii.get_collection(db, principal=principal, cid=collection_id)
    page = taxii_pages.manifest_page(db, principal=principal, collection=collection, filters=filters)
    return _ok(taxii_resources.envelope(page, taxii_resources.manifest_records(page)), page.headers())


# taxii2-client asks for status resources without the trailing slash.
@router.get(f"/{taxii.API_ROOT}/status/{{status_id}}/", operation_id="taxii_get_status", responses=_ERRORS)
@router.get(f"/{taxii.API_ROOT}/status/{{status_id}}", include_in_schema=False)
def get_status(status_id: str, db: DB, principal: TaxiiPrincipal) -> Response:
    """The status of one of your POSTs."""
    return _ok(taxii_posts.get_status(db, principal=principal, status_id=status_id))


_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@router.api_route("/{rest:path}", methods=_METHODS, include_in_schema=False)
def unknown(request: Request, rest: str) -> Response:
    """Anything else under /taxii2/: a TAXII 404 or 405, or a redirect to the path with its trailing slash."""
    path = request.url.path
    routes = [r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is not unknown]
    allowed = sorted({m for r in routes if r.path_regex.match(path) for m in r.methods or ()})
    if allowed:
        raise StarletteHTTPException(405, f"{request.method} is not allowed here", {"Allow": ", ".join(allowed)})
    if not path.endswith("/") and any(
        r.path_regex.match(path + "/") and request.method in (r.methods or ()) for r in routes
    ):
        return RedirectResponse(request.url.replace(path=path + "/"), status_code=307)
    raise NotFound(f"no TAXII endpoint at {path}")
