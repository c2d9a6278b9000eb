"""STIX 2.1 import into the store of STIX objects (ADR 0008): checked, idempotent, fast, one audit entry.

`ingest` checks every object (type, `<type>--<uuid>` id, spec_version 2.1, RFC 3339 timestamps with a zone, known
markings), keeps custom (`x-`) objects and custom properties as received, and stores each new version
(`id`, `modified`) once, owned by the importer's organisation, with the TLP of its marking and share rows from
`share_with`. A version already stored is `unchanged` and nothing is written. `atomic=True` refuses the whole input
when any object is rejected. The caller owns the transaction: the API request, or one per file in the CLI.

Speed: objects are checked in Python, existing versions are looked up ~1,000 ids per query, rows are inserted with
Core executemany and share rows in bulk; there is no per-object SELECT.

Who holds an id: share rows are keyed by the STIX id (access.models.Share), so all versions of an id, and a local
object with that id (e.g. one of our incidents exported and imported again), share one list. An import therefore
never adds recipients to an id that another organisation holds on this node (such objects are rejected: only the
holder imports new versions of them), and never changes the share list of a local object of the importer's own
organisation (its own list applies to the imported copy too).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import func, insert, literal, select, text, union_all, update
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.models import Share, Shareable
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.audit import service as audit
from cybercrisis.db import Base, utcnow
from cybercrisis.directory.models import Community, Organisation
from cybercrisis.errors import InvalidInput, PermissionDenied
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.models import NO_MODIFIED, StixObject

BATCH = 1000
MAX_LISTED = 20  # rejections listed in an atomic refusal
ANALYZE_AFTER = 5000  # imports this large refresh PostgreSQL's statistics of the store
MAX_ID = 120  # the StixId column
MAX_TYPE = 100
MAX_ORIGIN = 300

# TLP 1.0 marking-definition ids (fixed by OASIS in STIX 2.0/2.1); TLP:WHITE is TLP 2.0's CLEAR.
TLP1_MARKING_IDS: dict[str, TLP] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLP.CLEAR,
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLP.GREEN,
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLP.AMBER,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLP.RED,
}
MARKING_TLP: dict[str, TLP] = {v: k for k, v in STIX_MARKING_IDS.items()} | TLP1_MARKING_IDS

TLP_VALUES = frozenset(t.value for t in TLP)
_TYPE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$", re.IGNORECASE)
_AWARE_NO_MODIFIED = NO_MODIFIED.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int  # position in the input
    id: str | None  # the object's id when it has one
    reason: str  # clear, names the property and the problem


@dataclass(slots=True)
class ImportResult:
    imported: int = 0  # new object versions stored
    unchanged: int = 0  # versions already stored (same id and modified): nothing written
    rejected: list[Rejected] = field(default_factory=list)
    custom: int = 0  # imported objects that are x- types or carry custom properties (kept as received)


# --- reading a bundle --------------------------------------------------------------------------------------------


def loads(raw: bytes | str) -> Any:
    """JSON text -> data; malformed JSON is a 422 naming the parser's line, column and position."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        message = f"malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno} (char {exc.pos})"
        raise InvalidInput(message, errors=[{"field": "body", "message": message}]) from None
    except UnicodeDecodeError as exc:
        message = f"malformed JSON: not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise InvalidInput(message, errors=[{"field": "body", "message": message}]) from None


def bundle_objects(data: Any) -> list[Any]:
    """The `objects` of a STIX 2.1 bundle; anything else (a STIX 2.0 bundle, no `objects` list) is refused whole."""

    def refuse(message: str, where: str = "body") -> InvalidInput:
        return InvalidInput(message, errors=[{"field": where, "message": message}])

    if not isinstance(data, dict) or data.get("type") != "bundle":
        raise refuse('not a STIX bundle: expected a JSON object with "type": "bundle"', "type")
    if "spec_version" in data:
        # STIX 2.0 bundles carry spec_version; STIX 2.1 bundles must not.
        raise refuse(
            f"not a STIX 2.1 bundle: the bundle has spec_version {data['spec_version']!r} (STIX 2.0); "
            "convert it to STIX 2.1 first",
            "spec_version",
        )
    objects = data.get("objects", [])
    if not isinstance(objects, list):
        raise refuse('not a STIX 2.1 bundle: "objects" is not a list', "objects")
    return objects


