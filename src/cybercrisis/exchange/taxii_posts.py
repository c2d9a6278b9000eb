"""The TAXII 2.1 server's writes: POSTed envelopes (stored through the importer), their status resources, and
deletes of an organisation's own imported versions (ADR 0008). docs/taxii.md.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import COMMUNITY
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.audit import service as audit
from cybercrisis.db import utcnow
from cybercrisis.errors import InvalidInput, NotFound, PermissionDenied
from cybercrisis.exchange import copies, importer, relays
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import Peer, StixObject, TaxiiStatus
from cybercrisis.exchange.taxii import Collection, stamp, version_of
from cybercrisis.exchange.taxii_pages import Filters, _where

log = logging.getLogger("cybercrisis.taxii")


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
            relays=relays.through(session, senders),
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
    if not mine or copies.local_objects(session, [object_id], tables, None, replicas=True):
        raise PermissionDenied(
            f"{object_id} is one of this node's own objects, or held here for another node: change it through the "
            "platform, or at the node that holds it"
        )
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
        if session.scalar(remaining) is None and not copies.local_objects(session, [key], tables, None, replicas=True):
            session.execute(delete(Share).where(Share.object_id == key))
    audit.record(
        session,
        actor=principal,
        tag="exchange:taxii:delete",
        object_id=object_id,
        summary={"collection": collection.id, "versions": deleted},
    )
    return deleted
