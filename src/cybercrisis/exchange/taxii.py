"""The TAXII 2.1 server's collections (ADR 0008): one per community and one per organisation (deterministic ids, no
rows), plus those an administrator defines (`TaxiiCollection`), and what is in each (`membership`). docs/taxii.md.

The queries of a read are in exchange/taxii_pages.py, the resources as served in exchange/taxii_resources.py, the
writes in exchange/taxii_posts.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import COMMUNITY, ORG
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.db import utcnow
from cybercrisis.directory.models import Community, Organisation
from cybercrisis.errors import DomainError, InvalidInput, NotFound
from cybercrisis.exchange.models import NO_MODIFIED, StixObject, TaxiiCollection

TAXII_NAMESPACE = uuid.UUID("6f1f8a3e-0c7b-4d3e-9b64-3f0c2a7d9e11")
API_ROOT = "cybercrisis"
MEDIA_TAXII = "application/taxii+json;version=2.1"
MEDIA_STIX = "application/stix+json;version=2.1"
KINDS = (COMMUNITY, ORG)
# The `modified` stored for objects that have none (SCOs, marking-definitions): their version is date_added.
EPOCH = NO_MODIFIED.replace(tzinfo=UTC)
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
    moment = added_at if modified == EPOCH else modified
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