# --- checking one object -----------------------------------------------------------------------------------------


@cache
def _known_properties(stix_type: str) -> frozenset[str] | None:
    """The properties STIX 2.1 defines for a type (from the stix2 library), None for types it does not define."""
    from stix2.registry import STIX2_OBJ_MAPS  # type: ignore[import-untyped]

    maps = STIX2_OBJ_MAPS["2.1"]
    cls = maps["objects"].get(stix_type) or maps["observables"].get(stix_type)
    if cls is None or stix_type == "bundle":
        return None
    return frozenset(cls._properties)


def _is_sco(stix_type: str) -> bool:
    from stix2.registry import STIX2_OBJ_MAPS

    return stix_type in STIX2_OBJ_MAPS["2.1"]["observables"]


def _timestamp(obj: dict[str, Any], name: str) -> datetime | str:
    """The parsed UTC time of `obj[name]`, or the reason it is not an RFC 3339 timestamp with a zone."""
    value = obj[name]
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?$", value):
            return f"{name} {value!r} has no time zone (STIX timestamps are UTC: end it with Z)"
        return f"{name} {value!r} is not an RFC 3339 timestamp such as 2026-11-28T09:00:00.000Z"
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError:
        return f"{name} {value!r} is not a valid date and time"


@dataclass(slots=True)
class _Candidate:
    index: int
    obj: dict[str, Any]
    id: str
    type: str
    modified: datetime
    markings: list[str]
    custom: bool


class _NotStix21(Exception):
    """The input as a whole is not STIX 2.1 (e.g. a 2.0 object): refused entirely, never object by object."""


def _check_id(obj: dict[str, Any]) -> tuple[str, str] | str:
    """(type, id), or the reason they are not a STIX type and a `<type>--<uuid>` id of it."""
    stix_type, oid = obj.get("type"), obj.get("id")
    if not isinstance(stix_type, str) or not stix_type:
        return "type is missing"
    if stix_type == "bundle":
        return "type: a bundle may not be nested in a bundle"
    if len(stix_type) < 3 or len(stix_type) > MAX_TYPE or not _TYPE.match(stix_type):
        return f"type {stix_type!r} is not a STIX type (3-{MAX_TYPE} characters: a-z, 0-9 and hyphens)"
    if not isinstance(oid, str):
        return "id is missing" if oid is None else "id is not a string"
    prefix, sep, rest = oid.partition("--")
    if not sep:
        return f"id {oid!r} is not of the form {stix_type}--<uuid>"
    if prefix != stix_type:
        return f"id {oid!r} does not match its type {stix_type!r} (expected {stix_type}--<uuid>)"
    try:
        if len(rest) != 36 or str(uuid.UUID(rest)) != rest.lower():
            raise ValueError(rest)
    except ValueError:
        return f"id {oid!r}: {rest!r} is not a UUID"
    if len(oid) > MAX_ID:
        return f"id is longer than {MAX_ID} characters"
    return stix_type, oid


def _check_times(obj: dict[str, Any], stix_type: str, required: bool) -> dict[str, datetime] | str:
    times: dict[str, datetime] = {}
    for name in ("created", "modified"):
        if name not in obj:
            if required:
                return f"{name} is missing (required for a {stix_type})"
            continue
        parsed = _timestamp(obj, name)
        if isinstance(parsed, str):
            return parsed
        times[name] = parsed
    if "created" in times and "modified" in times and times["modified"] < times["created"]:
        return "modified is earlier than created"
    return times


def _check_markings(obj: dict[str, Any]) -> list[str] | str:
    """Every marking-definition id the object refers to (object and granular markings), or what is wrong."""
    refs = obj.get("object_marking_refs", [])
    if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
        return "object_marking_refs is not a list of marking-definition ids"
    granular = obj.get("granular_markings", [])
    if not isinstance(granular, list) or not all(isinstance(g, dict) for g in granular):
        return "granular_markings is not a list of objects"
    markings = list(refs) + [g["marking_ref"] for g in granular if isinstance(g.get("marking_ref"), str)]
    bad = [r for r in markings if not r.startswith("marking-definition--")]
    if bad:
        return f"object_marking_refs: {bad[0]!r} is not a marking-definition id"
    return markings


