"""The TAXII 2.1 server's queries: collections, envelopes, versions, manifests, POSTs and deletes (ADR 0008).

Every read is `membership(collection) AND read_filter(principal, StixObject)` on the store of STIX objects, each
(id, version) once from the oldest copy the reader gets (`copies.first_copy`), in `seq` order: `next` is the last
`seq` of a page, `added_after` becomes a `seq` bound with one indexed subquery, so a page costs the same whatever
the size of the collection. Collections: one per community and one per organisation
(deterministic ids, no rows), plus those an administrator defines (`TaxiiCollection`). docs/taxii.md.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from cybercrisis.access.models import Share
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import COMMUNITY, ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.audit import service as audit
from cybercrisis.config import Settings
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Community, Organisation
from cybercrisis.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from cybercrisis.exchange import copies, importer
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import NO_MODIFIED, Peer, StixObject, TaxiiCollection, TaxiiStatus

log = logging.getLogger("cybercrisis.taxii")
TAXII_NAMESPACE = uuid.UUID("6f1f8a3e-0c7b-4d3e-9b64-3f0c2a7d9e11")
API_ROOT = "cybercrisis"
MEDIA_TAXII = "application/taxii+json;version=2.1"
MEDIA_STIX = "application/stix+json;version=2.1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
KINDS = (COMMUNITY, ORG)
_EPOCH = NO_MODIFIED.replace(tzinfo=UTC)
_TYPE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


class BadRequest(DomainError):
    """A filter or parameter the server cannot use (TAXII: 400)."""

    status = 400
    title = "Bad request"


def collection_id(kind: str, target: str) -> str:
    """The id of the collection of a community (`target` = slug) or an organisation (`target` = its id)."""
    return str(uuid.uuid5(TAXII_NAMESPACE, f"{kind}:{target}"))


def stamp(moment: datetime) -> str:
    """A TAXII timestamp with microseconds: 2026-11-28T09:00:00.000000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def version_of(modified: datetime, added_at: datetime) -> str:
    """An object version as STIX writes it (milliseconds unless finer); date_added for objects without times."""
    moment = added_at if modified == _EPOCH else modified
    text = stamp(moment)
    return text[:-4] + "Z" if text.endswith("000Z") else text


# --- collections ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    kind: str  # community | organisation
    target: str  # a community slug or an organisation id
    title: str
    description: str = ""
    types: tuple[str, ...] | None = None  # None: every type
    writable: bool = True
    defined: bool = False  # an administrator's collection (a TaxiiCollection row)

    def can_write(self, principal: Principal) -> bool:
        return self.writable and principal.has(Permission.EXCHANGE_IMPORT)

    def resource(self, principal: Principal) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "can_read": True,
            "can_write": self.can_write(principal),
            "media_types": [MEDIA_STIX],
        }


def _sees(principal: Principal, kind: str, target: str) -> bool:
    return target in principal.communities if kind == COMMUNITY else target == principal.org_id


def _of_community(slug: str, name: str) -> Collection:
    return Collection(
        collection_id(COMMUNITY, slug), COMMUNITY, slug, name, f"Objects shared with the community {name}"
    )


def _of_organisation(org_id: str, name: str) -> Collection:
    return Collection(collection_id(ORG, org_id), ORG, org_id, name, f"Objects of {name} and objects shared with it")


def _defined(row: TaxiiCollection) -> Collection:
    return Collection(
        row.id,
        row.audience_kind,
        row.audience_target,
        row.title,
        row.description,
        tuple(row.types) if row.types else None,
        row.can_write,
        defined=True,
    )


