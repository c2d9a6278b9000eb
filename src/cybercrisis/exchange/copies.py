"""Copies of one STIX id in the store (issue 12, ADR 0008 addendum): who holds what, and what travels signed.

A *copy* is the set of versions of one id that share one share key (`StixObject.share_id`): the share rows of that
key decide who reads them, and `latest` marks the newest version of each copy. Most ids have one copy. Ids that
anyone may compute from content (observables, whose STIX ids are UUIDv5 of their values, and the countries and
CVEs of our incident exports) are held in as many copies as there are holders:

- each incident of this node that saw an observable stores its own copy under the incident's id (publish.py);
- each organisation that imports it has its own copy: the key is the id for the first importer, a new `copy--`
  key for the others, reused for that organisation's later imports when its user may read it;
- each copy received from a peer node keeps the origin's copy apart (`copy` tag of the signature block).

So importing an observable gives the same answer whether or not a hidden incident holds its value, and no holder
ever adds versions or recipients to another's copy. Other ids (random UUIDs) have one holder: only it adds
versions, and only from where it came (this node's platform, the user's organisation, or the origin node).

Readers who may read several copies of one version get it once, from the oldest readable copy (`first_copy`).
The share list of each of our versions travels signed (`x_cybercrisis_shares`): when the list of a key changes,
its versions are stored again at the end of the store (`reserve`), unsigned until the signer signs them with the
new list, so that TAXII readers and peers get them again with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, exists, insert, literal, or_, select
from sqlalchemy.orm import Session, aliased

from cybercrisis.access.models import Share
from cybercrisis.access.policy import can_read, read_filter, read_scope
from cybercrisis.access.principal import Principal
from cybercrisis.access.sharing import shares_of_many
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import StixObject

LOCAL = "local:"  # the origin of the versions published from this node's own objects (publish.py)
COPY = "copy"  # the prefix of share keys made for a further copy of an id
BATCH = 1000


@cache
def is_sco(stix_type: str) -> bool:
    from stix2.registry import STIX2_OBJ_MAPS  # type: ignore[import-untyped]

    return stix_type in STIX2_OBJ_MAPS["2.1"]["observables"]


def content_addressed(stix_type: str, oid: str, obj: Mapping[str, Any]) -> bool:
    """Whether anyone may compute this id from the object's content: an observable (SCO), or a country or CVE as
    our exports derive them. Such an id says nothing about who holds it, so it is held in copies."""
    if is_sco(stix_type):
        return True
    if stix_type not in ("location", "vulnerability"):
        return False
    from cybercrisis.exchange.stix_common import derived_id

    if stix_type == "location" and isinstance(obj.get("country"), str):
        return oid == derived_id("location", f"country:{obj['country']}")
    if stix_type == "vulnerability" and isinstance(obj.get("name"), str):
        return oid == derived_id("vulnerability", f"cve:{obj['name']}")
    return False


def published(origin: str, oid: str, share_id: str) -> bool:
    """Whether a stored version is one of this node's own objects as STIX (publish.py), or derived from one (keyed
    on that object's id), rather than an import or a peer's object (keyed on its own id or a `copy--` key)."""
    return origin.startswith(LOCAL) or (share_id != oid and not share_id.startswith(f"{COPY}--"))


def new_key() -> str:
    return f"{COPY}--{uuid.uuid4()}"


def received_key(node_id: str, tag: str) -> str:
    """The share key of a copy received from `node_id` with copy tag `tag`: the same for every id of that copy."""
    return f"{COPY}--{uuid.uuid5(nodes.COPY_NAMESPACE, f'received|{node_id}|{tag}')}"


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


def share_lists(session: Session, keys: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """The organisation and community recipients of each share key, as they travel (`node.canonical_shares`)."""
    wanted = sorted(set(keys))
    found: dict[str, list[tuple[str, str]]] = {k: [] for k in wanted}
    for chunk in _chunks(wanted):
        rows = session.execute(
            select(Share.object_id, Share.kind, Share.target).where(
                Share.object_id.in_(chunk), Share.kind.in_(nodes.SHARE_KINDS)
            )
        )
        for key, kind, target in rows:
            found[key].append((kind, target))
    return {k: nodes.canonical_shares(v) for k, v in found.items()}


# --- who holds an id ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Held:
    """One stored version of an id, as an import or a receipt needs to know it."""

    seq: int
    id: str
    modified: datetime
    share_id: str
    owner: str
    origin_node: str | None
    local: bool  # published from one of this node's own objects
    readable: bool  # by the importing user (always True for a receipt from a peer)
    shares: list[dict[str, str]] | None

    def imported_by(self, org: str) -> bool:
        """A version of a copy that `org` imported on this node (not ours as a platform, not a peer's)."""
        return self.owner == org and self.origin_node is None and not self.local


def held(session: Session, ids: Sequence[str], reader: Principal | None) -> dict[str, list[Held]]:
    """Every stored version of these ids, oldest first, with whether `reader` may read it: two index-driven queries
    per 1,000 ids (the versions, then the share rows of their copies), the read policy applied here with `can_read`
    (the same rules as `read_filter`, tests/access/test_policy.py). Asked in SQL, the policy's EXISTS over the share
    rows made PostgreSQL scan them for every version while an import grew them: 100,000 objects took 134 s."""
    out: dict[str, list[Held]] = {}
    for chunk in _chunks(sorted(set(ids))):
        columns = (
            StixObject.seq,
            StixObject.id,
            StixObject.modified,
            StixObject.share_id,
            StixObject.owner_org_id,
            StixObject.origin_node,
            StixObject.origin,
            StixObject.tlp,
            StixObject.shares,
        )
        # First the versions' seq alone, which the (id, seq) index answers by itself, then the rest by primary key:
        # during a large import PostgreSQL's statistics lag the growing store, and a plan that also needs the
        # other columns scans the whole table for every batch.
        found = list(session.scalars(select(StixObject.seq).where(StixObject.id.in_(chunk))))
        rows = (
            sorted(session.execute(select(*columns).where(StixObject.seq.in_(found))), key=lambda r: r[0])
            if (found)
            else []
        )
        access = shares_of_many(session, sorted({r[3] for r in rows})) if reader is not None else {}
        for seq, oid, modified, key, owner, node, origin, tlp, shares in rows:
            ours = node is None and published(origin, oid, key)
            can = reader is None or can_read(
                reader, tlp=tlp, owner_org_id=owner, shares=access.get(key, ()), scope=read_scope(StixObject)
            )
            out.setdefault(oid, []).append(Held(seq, oid, modified, key, owner, node, ours, can, shares))
    return out


def local_objects(
    session: Session,
    ids: Sequence[str],
    tables: Mapping[str, list[type]],
    reader: Principal | None,
    *,
    replicas: bool = False,
) -> dict[str, bool]:
    """The ids that are this node's own objects (incidents, alerts, ...), with whether `reader` may read each.
    Replicas are not, unless `replicas`: they are the origin's copy, whose next versions arrive from it (ADR 0013);
    deleting asks with `replicas=True`, since a replica's versions and share rows are not anyone's to delete here."""
    out: dict[str, bool] = {}
    by_type: dict[str, list[str]] = {}
    for i in sorted(set(ids)):
        by_type.setdefault(i.split("--", 1)[0], []).append(i)
    for prefix, same in sorted(by_type.items()):
        for model in tables.get(prefix, []):
            table: Any = model
            can: Any = (
                case((read_filter(reader, table), literal(True)), else_=literal(False)) if reader else (literal(True))
            )
            query = select(table.id, can).where(table.id.in_(same))
            if not replicas:
                query = query.where(table.origin_node.is_(None))
            for oid, readable in session.execute(query):
                out[oid] = out.get(oid, False) or bool(readable)
    return out


# --- reading several copies --------------------------------------------------------------------------------------


def first_copy(
    principal: Principal, where: Callable[[Any], list[ColumnElement[bool]]] | None = None, *, newer: str = ""
) -> ColumnElement[bool]:
    """Rows that no older copy the reader also gets holds: each (id, version) once, from its oldest readable copy.
    `where(model)`: the other conditions of the answer about `model` (a collection's membership). `newer`: also no
    readable copy holds a newer version (`"last"`, TAXII `match[version]=last`) or an older one (`"first"`)."""
    other = aliased(StixObject)
    clause: ColumnElement[bool] = and_(other.modified == StixObject.modified, other.seq < StixObject.seq)
    if newer == "last":
        clause = or_(clause, other.modified > StixObject.modified)
    elif newer == "first":
        clause = or_(clause, other.modified < StixObject.modified)
    visible = [read_filter(principal, other), *(where(other) if where else [])]
    return ~exists(select(other.seq).where(other.id == StixObject.id, clause, *visible))


# --- re-serving a copy whose share list changed ------------------------------------------------------------------

_KEEP = [c.name for c in StixObject.__table__.columns if c.name != "seq"]


def reserve(session: Session, *, key: str, shares: list[dict[str, str]], now: datetime) -> int:
    """Store the versions of our copy `key` again at the end of the store, unsigned, travelling with `shares`: its
    share list changed, and TAXII readers and peers that already have them get them again with the new list."""
    rows = [
        dict(r._mapping)
        for r in session.execute(
            select(*[StixObject.__table__.c[n] for n in _KEEP])
            .where(StixObject.share_id == key, StixObject.origin_node.is_(None))
            .order_by(StixObject.seq)
        )
    ]
    if not rows:
        return 0
    session.execute(delete(StixObject).where(StixObject.share_id == key, StixObject.origin_node.is_(None)))
    for row in rows:
        row.update(added_at=now, signed=False, signature=None, shares=shares)
    session.execute(insert(StixObject.__table__), rows)  # type: ignore[arg-type]
    return len(rows)


def restore_at_end(session: Session, *, seq: int, now: datetime, signature: Any, shares: Any) -> None:
    """Store one received version again at the end of the store with the signature and share list its origin
    re-served it with (a new `seq` and `added_at`), so that TAXII readers and the peers it is relayed to, whose
    cursors are past it, get it again with the new list."""
    row = session.execute(select(*[StixObject.__table__.c[n] for n in _KEEP]).where(StixObject.seq == seq)).first()
    if row is None:
        return
    values = dict(row._mapping) | {"added_at": now, "signature": signature, "shares": shares, "signed": True}
    session.execute(delete(StixObject).where(StixObject.seq == seq))
    session.execute(insert(StixObject.__table__), [values])  # type: ignore[arg-type]