def _check(index: int, obj: Any) -> _Candidate | Rejected:
    """The checks that need nothing but the object itself. Raises _NotStix21 for another spec_version."""
    if not isinstance(obj, dict):
        return Rejected(index, None, f"object #{index} is not a JSON object")
    ident = _check_id(obj)
    if isinstance(ident, str):
        return Rejected(index, obj["id"] if isinstance(obj.get("id"), str) else None, ident)
    stix_type, oid = ident
    spec = obj.get("spec_version")
    if spec is not None and spec != "2.1":
        raise _NotStix21(f"not STIX 2.1: object #{index} ({oid}) has spec_version {spec!r}")
    known = _known_properties(stix_type)
    is_sco = _is_sco(stix_type)
    if spec is None and not is_sco:
        return Rejected(index, oid, 'spec_version is missing (STIX 2.1 objects carry "spec_version": "2.1")')
    times = _check_times(obj, stix_type, known is not None and not is_sco and stix_type != "marking-definition")
    if isinstance(times, str):
        return Rejected(index, oid, times)
    markings = _check_markings(obj)
    if isinstance(markings, str):
        return Rejected(index, oid, markings)
    version = times.get("modified") or times.get("created") or _AWARE_NO_MODIFIED
    custom = known is None or any(k not in known for k in obj)
    return _Candidate(index, obj, oid, stix_type, version, markings, custom)


def _tlp_of(candidate: _Candidate, default: TLP) -> TLP:
    if candidate.id in MARKING_TLP:
        return TLP.CLEAR  # the TLP marking definitions themselves are public
    levels = [MARKING_TLP[r] for r in candidate.obj.get("object_marking_refs", ()) if r in MARKING_TLP]
    return max(levels, key=lambda t: t.rank) if levels else default


# --- the import ----------------------------------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _local_models() -> list[type]:
    return sorted(
        (m.class_ for m in Base.registry.mappers if issubclass(m.class_, Shareable)), key=lambda c: c.__name__
    )


def local_types(session: Session) -> dict[str, list[type]]:
    """The id prefixes (`incident`, `crisis`, ...) of this node's own objects, with the tables that hold them.

    Each table's ids share one prefix, so one indexed row per table tells it; an empty table holds nothing an
    import could collide with. Read once per import, so that `holders` asks only the tables that matter."""
    out: dict[str, list[type]] = {}
    for m in _local_models():
        one = session.scalars(select(m.id).limit(1)).first()  # type: ignore[attr-defined]
        if one is not None:
            out.setdefault(str(one).split("--", 1)[0], []).append(m)
    return out


Holders = tuple[dict[str, set[str]], set[str]]


def holders(session: Session, ids: Sequence[str], local_tables: dict[str, list[type]]) -> Holders:
    """Who holds each id here: the organisations owning its stored STIX versions or a local object with that id;
    and which ids are local objects (incidents, alerts, ... of this node), in one query."""
    out: dict[str, set[str]] = {}
    local: set[str] = set()
    if not ids:
        return out, local
    wanted = sorted(set(ids))
    parts: list[Any] = [
        select(StixObject.id, StixObject.owner_org_id, literal(False).label("local")).where(StixObject.id.in_(wanted))
    ]
    by_type: dict[str, list[str]] = {}
    for i in wanted:
        by_type.setdefault(i.split("--", 1)[0], []).append(i)
    for prefix, same in sorted(by_type.items()):
        for model in local_tables.get(prefix, []):
            table: Any = model
            parts.append(select(table.id, table.owner_org_id, literal(True).label("local")).where(table.id.in_(same)))
    query: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    for oid, org, is_local in session.execute(query):
        out.setdefault(oid, set()).add(org)
        if is_local:
            local.add(oid)
    return out, local