def visible_collections(session: Session, *, principal: Principal) -> list[Collection]:
    """The collections a user sees: their organisation's, their communities', and the defined ones for them."""
    out: list[Collection] = []
    if principal.org_id:
        name = session.scalar(select(Organisation.name).where(Organisation.id == principal.org_id))
        if name is not None:
            out.append(_of_organisation(principal.org_id, name))
    slugs = sorted(principal.communities)
    if slugs:
        rows = session.execute(select(Community.slug, Community.name).where(Community.slug.in_(slugs)))
        out += [_of_community(slug, name) for slug, name in sorted(rows)]
    audience = [and_(TaxiiCollection.audience_kind == ORG, TaxiiCollection.audience_target == principal.org_id)]
    if slugs:
        audience.append(and_(TaxiiCollection.audience_kind == COMMUNITY, TaxiiCollection.audience_target.in_(slugs)))
    defined = session.scalars(select(TaxiiCollection).where(or_(*audience)).order_by(TaxiiCollection.created_at))
    return out + [_defined(r) for r in defined]


def all_collections(session: Session) -> list[Collection]:
    """Every collection of this node (the operator's view)."""
    orgs = session.execute(select(Organisation.id, Organisation.name).order_by(Organisation.short_name))
    communities = session.execute(select(Community.slug, Community.name).order_by(Community.slug))
    defined = session.scalars(select(TaxiiCollection).order_by(TaxiiCollection.created_at))
    return (
        [_of_organisation(i, n) for i, n in orgs]
        + [_of_community(s, n) for s, n in communities]
        + [_defined(r) for r in defined]
    )


def get_collection(session: Session, *, principal: Principal, cid: str) -> Collection:
    """One collection the user sees; any other id (unknown, or not theirs) is not found."""
    if principal.org_id and cid == collection_id(ORG, principal.org_id):
        name = session.scalar(select(Organisation.name).where(Organisation.id == principal.org_id))
        if name is not None:
            return _of_organisation(principal.org_id, name)
    for slug in principal.communities:
        if cid == collection_id(COMMUNITY, slug):
            name = session.scalar(select(Community.name).where(Community.slug == slug))
            if name is not None:
                return _of_community(slug, name)
    row = session.get(TaxiiCollection, cid) if len(cid) == 36 else None
    if row is not None and _sees(principal, row.audience_kind, row.audience_target):
        return _defined(row)
    raise NotFound(f"no collection {cid}")


def membership(collection: Collection, model: Any = StixObject) -> ColumnElement[bool]:
    """The store rows in a collection: shared with its community, or owned by / shared with its organisation
    (`model`: StixObject or an alias of it)."""

    def shared(kind: str) -> ColumnElement[bool]:
        return exists(
            select(Share.object_id).where(
                Share.object_id == model.share_id, Share.kind == kind, Share.target == collection.target
            )
        )

    clause = (
        shared(COMMUNITY) if collection.kind == COMMUNITY else or_(model.owner_org_id == collection.target, shared(ORG))
    )
    if collection.types:
        clause = and_(clause, model.type.in_(collection.types))
    return clause


# --- filters and paging ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    added_after: datetime | None = None
    limit: int = DEFAULT_LIMIT
    next: str | None = None  # the opaque token of the previous page
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str | datetime, ...] = ("last",)
    spec_versions: tuple[str, ...] = ("2.1",)


def parse_time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip().upper())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest(
            f"{name}: {value!r} is not an RFC 3339 timestamp such as 2026-11-28T09:00:00.000Z",
            errors=[{"field": name, "message": "not an RFC 3339 timestamp with a zone"}],
        )
    return moment.astimezone(UTC)


