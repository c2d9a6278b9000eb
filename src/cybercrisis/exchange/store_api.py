"""The STIX object store over HTTP: import a STIX 2.1 bundle, list and read the stored objects you may see.

Import rules (checks, markings, idempotence, atomic or not): exchange/importer.py and docs/exchange.md
("Exchange: importing STIX 2.1"). Reads go through the access layer: an object you may not see is absent from
lists and answers 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from cybercrisis.access.policy import read_filter
from cybercrisis.access.schemas import ShareWith
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.errors import InvalidInput, NotFound
from cybercrisis.exchange import copies, importer
from cybercrisis.exchange.models import StixObject

router = APIRouter(prefix="/api/v1", tags=["exchange"])


class RejectedOut(BaseModel):
    index: int = Field(description="position of the object in the bundle's `objects` (from 0)")
    id: str | None = Field(description="the object's id, when it has one")
    reason: str = Field(description="what is wrong, naming the property")


class ImportOut(BaseModel):
    imported: int = Field(description="new object versions stored")
    unchanged: int = Field(description="versions (same id and modified) already stored: nothing written")
    custom: int = Field(description="imported objects that are `x-` types or carry custom properties")
    rejected: list[RejectedOut]


class StixObjectOut(BaseModel):
    seq: int = Field(description="arrival order in this node's store; the keyset of listings (`after`)")
    id: str
    type: str
    modified: datetime = Field(description="the version: `modified`, else `created`, else 1970-01-01T00:00Z")
    spec_version: str
    custom: bool
    revoked: bool
    tlp: str
    owner: str = Field(description="the organisation that imported this copy")
    origin: str = Field(description="where it came from, e.g. file:ics-attack.json or api:bundle--...")
    added: datetime
    object: dict[str, Any] = Field(description="the STIX object exactly as received")


class StixObjectPage(BaseModel):
    items: list[StixObjectOut]
    next: int | None = Field(description="pass as `after` for the next page; null on the last page")


class StixObjectVersions(BaseModel):
    id: str
    versions: list[StixObjectOut] = Field(description="every version you may see, oldest `modified` first")


def _out(row: StixObject) -> StixObjectOut:
    return StixObjectOut(
        seq=row.seq,
        id=row.id,
        type=row.type,
        modified=row.modified,
        spec_version=row.spec_version,
        custom=row.custom,
        revoked=row.revoked,
        tlp=row.tlp,
        owner=row.owner_org_id,
        origin=row.origin,
        added=row.added_at,
        object=row.data,
    )


async def _raw_body(request: Request) -> bytes:
    """The request body as sent (the body size limit applies while it is read)."""
    return await request.body()


_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A STIX 2.1 bundle (`application/stix+json;version=2.1` or `application/json`).",
        "content": {
            "application/stix+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "/import/stix",
    operation_id="import_stix",
    response_model=ImportOut,
    openapi_extra=_IMPORT_BODY,
    responses={
        413: {"description": "The body is over the server's limit: use `cybercrisis import stix`."},
        422: {
            "description": "Malformed JSON (with the parser's position), not a STIX 2.1 bundle, "
            "bad recipients, or (atomic) any rejected object."
        },
    },
)
def import_stix(
    body: Annotated[bytes, Depends(_raw_body)],
    db: DB,
    principal: CurrentPrincipal,
    atomic: Annotated[bool, Query(description="refuse the whole bundle if any object is rejected")] = False,
    tlp: Annotated[str, Query(description="TLP of objects without a TLP marking")] = "amber",
    community: Annotated[list[str], Query(description="share with this community (repeatable)")] = [],  # noqa: B006
    organisation: Annotated[list[str], Query(description="share with this organisation id (repeatable)")] = [],  # noqa: B006
) -> ImportOut:
    """Import a STIX 2.1 bundle into the store (needs `exchange:object:import`); your organisation owns the copies.

    Each object is checked: `type`, an id `<type>--<uuid>` of that type, `spec_version` "2.1", `created` and
    `modified` RFC 3339 timestamps with a zone, and markings that are TLP 2.0 / TLP 1.0 (TLP:WHITE means CLEAR) or
    marking definitions in the bundle or already stored. A bundle that is not STIX 2.1 (a 2.0 bundle, an object
    with another spec_version, no `objects` list) is refused whole with 422. Custom `x-` objects and custom
    properties are kept as received and counted in `custom`.

    The stored TLP comes from the object's TLP marking (the strictest), else `tlp`; `community` / `organisation`
    add recipients (checked against that TLP; default: GREEN goes to your communities, AMBER and stricter stay in
    your organisation). Re-posting the same versions (`id`, `modified`) changes nothing (`unchanged`).
    `atomic=false` (default): valid objects are stored and the rejected listed; `atomic=true`: any rejection
    refuses everything with 422 listing up to 20. The request body limit applies: import big files with
    `cybercrisis import stix FILE`."""
    data = importer.loads(body)
    objects = importer.bundle_objects(data)
    bundle_id = data["id"] if isinstance(data.get("id"), str) else "bundle"
    try:
        share_with = ShareWith(communities=community, organisations=organisation)
    except ValidationError as exc:
        raise InvalidInput("too many recipients", errors=[{"field": "community", "message": str(exc)}]) from None
    result = importer.ingest(
        db,
        actor=principal,
        objects=objects,
        origin=f"api:{bundle_id}"[:300],
        default_tlp=tlp,
        share_with=share_with,
        atomic=atomic,
    )
    return ImportOut(
        imported=result.imported,
        unchanged=result.unchanged,
        custom=result.custom,
        rejected=[RejectedOut(index=r.index, id=r.id, reason=r.reason) for r in result.rejected],
    )


@router.get("/stix-objects", operation_id="list_stix_objects", response_model=StixObjectPage)
def list_stix_objects(
    db: DB,
    principal: CurrentPrincipal,
    type: Annotated[str | None, Query(max_length=100, description="only objects of this STIX type")] = None,  # noqa: A002
    after: Annotated[int | None, Query(ge=0, description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> StixObjectPage:
    """Stored STIX object versions you may see, in arrival order (keyset on `seq`). Every version is listed:
    an object imported in two versions appears twice, each with its own `modified`; a version held in several
    copies you may see (an observable in two incidents) once, from the oldest."""
    q = select(StixObject).where(read_filter(principal, StixObject), copies.first_copy(principal))
    if type:
        q = q.where(StixObject.type == type)
    if after is not None:
        q = q.where(StixObject.seq > after)
    rows = list(db.scalars(q.order_by(StixObject.seq).limit(limit + 1)))
    nxt = rows[limit - 1].seq if len(rows) > limit else None
    return StixObjectPage(items=[_out(r) for r in rows[:limit]], next=nxt)


@router.get(
    "/stix-objects/{object_id}",
    operation_id="get_stix_object",
    response_model=StixObjectVersions,
    responses={404: {"description": "No such object, or none you may see."}},
)
def get_stix_object(object_id: str, db: DB, principal: CurrentPrincipal) -> StixObjectVersions:
    """Every stored version of one STIX object that you may see, oldest first; 404 when there is none."""
    rows = list(
        db.scalars(
            select(StixObject)
            .where(StixObject.id == object_id, read_filter(principal, StixObject), copies.first_copy(principal))
            .order_by(StixObject.modified, StixObject.seq)
        )
    )
    if not rows:
        raise NotFound(f"no STIX object with id {object_id}")
    return StixObjectVersions(id=object_id, versions=[_out(r) for r in rows])