@dataclass(slots=True)
class _Plan:
    rows: list[dict[str, Any]] = field(default_factory=list)
    shares: list[dict[str, Any]] = field(default_factory=list)
    # ids whose newest version is now one of `rows`: their older stored versions stop being `latest`
    superseded: dict[str, datetime] = field(default_factory=dict)

    def write(self, session: Session, now: datetime) -> None:
        for row in self.rows:
            row["added_at"] = now
        if self.rows:
            session.execute(insert(StixObject.__table__), self.rows)  # type: ignore[arg-type]
        if self.shares:
            session.execute(insert(Share.__table__), self.shares)  # type: ignore[arg-type]
        by_version: dict[datetime, list[str]] = {}
        for oid, newest in self.superseded.items():
            by_version.setdefault(newest, []).append(oid)
        for newest, ids in by_version.items():
            for chunk in _chunks(sorted(ids)):
                session.execute(
                    update(StixObject)
                    .where(StixObject.id.in_(chunk), StixObject.modified < newest, StixObject.latest.is_(True))
                    .values(latest=False)
                )


def added_now(session: Session) -> datetime:
    """The date_added of a write transaction, taken under the audit lock: later than every stored one, so that
    TAXII `added_after` never misses a transaction that committed after a reader's last page."""
    now = utcnow()
    last = session.scalar(select(func.max(StixObject.added_at)))
    if last is not None and last.replace(tzinfo=UTC) >= now:
        from datetime import timedelta

        now = last.replace(tzinfo=UTC) + timedelta(microseconds=1)
    return now


@dataclass(frozen=True, slots=True)
class _Received:
    """What came with a federated object: its origin signature block and the share entries it was sent with."""

    block: dict[str, str]
    entries: list[tuple[str, str]]