def _items(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def parse_filters(params: dict[str, str]) -> Filters:
    """TAXII query parameters -> Filters; anything unusable is a 400 naming the parameter."""
    limit = DEFAULT_LIMIT
    if params.get("limit"):
        try:
            limit = int(params["limit"])
        except ValueError:
            limit = 0
        if limit < 1:
            raise BadRequest(
                f"limit: {params['limit']!r} is not a positive whole number",
                errors=[{"field": "limit", "message": "not a positive whole number"}],
            )
    versions: list[str | datetime] = []
    for v in _items(params.get("match[version]")) or ("last",):
        versions.append(v if v in ("last", "first", "all") else parse_time(v, "match[version]"))
    return Filters(
        added_after=parse_time(params["added_after"], "added_after") if params.get("added_after") else None,
        limit=min(limit, MAX_LIMIT),
        next=params.get("next") or None,
        ids=_items(params.get("match[id]")),
        types=_items(params.get("match[type]")),
        versions=tuple(versions),
        spec_versions=_items(params.get("match[spec_version]")) or ("2.1",),
    )


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _untoken(token: str, kind: str) -> str:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    prefix, _, value = text.partition(":")
    if prefix != kind or not value:
        raise BadRequest(
            "next: not a token this server gave for this endpoint",
            errors=[{"field": "next", "message": "unknown token"}],
        )
    return value


def _after_seq(token: str) -> int:
    value = _untoken(token, "s")
    if not value.isdigit():
        raise BadRequest("next: not a token this server gave", errors=[{"field": "next", "message": "unknown token"}])
    return int(value)


def _version_clause(
    versions: Sequence[str | datetime], principal: Principal, collection: Collection
) -> ColumnElement[bool] | None:
    """`match[version]` over the copies the reader gets (exchange/copies.py): `last` and `first` are the newest and
    oldest version the reader may read in the collection, whichever copy holds it."""
    if "all" in versions:
        return None

    def inside(model: Any) -> list[ColumnElement[bool]]:
        return [membership(collection, model)]

    parts: list[ColumnElement[bool]] = []
    for v in versions:
        if v == "last":  # `latest` (per copy, indexed) first, then no newer version in a copy the reader gets
            parts.append(and_(StixObject.latest.is_(True), copies.first_copy(principal, inside, newer="last")))
        elif v == "first":
            parts.append(copies.first_copy(principal, inside, newer="first"))
    moments = [v for v in versions if isinstance(v, datetime)]
    if moments:
        parts.append(
            or_(StixObject.modified.in_(moments), and_(StixObject.modified == _EPOCH, StixObject.added_at.in_(moments)))
        )
    return or_(*parts)


def _copy_versions(versions: Sequence[str | datetime]) -> ColumnElement[bool] | None:
    """`match[version]` within each copy (deletes: a holder deletes versions of its own copy)."""
    if "all" in versions:
        return None
    parts: list[ColumnElement[bool]] = []
    for v in versions:
        if v == "last":
            parts.append(StixObject.latest.is_(True))
        elif v == "first":
            older = aliased(StixObject)
            first = (
                select(func.min(older.modified))
                .where(older.id == StixObject.id, older.share_id == StixObject.share_id)
                .scalar_subquery()
            )
            parts.append(StixObject.modified == first)
    moments = [v for v in versions if isinstance(v, datetime)]
    if moments:
        parts.append(
            or_(StixObject.modified.in_(moments), and_(StixObject.modified == _EPOCH, StixObject.added_at.in_(moments)))
        )
    return or_(*parts)


def _where(
    session: Session,
    principal: Principal,
    collection: Collection,
    f: Filters,
    *,
    object_id: str | None,
    versions: bool = True,
    once: bool = True,
) -> list[ColumnElement[bool]]:
    """The conditions of an answer; `once`: each (id, version) once, from the oldest copy the reader gets."""
    where = [membership(collection), read_filter(principal, StixObject)]
    ids = (object_id,) if object_id else f.ids
    if ids:
        where.append(StixObject.id.in_(ids))
    if f.types:
        where.append(StixObject.type.in_(f.types))
    if versions:
        clause = _version_clause(f.versions, principal, collection) if once else _copy_versions(f.versions)
        if clause is not None:
            where.append(clause)
    if once and (not versions or tuple(f.versions) != ("last",)):  # `last` alone already keeps one copy
        where.append(copies.first_copy(principal, lambda model: [membership(collection, model)]))
    where.append(StixObject.spec_version.in_(f.spec_versions))
    if f.added_after is not None:
        # seq and added_at grow together (importer.added_now): the first seq added after T, from one probe of the
        # (added_at, seq) index, however many rows come before T. Asked first, so that the page query carries it as
        # a value, and alone: every row from that seq on was added after T (the invariant of `added_at`), and a bare
        # seq range lets PostgreSQL walk `seq` and stop at the page's end instead of sorting everything after T.
        bound = session.scalar(
            select(StixObject.seq)
            .where(StixObject.added_at > f.added_after)
            .order_by(StixObject.added_at, StixObject.seq)
            .limit(1)
        )
        where.append(false() if bound is None else StixObject.seq >= bound)
    return where


@dataclass(slots=True)
class Page:
    rows: list[Any]
    more: bool = False
    next: str | None = None
    first_added: datetime | None = None
    last_added: datetime | None = None

    def headers(self) -> dict[str, str]:
        if self.first_added is None or self.last_added is None:
            return {}
        return {"X-TAXII-Date-Added-First": stamp(self.first_added), "X-TAXII-Date-Added-Last": stamp(self.last_added)}


def _page(session: Session, query: Any, f: Filters) -> Page:
    if f.next:
        query = query.where(StixObject.seq > _after_seq(f.next))
    rows = list(session.execute(query.order_by(StixObject.seq).limit(f.limit + 1)))
    page = Page(rows=rows[: f.limit], more=len(rows) > f.limit)
    if page.rows:
        page.next = _token(f"s:{page.rows[-1].seq}") if page.more else None
        page.first_added, page.last_added = page.rows[0].added_at, page.rows[-1].added_at
    return page


def objects_page(
    session: Session, *, principal: Principal, collection: Collection, filters: Filters, object_id: str | None = None
) -> Page:
    """One page of store rows (`row.StixObject`) in the collection that the user may read, in `seq` order."""
    query = select(StixObject, StixObject.seq, StixObject.added_at)
    page = _page(session, query.where(*_where(session, principal, collection, filters, object_id=object_id)), filters)
    if object_id and not page.rows and not filters.next:
        _require_object(session, principal=principal, collection=collection, object_id=object_id)
    return page


def manifest_page(session: Session, *, principal: Principal, collection: Collection, filters: Filters) -> Page:
    """Like objects_page, without the objects' data."""
    query = select(StixObject.id, StixObject.seq, StixObject.added_at, StixObject.modified)
    return _page(session, query.where(*_where(session, principal, collection, filters, object_id=None)), filters)


def _require_object(session: Session, *, principal: Principal, collection: Collection, object_id: str) -> None:
    where = (membership(collection), read_filter(principal, StixObject), StixObject.id == object_id)
    visible = select(StixObject.seq).where(*where).limit(1)
    if session.scalar(visible) is None:
        raise NotFound(f"no object {object_id} in collection {collection.id}")


def versions_page(
    session: Session, *, principal: Principal, collection: Collection, filters: Filters, object_id: str
) -> Page:
    """The versions of one object the user may read, oldest first (keyset on `modified`, unique per id)."""
    query = select(StixObject.modified, StixObject.added_at).where(
        *_where(session, principal, collection, filters, object_id=object_id, versions=False)
    )
    if filters.next:
        after = datetime.fromisoformat(_untoken(filters.next, "m"))
        query = query.where(StixObject.modified > after)
    rows = list(session.execute(query.order_by(StixObject.modified).limit(filters.limit + 1)))
    if not rows and not filters.next:
        _require_object(session, principal=principal, collection=collection, object_id=object_id)
    page = Page(rows=rows[: filters.limit], more=len(rows) > filters.limit)
    if page.rows:
        page.next = _token(f"m:{page.rows[-1].modified.isoformat()}") if page.more else None
        added = [r.added_at for r in page.rows]
        page.first_added, page.last_added = min(added), max(added)
    return page


# --- serving -------------------------------------------------------------------------------------------------


def served(session: Session, *, node: nodes.Node, rows: Sequence[StixObject]) -> list[dict[str, Any]]:
    """The objects as TAXII serves them: as stored, plus the origin node's signature and the organisation and
    community recipients it signs (`x_cybercrisis_shares`), never a list it does not sign. For this node's versions
    that is the current share list of their copy: a version not signed yet, or signed with an older list, is signed
    now (not stored). A peer's version goes as received. One query for the shares."""
    lists = copies.share_lists(session, {r.share_id for r in rows if r.origin_node is None})
    out = []
    for row in rows:
        obj = dict(row.data)
        if row.origin_node is None:
            current = lists[row.share_id]
            origin = row.signature
            if origin is None or not row.signed or row.shares != current:
                try:
                    origin = node.sign(row.data, row.owner_org_id, tlp=row.tlp, shares=current, share_key=row.share_id)
                except (ValueError, RecursionError):  # text that is not valid Unicode: textcheck.py, migration 0008
                    log.warning("not serving %s (seq %s): it cannot be signed", row.id, row.seq)
                    continue
            obj[nodes.ORIGIN] = origin
            obj[nodes.SHARES] = current
        else:
            if row.signature is not None:
                obj[nodes.ORIGIN] = row.signature
            obj[nodes.SHARES] = row.shares or []  # before migration 0010: not signed, so none (peers refuse it)
        out.append(obj)
    return out


def envelope(page: Page, items: Sequence[Any], key: str = "objects") -> dict[str, Any]:
    """A TAXII envelope (or versions resource): the list is left out when empty, as TAXII asks."""
    body: dict[str, Any] = {"more": page.more}
    if page.next:
        body["next"] = page.next
    if items:
        body[key] = list(items)
    return body


def manifest_records(page: Page) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "date_added": stamp(r.added_at),
            "version": version_of(r.modified, r.added_at),
            "media_type": MEDIA_STIX,
        }
        for r in page.rows
    ]