class _Import:
    """One import's state: who imports, the resolved recipients per TLP, the markings known, what was seen."""

    def __init__(
        self,
        session: Session,
        actor: Principal | None,
        *,
        owner: str,
        default: TLP,
        share_with: ShareWith | None,
        origin: str,
    ) -> None:
        self.session, self.actor, self.owner, self.default, self.share_with = session, actor, owner, default, share_with
        self.origin = origin
        self.result = ImportResult()
        self.known_markings: set[str] = set(MARKING_TLP)
        self.seen: set[tuple[str, datetime]] = set()
        self.newest: dict[str, datetime] = {}  # per id: the newest version stored or planned
        self.local_tables = local_types(session)
        self.received: dict[int, _Received] = {}  # federated objects, by input index
        # Checks that the recipients exist (and fit the default TLP) before anything is written.
        self.resolved: dict[TLP, list[tuple[str, str]] | str] = {}
        if share_with is not None:
            self.resolved[default] = self._resolve(default)

    def _resolve(self, tlp: TLP) -> list[tuple[str, str]]:
        return sharing.resolve(
            self.session,
            tlp=tlp,
            share_with=self.share_with or ShareWith(),
            owner_org_id=self.owner,
            author_id=self.actor.user_id if self.actor else None,
        )

    def recipients(self, tlp: TLP) -> list[tuple[str, str]] | str:
        """The share entries for an object of this TLP, or why the requested recipients do not fit it."""
        if tlp not in self.resolved:
            try:
                self.resolved[tlp] = self._resolve(tlp)
            except InvalidInput as exc:
                self.resolved[tlp] = f"object_marking_refs: the object is {tlp.label}: {exc.detail}"
        return self.resolved[tlp]

    def learn_markings(self, checked: Sequence[_Candidate | Rejected]) -> None:
        """Known markings: the fixed TLP ids, the valid marking definitions of this input, stored readable ones."""
        candidates = [c for c in checked if isinstance(c, _Candidate)]
        self.known_markings |= {c.id for c in candidates if c.type == "marking-definition"}
        unknown = {r for c in candidates for r in c.markings} - self.known_markings
        for chunk in _chunks(sorted(unknown)):
            self.known_markings.update(
                self.session.scalars(
                    select(StixObject.id).where(
                        StixObject.id.in_(chunk),
                        StixObject.type == "marking-definition",
                        read_filter(self.actor, StixObject) if self.actor else literal(True),
                    )
                )
            )

    def reject(self, c: _Candidate | Rejected, reason: str | None = None) -> None:
        self.result.rejected.append(c if isinstance(c, Rejected) else Rejected(c.index, c.id, reason or "rejected"))

    def batch(self, chunk: Sequence[_Candidate | Rejected]) -> _Plan:
        """Decide about one batch with three queries (stored versions, holders, share rows); write nothing."""
        candidates: list[_Candidate] = []
        for c in chunk:
            missing = (
                None if isinstance(c, Rejected) else next((r for r in c.markings if r not in self.known_markings), None)
            )
            if isinstance(c, Rejected) or missing is not None:
                self.reject(c, f"object_marking_refs: unknown marking definition {missing}")
            else:
                candidates.append(c)
        plan = _Plan()
        if not candidates:
            return plan
        ids = sorted({c.id for c in candidates})
        stored = set(self.session.execute(select(StixObject.id, StixObject.modified).where(StixObject.id.in_(ids))))
        for oid, modified in stored:
            self.newest[oid] = max(modified, self.newest.get(oid, modified))
        held, local = holders(self.session, ids, self.local_tables)
        shares = sharing.shares_of_many(self.session, ids)
        shared = {(s.object_id, s.kind, s.target) for rows in shares.values() for s in rows}
        for c in candidates:
            key = (c.id, c.modified)
            if key in stored or key in self.seen:
                self.result.unchanged += 1
                continue
            received = self.received.get(c.index)
            owner = received.block["owner"] if received else self.owner
            if held.get(c.id, set()) - {owner}:
                self.reject(c, f"id {c.id} is held on this node by another organisation; only its holder imports "
                               "new versions of it")  # fmt: skip
                continue
            # A received object keeps the TLP its origin node applied (signed), even if its markings say nothing.
            tlp = TLP(received.block["tlp"]) if received else _tlp_of(c, self.default)
            entries = _fit(received.entries, tlp) if received else self.recipients(tlp)
            if isinstance(entries, str):
                self.reject(c, entries)
                continue
            self.seen.add(key)
            self._place(plan, c, self._row(c, tlp, owner, received))
            if c.id not in local:  # a local object's own share list applies to its imported copy
                for kind, target in entries:
                    if (c.id, kind, target) not in shared:
                        shared.add((c.id, kind, target))
                        plan.shares.append({"object_id": c.id, "kind": kind, "target": target,
                                            "added_by_org_id": owner})  # fmt: skip
            self.result.imported += 1
            self.result.custom += c.custom
        return plan

    def _place(self, plan: _Plan, c: _Candidate, row: dict[str, Any]) -> None:
        """Add a new version to the plan, keeping `latest` true on the newest version of each id only."""
        newest = self.newest.get(c.id)
        if newest is None or c.modified > newest:
            self.newest[c.id] = c.modified
            if newest is not None:
                plan.superseded[c.id] = c.modified
                for planned in plan.rows:  # an older version earlier in this batch
                    if planned["id"] == c.id:
                        planned["latest"] = False
        else:
            row["latest"] = False
        plan.rows.append(row)

    def _row(self, c: _Candidate, tlp: TLP, owner: str, received: _Received | None) -> dict[str, Any]:
        return {
            "id": c.id,
            "modified": c.modified,
            "type": c.type,
            "spec_version": "2.1",
            "custom": c.custom,
            "revoked": c.obj.get("revoked") is True,
            "data": c.obj,
            "tlp": tlp.value,
            "owner_org_id": owner,
            "created_by_id": self.actor.user_id if self.actor else None,
            "exercise": False,
            "origin": self.origin,
            "share_id": c.id,
            "latest": True,
            "origin_node": received.block["node"] if received else None,
            "signature": received.block if received else None,
            "signed": received is not None,
        }


def _fit(entries: list[tuple[str, str]], tlp: TLP) -> list[tuple[str, str]]:
    """The received recipients that the TLP allows (RED: none; AMBER+STRICT: organisations only): received share
    lists are narrowed, never refused, so that a peer's object is stored with no wider audience than it allows."""
    if tlp == TLP.RED:
        return []
    if tlp == TLP.AMBER_STRICT:
        return [(k, t) for k, t in entries if k == "organisation"]
    return entries