def discovery(session: Session, *, settings: Settings, node: nodes.Node, base: str) -> dict[str, Any]:
    """The discovery resource, with this node's identity and keys and the keys of the nodes it trusts."""
    org: str | None = None
    if settings.node_organisation:
        ref = settings.node_organisation
        org = session.scalar(select(Organisation.id).where(or_(Organisation.id == ref, Organisation.short_name == ref)))
    identity = node.identity(name=settings.node_name, organisation=org)
    identity["peers"] = {nid: dict(keys) for nid, keys in nodes.key_ring(session, node).items() if nid != node.id}
    root = f"{base.rstrip('/')}/taxii2/{API_ROOT}/"
    return {
        "title": settings.node_name,
        "description": f"TAXII 2.1 server of the cybercrisis node {settings.node_name}",
        "default": root,
        "api_roots": [root],
        "x_cybercrisis_node": identity,
    }


def api_root(settings: Settings) -> dict[str, Any]:
    return {
        "title": settings.node_name,
        "description": "Objects shared with your organisation and your communities, under TLP and sharing rules",
        "versions": [MEDIA_TAXII],
        "max_content_length": settings.taxii_max_content_length,
    }


# --- writing -------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Outcome:
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)


def _ident(obj: Any) -> tuple[str, str]:
    if not isinstance(obj, dict):
        return "", ""
    version = obj.get("modified") or obj.get("created") or ""
    return str(obj.get("id") or ""), str(version)


def add_objects(
    session: Session, *, principal: Principal, node: nodes.Node, collection: Collection, body: Any
) -> dict[str, Any]:
    """Store a POSTed envelope in the collection (TAXII 2.1 §5.5) and return its status resource.

    Plain STIX goes to `importer.ingest`, shared with the collection's audience (GREEN by default for a community,
    AMBER for an organisation); objects carrying an origin signature to `importer.receive`, accepted only from a
    user of the organisation that runs their origin node. A version already stored counts as a success. One audit
    entry besides the importer's."""
    principal.require(Permission.EXCHANGE_IMPORT)
    if not collection.can_write(principal):
        raise PermissionDenied(f"collection {collection.id} is read-only")
    if not isinstance(body, dict) or not isinstance(body.get("objects", []), list):
        raise InvalidInput(
            'not a TAXII envelope: expected a JSON object with an "objects" list',
            errors=[{"field": "objects", "message": "expected a list of STIX objects"}],
        )
    objects: list[Any] = body.get("objects", [])
    failed: dict[int, str] = {}
    plain: list[tuple[int, Any]] = []
    federated: list[tuple[int, Any]] = []
    for index, obj in enumerate(objects):
        if collection.types and isinstance(obj, dict) and obj.get("type") not in collection.types:
            failed[index] = (
                f"type {obj.get('type')!r} is not accepted by this collection ({', '.join(collection.types)})"
            )
        elif isinstance(obj, dict) and nodes.ORIGIN in obj:
            federated.append((index, obj))
        else:
            plain.append((index, obj))
    origin = f"taxii:{collection.id}"
    if plain:
        audience = (
            ShareWith(communities=[collection.target])
            if collection.kind == COMMUNITY
            else ShareWith(organisations=[collection.target])
        )
        result = importer.ingest(
            session,
            actor=principal,
            objects=[o for _, o in plain],
            origin=origin,
            default_tlp="green" if collection.kind == COMMUNITY else "amber",
            share_with=audience,
        )
        failed.update({plain[r.index][0]: r.reason for r in result.rejected})
    if federated:
        # A node's objects arrive from that node only: posted by a user of the organisation that runs it (a peer
        # pushing), never by someone who merely holds them (issue 12).
        senders = set(session.scalars(select(Peer.node_id).where(Peer.organisation_id == principal.org_id)))
        result = importer.receive(
            session,
            objects=[o for _, o in federated],
            ring=nodes.key_ring(session, node),
            local_node=node.id,
            actor=principal,
            origin=origin,
            senders=senders,
            via=f"from a user of organisation {principal.org_id}",
        )
        failed.update({federated[r.index][0]: r.reason for r in result.rejected})
    outcome = _Outcome()
    for index, obj in enumerate(objects):
        oid, version = _ident(obj)
        if index in failed:
            outcome.failures.append({"id": oid, "version": version, "message": failed[index]})
        else:
            outcome.successes.append({"id": oid, "version": version})
    details = {"successes": outcome.successes, "failures": outcome.failures, "pendings": []}
    status = TaxiiStatus(
        id=str(uuid.uuid4()),
        user_id=principal.user_id,
        collection_id=collection.id,
        request_timestamp=utcnow(),
        total_count=len(objects),
        success_count=len(outcome.successes),
        failure_count=len(outcome.failures),
        pending_count=0,
        details=details,
    )
    session.add(status)
    audit.record(
        session,
        actor=principal,
        tag="exchange:taxii:add",
        object_id=None,
        summary={
            "collection": collection.id,
            "status": status.id,
            "total": status.total_count,
            "successes": status.success_count,
            "failures": status.failure_count,
        },
    )
    return status_resource(status)