def ingest(
    session: Session,
    *,
    actor: Principal,
    objects: Iterable[dict[str, Any]],
    origin: str,
    default_tlp: str = "amber",
    share_with: ShareWith | None = None,
    atomic: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Store the STIX 2.1 objects of one input (a bundle's `objects`) in the caller's transaction.

    - `actor` needs `exchange:object:import` and an organisation, which owns the stored copies.
    - Each object is checked; rejected ones are listed (in input order) with their position, id and reason.
      An object with a spec_version other than 2.1 refuses the whole input (InvalidInput), as does an invalid
      `share_with` or `default_tlp`. With `atomic=True` any rejection refuses the whole input (InvalidInput
      listing up to 20, nothing written); otherwise the valid objects are stored.
    - TLP: the strictest TLP 2.0/1.0 marking in `object_marking_refs`, else `default_tlp`. Share rows: `share_with`
      checked with access.sharing.resolve against that TLP (default: GREEN -> the importer's communities,
      AMBER and stricter -> the importer's organisation only). An object whose TLP does not allow the requested
      recipients (e.g. communities for a RED object) is rejected.
    - A version (`id`, `modified`; `created` or 1970-01-01 when absent) already stored, or repeated in the
      input, counts as unchanged and writes nothing.
    - `progress(n)` is called after each batch of about 1,000 objects, with `n` the number of input objects
      that batch handled (add them up for a running total).
    - One audit entry for the whole import: `exchange:import:stix` with the counts and `origin`.
    """
    actor.require(Permission.EXCHANGE_IMPORT)
    if not actor.org_id or not actor.user_id:
        raise PermissionDenied("importing needs a user of an organisation, which owns the imported copies")
    default = sharing.parse_tlp(default_tlp, field="tlp")
    job = _Import(session, actor, owner=actor.org_id, default=default, share_with=share_with or ShareWith(),
                  origin=origin[:MAX_ORIGIN])  # fmt: skip
    items = objects if isinstance(objects, list) else list(objects)
    result = _run(session, job, items, atomic=atomic, progress=progress)
    _audit(session, actor, "exchange:import:stix", job, result, custom=result.custom, atomic=atomic,
           default_tlp=default.value)  # fmt: skip
    return result


def _audit(
    session: Session, actor: Principal | None, tag: str, job: _Import, result: ImportResult, **extra: Any
) -> None:
    """One audit entry for a whole import or receipt: where from and the counts."""
    summary = {"origin": job.origin, "imported": result.imported, "unchanged": result.unchanged,
               "rejected": len(result.rejected)}  # fmt: skip
    audit.record(session, actor=actor, tag=tag, object_id=None, summary=summary | extra)


def _run(
    session: Session, job: _Import, items: list[Any], *, atomic: bool, progress: Callable[[int], None] | None
) -> ImportResult:
    try:
        checked = [_check(i, obj) for i, obj in enumerate(items)]
    except _NotStix21 as exc:
        raise InvalidInput(str(exc), errors=[{"field": "spec_version", "message": str(exc)}]) from None
    job.learn_markings(checked)

    # Serialise with other imports and audit writers from here (the audit chain's lock: a PostgreSQL advisory
    # lock; SQLite write transactions are IMMEDIATE anyway), so that the versions looked up below cannot change
    # before they are written, and `seq` and `added_at` grow in commit order (ADR 0008).
    audit.lock(session)
    now = added_now(session)

    plans: list[_Plan] = []
    for chunk in _chunks(checked):
        plan = job.batch(chunk)
        if atomic:
            plans.append(plan)
        else:
            plan.write(session, now)
        if progress is not None:
            progress(len(chunk))

    result = job.result
    result.rejected.sort(key=lambda r: r.index)
    if atomic and result.rejected:
        listed = result.rejected[:MAX_LISTED]
        more = f"; the first {len(listed)} are listed" if len(result.rejected) > len(listed) else ""
        raise InvalidInput(
            f"{len(result.rejected)} object(s) rejected, so nothing was imported (atomic){more}",
            errors=[
                {"field": f"objects[{r.index}]", "message": r.reason, "id": r.id, "index": r.index} for r in listed
            ],
        )
    for plan in plans:
        plan.write(session, now)
    if result.imported >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # Fresh planner statistics now rather than at autovacuum's next pass: with stale ones PostgreSQL drives a
        # TAXII page from the share rows and sorts the whole collection instead of walking `seq` (measured 50 ms
        # against 4 ms for a page of a 10,000-object collection).
        session.execute(text("ANALYZE stix_objects"))
        session.execute(text("ANALYZE shares"))
    return result


def _received_entries(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        return []
    out = []
    for entry in value:
        if isinstance(entry, dict) and entry.get("kind") in ("organisation", "community"):
            target = entry.get("target")
            if isinstance(target, str) and 0 < len(target) <= MAX_ID:
                out.append((entry["kind"], target))
    return out


_Pending = dict[int, tuple[dict[str, str], list[tuple[str, str]]]]


def _unpack(items: list[Any], ring: nodes.KeyRing, local_node: str) -> tuple[list[Any], _Pending, list[Rejected], int]:
    """Each received object without its envelope (None when set aside), the verified signature blocks and share
    entries by position, the rejections so far, and how many were our own objects coming back."""
    stripped: list[Any] = []
    pending: _Pending = {}
    early: list[Rejected] = []
    ours = 0
    for index, raw in enumerate(items):
        if not isinstance(raw, dict):
            stripped.append(raw)
            continue
        obj = {k: v for k, v in raw.items() if k not in nodes.ENVELOPE}
        block = raw.get(nodes.ORIGIN)
        oid = obj["id"] if isinstance(obj.get("id"), str) else None
        if block is None:
            early.append(Rejected(index, oid, f"unsigned: a peer's object carries its origin node's {nodes.ORIGIN}"))
            stripped.append(None)
            continue
        if isinstance(block, dict) and block.get("node") == local_node:
            ours += 1  # one of ours, back from a peer: never stored twice, never sent on again
            stripped.append(None)
            continue
        reason = nodes.verify(raw, block, ring)
        if reason is not None:
            early.append(Rejected(index, oid, reason))
            stripped.append(None)
            continue
        pending[index] = (dict(block), _received_entries(raw.get(nodes.SHARES)))
        stripped.append(obj)

    return stripped, pending, early, ours


def receive(
    session: Session,
    *,
    objects: Iterable[Any],
    ring: nodes.KeyRing,
    local_node: str,
    actor: Principal | None,
    origin: str,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Store objects from a peer node (pulled by the sync job, or pushed to our TAXII server), ADR 0008.

    Each object must carry the signature block of its origin node (`x_cybercrisis_origin`), made with a key of
    that node in `ring`; an unsigned, unknown-node or tampered object is rejected with the reason. The stored copy
    is owned by the organisation the signature names (which must exist here: the directory is the same on every
    node) and shared with the recipients it was sent with (`x_cybercrisis_shares`) that exist here and that its
    TLP allows. Our own objects coming back, and versions already stored, are unchanged: nothing loops. Same
    checks, idempotence and batching as `ingest`; never atomic. One audit entry `exchange:peer:receive`."""
    items = objects if isinstance(objects, list) else list(objects)
    stripped, pending, early, ours = _unpack(items, ring, local_node)
    owners = {b["owner"] for b, _ in pending.values()}
    targets = {t for _, entries in pending.values() for k, t in entries if k == "organisation"}
    known_orgs: set[str] = set()
    for chunk in _chunks(sorted(owners | targets)):
        known_orgs.update(session.scalars(select(Organisation.id).where(Organisation.id.in_(chunk))))
    known_communities = set(session.scalars(select(Community.slug)))

    job = _Import(session, actor, owner="", default=TLP.AMBER, share_with=None, origin=origin[:MAX_ORIGIN])
    keep: list[Any] = []
    positions: list[int] = []
    for index, obj in enumerate(stripped):
        if obj is None:
            continue
        if index in pending:
            block, entries = pending[index]
            if block["tlp"] not in TLP_VALUES:
                early.append(Rejected(index, obj.get("id"), f"the signed TLP {block['tlp']!r} is not a TLP 2.0 level"))
                continue
            if block["owner"] not in known_orgs:
                early.append(Rejected(index, obj.get("id"), f"owner {block['owner']} is not an organisation of this "
                                                            "node's directory"))  # fmt: skip
                continue
            fitting = [(k, t) for k, t in entries if t in (known_orgs if k == "organisation" else known_communities)]
            job.received[len(keep)] = _Received(block, fitting)
        keep.append(obj)
        positions.append(index)
    result = _run(session, job, keep, atomic=False, progress=progress)
    # Report positions in the input as sent, not in the filtered list.
    result.rejected = sorted(
        [Rejected(positions[r.index], r.id, r.reason) for r in result.rejected] + early, key=lambda r: r.index
    )
    result.unchanged += ours
    first = [{"id": r.id, "reason": r.reason} for r in result.rejected[:5]]
    _audit(session, actor, "exchange:peer:receive", job, result, first_rejections=first)
    return result