def status_resource(row: TaxiiStatus) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": "complete",
        "request_timestamp": stamp(row.request_timestamp),
        "total_count": row.total_count,
        "success_count": row.success_count,
        "successes": row.details.get("successes", []),
        "failure_count": row.failure_count,
        "failures": row.details.get("failures", []),
        "pending_count": row.pending_count,
        "pendings": row.details.get("pendings", []),
    }


def get_status(session: Session, *, principal: Principal, status_id: str) -> dict[str, Any]:
    row = session.get(TaxiiStatus, status_id) if len(status_id) <= 36 else None
    if row is None or row.user_id != principal.user_id:
        raise NotFound(f"no status {status_id}")
    return status_resource(row)


def delete_object(
    session: Session, *, principal: Principal, collection: Collection, object_id: str, filters: Filters
) -> list[str]:
    """Delete versions of an imported object (TAXII 2.1 §5.7); returns the versions deleted.

    Only its holder organisation deletes it, with `exchange:object:import`, and only its own copy: other copies of
    the id (exchange/copies.py) stay; this node's own objects as STIX (and objects derived from them) change through
    the platform, never here."""
    audit.lock(session)  # like imports: `latest` is decided under the lock
    where = _where(session, principal, collection, filters, object_id=object_id, once=False)
    rows = list(session.scalars(select(StixObject).where(*where)))
    if not rows:
        raise NotFound(f"no object {object_id} in collection {collection.id}")
    principal.require(Permission.EXCHANGE_IMPORT)
    mine = [r for r in rows if r.owner_org_id == principal.org_id and not copies.published(r.origin, r.id, r.share_id)]
    tables = importer.local_types(session)
    if not mine and any(r.owner_org_id != principal.org_id for r in rows):
        raise PermissionDenied("only the organisation that holds an object deletes it")
    if not mine or copies.local_objects(session, [object_id], tables, None):
        raise PermissionDenied(f"{object_id} is one of this node's own objects: change it through the platform")
    deleted = [version_of(r.modified, r.added_at) for r in mine]
    session.execute(delete(StixObject).where(StixObject.seq.in_([r.seq for r in mine])))
    for key in sorted({r.share_id for r in mine if r.latest}):  # the newest remaining version of that copy
        newest = session.scalar(
            select(func.max(StixObject.modified)).where(StixObject.id == object_id, StixObject.share_id == key)
        )
        if newest is not None:
            session.execute(
                update(StixObject)
                .where(StixObject.id == object_id, StixObject.share_id == key, StixObject.modified == newest)
                .values(latest=True)
            )
    for key in sorted({r.share_id for r in mine}):
        remaining = select(StixObject.seq).where(StixObject.share_id == key).limit(1)
        if session.scalar(remaining) is None and not copies.local_objects(session, [key], tables, None):
            session.execute(delete(Share).where(Share.object_id == key))
    audit.record(
        session,
        actor=principal,
        tag="exchange:taxii:delete",
        object_id=object_id,
        summary={"collection": collection.id, "versions": deleted},
    )
    return deleted


# --- administration ------------------------------------------------------------------------------------------


def add_collection(
    session: Session,
    *,
    actor: Principal | None,
    title: str,
    kind: str,
    target: str,
    types: Sequence[str] = (),
    can_write: bool = True,
    description: str = "",
) -> Collection:
    """Define a collection for a community (slug) or an organisation (id or short name); `actor` None: the
    operator. Audited (`exchange:collection:create`)."""
    if actor is not None:
        actor.require(Permission.EXCHANGE_ADMIN)
    title = title.strip()
    if not title or len(title) > 200:
        raise InvalidInput("title: 1 to 200 characters", errors=[{"field": "title", "message": "1 to 200 characters"}])
    if kind == COMMUNITY:
        found = session.scalar(select(Community.slug).where(Community.slug == target))
    elif kind == ORG:
        found = session.scalar(
            select(Organisation.id).where(or_(Organisation.id == target, Organisation.short_name == target))
        )
    else:
        raise InvalidInput(
            f"kind: {kind!r} is not community or organisation",
            errors=[{"field": "kind", "message": "community or organisation"}],
        )
    if found is None:
        raise InvalidInput(f"{kind}: unknown {kind} {target!r}", errors=[{"field": kind, "message": "unknown"}])
    bad = [t for t in types if not _TYPE.match(t) or len(t) < 3 or len(t) > 100]
    if bad:
        raise InvalidInput(f"types: {bad[0]!r} is not a STIX type", errors=[{"field": "types", "message": bad[0]}])
    row = TaxiiCollection(
        id=str(uuid.uuid4()),
        title=title,
        description=description,
        audience_kind=kind,
        audience_target=found,
        types=sorted(set(types)) or None,
        can_write=can_write,
        created_by_id=actor.user_id if actor else None,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor if actor and actor.user_id else None,
        tag="exchange:collection:create",
        object_id=None,
        summary={
            "collection": row.id,
            "title": title,
            "audience": f"{kind}:{found}",
            "types": row.types,
            "can_write": can_write,
        },
    )
    return _defined(row)


def remove_collection(session: Session, *, actor: Principal | None, cid: str) -> None:
    """Remove a defined collection (the objects stay in the store). Audited (`exchange:collection:delete`)."""
    if actor is not None:
        actor.require(Permission.EXCHANGE_ADMIN)
    row = session.get(TaxiiCollection, cid)
    if row is None:
        raise NotFound(f"no defined collection {cid} (community and organisation collections cannot be removed)")
    session.delete(row)
    audit.record(
        session,
        actor=actor if actor and actor.user_id else None,
        tag="exchange:collection:delete",
        object_id=None,
        summary={"collection": cid, "title": row.title},
    )
