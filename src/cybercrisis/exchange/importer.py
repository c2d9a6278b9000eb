"""STIX 2.1 import into the store of STIX objects (ADR 0008): checked, idempotent, fast, one audit entry.

`ingest` checks every object (type, `<type>--<uuid>` id, spec_version 2.1, RFC 3339 timestamps with a zone, known
markings), keeps custom (`x-`) objects and custom properties as received, and stores each new version
(`id`, `modified`) once, owned by the importer's organisation, with the TLP of its marking and share rows from
`share_with`. A version already stored is `unchanged` and nothing is written. `atomic=True` refuses the whole input
when any object is rejected. The caller owns the transaction: the API request, or one per file in the CLI.

Speed: objects are checked in Python, existing versions are looked up ~1,000 ids per query, rows are inserted with
Core executemany and share rows in bulk; there is no per-object SELECT.

Who holds an id (exchange/copies.py, issue 12): share rows are keyed by each copy's share key, so all versions of a
copy share one list. An import never adds a version or a recipient to another holder's copy: an observable (or
another id anyone may compute from content) gets the importing organisation's own copy, and any other id held here
by someone else (another organisation, a peer node, this node's own objects) is refused, so a user can never make
a version that the node would then sign as another organisation's. Every answer (unchanged, imported, the reason
of a refusal) is decided from what the importing user may read: an id that only hidden objects hold gets the same
answer as an id nobody holds, except for the refusal of a random id (see `_Import._held_elsewhere`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, text, tuple_, update
from sqlalchemy.orm import Session

from cybercrisis import textcheck
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
from cybercrisis.exchange import copies
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
    updated: int = 0  # versions from a peer already stored, received again with another signed share list


# --- reading a bundle --------------------------------------------------------------------------------------------


def loads(raw: bytes | str) -> Any:
    """JSON text -> data; malformed JSON is a 422 naming the parser's line, column and position, and so is text
    that is not valid Unicode (or NUL) or nesting past textcheck.MAX_DEPTH, naming the field (`objects[3].name`)."""
    try:
        return textcheck.parse_json(raw)
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


@dataclass(slots=True)
class _Plan:
    rows: list[dict[str, Any]] = field(default_factory=list)
    shares: list[dict[str, Any]] = field(default_factory=list)
    # copies (id, share key) whose newest version is now one of `rows`: their older versions stop being `latest`
    superseded: dict[tuple[str, str], datetime] = field(default_factory=dict)
    # received copies whose signed share list changed: their share rows become these entries (owner, entries)
    reshare: dict[str, tuple[str, list[tuple[str, str]]]] = field(default_factory=dict)
    # stored versions received again with another signed share list: seq -> (signature block, signed list)
    resigned: dict[int, tuple[dict[str, str], list[Any]]] = field(default_factory=dict)
    # import copies of ours that got recipients: re-served with their new list once written (copies.reserve)
    reserve: set[str] = field(default_factory=set)

    def write(self, session: Session, now: datetime) -> None:
        for row in self.rows:
            row["added_at"] = now
        if self.rows:
            session.execute(insert(StixObject.__table__), self.rows)  # type: ignore[arg-type]
        for key, (owner, entries) in self.reshare.items():
            session.execute(delete(Share).where(Share.object_id == key, Share.kind.in_(nodes.SHARE_KINDS)))
            rows = [{"object_id": key, "kind": k, "target": t, "added_by_org_id": owner} for k, t in entries]
            if rows:
                session.execute(insert(Share.__table__), rows)  # type: ignore[arg-type]
        if self.shares:
            session.execute(insert(Share.__table__), self.shares)  # type: ignore[arg-type]
        by_version: dict[datetime, list[tuple[str, str]]] = {}
        for copy, newest in self.superseded.items():
            by_version.setdefault(newest, []).append(copy)
        for newest, pairs in by_version.items():
            for chunk in _chunks(sorted(pairs)):
                session.execute(
                    update(StixObject)
                    .where(
                        tuple_(StixObject.id, StixObject.share_id).in_(chunk),
                        StixObject.modified < newest,
                        StixObject.latest.is_(True),
                    )
                    .values(latest=False)
                )
        for seq, (block, signed) in self.resigned.items():
            session.execute(update(StixObject).where(StixObject.seq == seq).values(signature=block, shares=signed))
        for key in sorted(self.reserve):
            copies.reserve(session, key=key, shares=copies.share_lists(session, [key])[key], now=now)


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
    """What came with a federated object: its origin signature block, the share list it signs (as sent) and the
    entries of that list that exist here."""

    block: dict[str, str]
    entries: list[tuple[str, str]]
    signed: list[Any]


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
        reader: Principal | None = None,
    ) -> None:
        self.session, self.actor, self.owner, self.default, self.share_with = session, actor, owner, default, share_with
        self.origin = origin
        self.reader = reader  # whose view decides the answers (the importing user; None for a peer's objects)
        self.result = ImportResult()
        self.known_markings: set[str] = set(MARKING_TLP)
        self.seen: set[tuple[str, datetime, str]] = set()  # (id, version, share key) planned
        self.newest: dict[tuple[str, str], datetime] = {}  # per copy (id, share key): the newest version
        self.keys: dict[str, str] = {}  # the share key of each new copy this import makes
        # Share rows stored or planned, by share key: {key: {(kind, target)}} (indexed: an import of 100,000 objects
        # must not scan every row for each one).
        self.shared: dict[str, set[tuple[str, str]]] = {}
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

    def _known(self, chunk: Sequence[_Candidate | Rejected]) -> list[_Candidate]:
        """The candidates whose markings are known; the others, and the rejected, are rejected."""
        candidates: list[_Candidate] = []
        for c in chunk:
            missing = (
                None if isinstance(c, Rejected) else next((r for r in c.markings if r not in self.known_markings), None)
            )
            if isinstance(c, Rejected) or missing is not None:
                self.reject(c, f"object_marking_refs: unknown marking definition {missing}")
            else:
                candidates.append(c)
        return candidates

    def batch(self, chunk: Sequence[_Candidate | Rejected]) -> _Plan:
        """Decide about one batch with four queries (stored versions with whether the importer may read them,
        local objects, share rows); write nothing."""
        plan = _Plan()
        candidates = self._known(chunk)
        if not candidates:
            return plan
        ids = sorted({c.id for c in candidates})
        stored = copies.held(self.session, ids, self.reader)
        local = copies.local_objects(self.session, ids, self.local_tables, self.reader)
        for versions in stored.values():
            for h in versions:
                copy = (h.id, h.share_id)
                self.newest[copy] = max(h.modified, self.newest.get(copy, h.modified))
        decided: list[tuple[_Candidate, _Decision]] = []
        for c in candidates:
            received = self.received.get(c.index)
            held = stored.get(c.id, [])
            d = self._receipt(c, received, held, local) if received else self._import(c, held, local)
            if d.reason is not None:
                self.reject(c, d.reason)
            elif d.key is None:
                self.result.unchanged += 1
            else:
                decided.append((c, d))
        keys = sorted({d.key for _, d in decided if d.key})
        for rows in sharing.shares_of_many(self.session, keys).values():
            for s in rows:
                self.shared.setdefault(s.object_id, set()).add((s.kind, s.target))
        existing = {h.share_id for versions in stored.values() for h in versions}
        for c, d in decided:
            self._plan(plan, c, d, existing)
        for row in plan.rows:
            if row["origin_node"] is None:
                row["shares"] = nodes.canonical_shares(self.shared.get(row["share_id"], ()))
        return plan

    def _plan(self, plan: _Plan, c: _Candidate, d: _Decision, existing: set[str]) -> None:
        """Add one accepted version, and the share rows of its copy, to the plan."""
        key = str(d.key)
        if (c.id, c.modified, key) in self.seen:  # repeated in the input
            self.result.unchanged += 1
            return
        received = self.received.get(c.index)
        # A received object keeps the TLP its origin node applied (signed), even if its markings say nothing.
        tlp = TLP(received.block["tlp"]) if received else _tlp_of(c, self.default)
        entries = _fit(received.entries, tlp) if received else self.recipients(tlp)
        if isinstance(entries, str):
            self.reject(c, entries)
            return
        if received is not None:
            # A copy from a peer has the recipients its origin signed last, and no others.
            if {(k, t) for k, t in self.shared.get(key, ()) if k in nodes.SHARE_KINDS} != set(entries):
                plan.reshare[key] = (received.block["owner"], sorted(set(entries)))
                self.shared[key] = set(entries)
        else:
            known = self.shared.setdefault(key, set())
            for kind, target in entries:
                if (kind, target) not in known:
                    known.add((kind, target))
                    plan.shares.append(
                        {"object_id": key, "kind": kind, "target": target, "added_by_org_id": self.owner}
                    )
                    if key in existing and kind in nodes.SHARE_KINDS:  # served versions travel with the new list
                        plan.reserve.add(key)
        self.seen.add((c.id, c.modified, key))
        if d.resign is not None and received is not None:
            plan.resigned[d.resign.seq] = (received.block, received.signed)
            self.result.updated += 1
            return
        owner = received.block["owner"] if received else self.owner
        self._place(plan, c, self._row(c, tlp, owner, received, key))
        self.result.imported += 1
        self.result.custom += c.custom

    def _import(self, c: _Candidate, held: list[copies.Held], local: dict[str, bool]) -> _Decision:
        """Where an importer's version goes: decided only from what the importing user may read, so that the answer
        is the same whether or not something hidden from them holds the id (issue 12)."""
        org = self.owner
        if copies.content_addressed(c.type, c.id, c.obj):
            if any(h.readable and h.modified == c.modified and h.owner == org for h in held):
                return _Decision()  # e.g. an observable of our own incident, exported and imported again
            return _Decision(key=self._own_copy(c.id, held))
        if any(h.readable and h.modified == c.modified for h in held):
            return _Decision()
        mine = [h for h in held if h.imported_by(org)]
        if c.id in local or len(mine) < len(held) or not all(h.readable for h in mine):
            return _Decision(reason=self._held_elsewhere(c.id, held, local))
        return _Decision(key=mine[0].share_id if mine else c.id)

    def _own_copy(self, oid: str, held: list[copies.Held]) -> str:
        """The importer's organisation's copy of a content-addressed id: the oldest copy it imported whose every
        version the importing user may read (adding recipients to it widens nothing hidden from them), else a new
        one: keyed by the id itself when no copy uses that key yet."""
        by_key: dict[str, list[copies.Held]] = {}
        for h in held:  # oldest first
            by_key.setdefault(h.share_id, []).append(h)
        for key, versions in by_key.items():
            if all(h.imported_by(self.owner) and h.readable for h in versions):
                return key
        if oid not in self.keys:
            self.keys[oid] = oid if oid not in by_key else copies.new_key()
        return self.keys[oid]

    def _held_elsewhere(self, oid: str, held: list[copies.Held], local: dict[str, bool]) -> str:
        """Why a version of an id held by someone else is refused, saying only what the importer may read. Such ids
        are random UUIDs: only someone who has the object knows one, so the refusal tells them nothing new."""
        seen = [h for h in held if h.readable]
        if local.get(oid) or any(h.local for h in seen):
            return f"{oid} is one of this node's own objects: change it through the platform"
        node = next((h.origin_node for h in seen if h.origin_node), None)
        if node is not None:
            return f"{oid} came from node {node}: new versions of it arrive only from that node"
        if any(h.owner != self.owner for h in seen):
            return f"id {oid} is held on this node by another organisation; only its holder imports new versions of it"
        return f"id {oid} is already held on this node; only its holder imports new versions of it"

    def _receipt(
        self, c: _Candidate, received: _Received, held: list[copies.Held], local: dict[str, bool]
    ) -> _Decision:
        """Where a peer's version goes: the copy of its origin node (and, for content-addressed ids, of the origin's
        copy); an id held here otherwise (ours, another node's, an organisation's import) is refused."""
        node, owner = received.block["node"], received.block["owner"]
        if copies.content_addressed(c.type, c.id, c.obj):
            key = copies.received_key(node, received.block["copy"])
        else:
            key = c.id
            if c.id in local or any((h.origin_node, h.owner, h.share_id) != (node, owner, key) for h in held):
                return _Decision(
                    reason=f"id {c.id} is held on this node by another organisation or node; only its "
                    "holder adds versions of it"
                )
        same = next((h for h in held if h.share_id == key and h.modified == c.modified), None)
        if same is None:
            return _Decision(key=key)
        if same.shares != received.signed:
            return _Decision(key=key, resign=same)  # its origin re-served it with another share list
        return _Decision()

    def _place(self, plan: _Plan, c: _Candidate, row: dict[str, Any]) -> None:
        """Add a new version to the plan, keeping `latest` true on the newest version of each copy only."""
        copy = (c.id, row["share_id"])
        newest = self.newest.get(copy)
        if newest is None or c.modified > newest:
            self.newest[copy] = c.modified
            if newest is not None:
                plan.superseded[copy] = c.modified
                for planned in plan.rows:  # an older version earlier in this batch
                    if (planned["id"], planned["share_id"]) == copy:
                        planned["latest"] = False
        else:
            row["latest"] = False
        plan.rows.append(row)

    def _row(self, c: _Candidate, tlp: TLP, owner: str, received: _Received | None, key: str) -> dict[str, Any]:
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
            "share_id": key,
            "latest": True,
            "origin_node": received.block["node"] if received else None,
            "signature": received.block if received else None,
            "signed": received is not None,
            "shares": received.signed if received else None,
        }


@dataclass(frozen=True, slots=True)
class _Decision:
    """About one version: refused (`reason`), already here (no `key`), or stored in the copy `key` (`resign`: a
    version already stored, received again with another signed share list)."""

    key: str | None = None
    reason: str | None = None
    resign: copies.Held | None = None


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
    - A version (`id`, `modified`; `created` or 1970-01-01 when absent) that the importing user may already read
      (for observables: in a copy of their organisation), or repeated in the input, counts as unchanged and
      writes nothing. A version of an id held by someone else is refused, or for an observable stored in the
      organisation's own copy (exchange/copies.py).
    - `progress(n)` is called after each batch of about 1,000 objects, with `n` the number of input objects
      that batch handled (add them up for a running total).
    - One audit entry for the whole import: `exchange:import:stix` with the counts and `origin`.
    """
    actor.require(Permission.EXCHANGE_IMPORT)
    if not actor.org_id or not actor.user_id:
        raise PermissionDenied("importing needs a user of an organisation, which owns the imported copies")
    default = sharing.parse_tlp(default_tlp, field="tlp")
    job = _Import(
        session,
        actor,
        owner=actor.org_id,
        default=default,
        share_with=share_with or ShareWith(),
        origin=origin[:MAX_ORIGIN],
        reader=actor,
    )
    items = objects if isinstance(objects, list) else list(objects)
    result = _run(session, job, items, atomic=atomic, progress=progress)
    _audit(
        session,
        actor,
        "exchange:import:stix",
        job,
        result,
        custom=result.custom,
        atomic=atomic,
        default_tlp=default.value,
    )
    return result


def _audit(
    session: Session, actor: Principal | None, tag: str, job: _Import, result: ImportResult, **extra: Any
) -> None:
    """One audit entry for a whole import or receipt: where from and the counts."""
    summary = {
        "origin": job.origin,
        "imported": result.imported,
        "unchanged": result.unchanged,
        "rejected": len(result.rejected),
    }
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


_Pending = dict[int, tuple[dict[str, str], list[tuple[str, str]], list[Any]]]


def _unpack(
    items: list[Any], ring: nodes.KeyRing, local_node: str, senders: Collection[str], via: str
) -> tuple[list[Any], _Pending, list[Rejected], int]:
    """Each received object without its envelope (None when set aside), the verified signature blocks, share
    entries and signed share lists by position, the rejections so far, and how many were ours coming back."""
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
        if isinstance(block, dict) and isinstance(block.get("node"), str) and block["node"] not in senders:
            # Only the origin node speaks for its objects: a relay, or a user who merely holds one, does not.
            early.append(
                Rejected(
                    index, oid, f"objects signed by node {block['node']} arrive only from that node; this came {via}"
                )
            )
            stripped.append(None)
            continue
        reason = nodes.verify(raw, block, ring)
        if reason is not None:
            early.append(Rejected(index, oid, reason))
            stripped.append(None)
            continue
        signed = raw.get(nodes.SHARES, [])
        pending[index] = (dict(block), _received_entries(signed), signed if isinstance(signed, list) else [])
        stripped.append(obj)

    return stripped, pending, early, ours


def _unreadable(items: list[Any]) -> dict[int, Rejected]:
    """The received objects holding text that is not valid Unicode, by position, each with the reason."""
    out: dict[int, Rejected] = {}
    for index, obj in enumerate(items):
        problem = textcheck.find_problem(obj)
        if problem is not None:
            oid = obj.get("id") if isinstance(obj, dict) else None
            safe = textcheck.printable(oid) if isinstance(oid, str) else None
            out[index] = Rejected(index, safe, f"{problem.field}: {problem.message}")
    return out


def receive(
    session: Session,
    *,
    objects: Iterable[Any],
    ring: nodes.KeyRing,
    local_node: str,
    actor: Principal | None,
    origin: str,
    senders: Collection[str],
    via: str,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Store objects from a peer node (pulled by the sync job, or pushed to our TAXII server), ADR 0008.

    Each object must carry the signature block of its origin node (`x_cybercrisis_origin`), made with a key of
    that node in `ring`, and that node must be one of `senders` (the peer pulled from, or the nodes run by the
    organisation of the user who posts: `via` says which, for the reason); an unsigned, relayed, unknown-node or
    tampered object (its share list included) is rejected with the reason. The stored copy is owned by the
    organisation the signature names (which must exist here: the directory is the same on every node) and shared
    with the recipients it was signed with (`x_cybercrisis_shares`) that exist here and that its TLP allows; a
    version received again with another signed list follows the new list. An id held here otherwise (one of our
    objects, another node's, an organisation's import) is refused. Our own objects coming back, and versions
    already stored, are unchanged: nothing loops. Same checks, idempotence and batching as `ingest`; never atomic.
    One audit entry `exchange:peer:receive`."""
    items = objects if isinstance(objects, list) else list(objects)
    # Text that is not valid Unicode (or NUL, or nesting past the bound) is refused per object before anything
    # reads it, so that no reason, audit entry or stored row carries it (textcheck.py); the others go on.
    unreadable = _unreadable(items)
    if unreadable:
        items = [None if i in unreadable else obj for i, obj in enumerate(items)]
    stripped, pending, early, ours = _unpack(items, ring, local_node, senders, via)
    early += unreadable.values()
    owners = {b["owner"] for b, _, _ in pending.values()}
    targets = {t for _, entries, _ in pending.values() for k, t in entries if k == "organisation"}
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
            block, entries, signed = pending[index]
            if block["tlp"] not in TLP_VALUES:
                early.append(Rejected(index, obj.get("id"), f"the signed TLP {block['tlp']!r} is not a TLP 2.0 level"))
                continue
            if block["owner"] not in known_orgs:
                early.append(
                    Rejected(
                        index, obj.get("id"), f"owner {block['owner']} is not an organisation of this node's directory"
                    )
                )
                continue
            fitting = [(k, t) for k, t in entries if t in (known_orgs if k == "organisation" else known_communities)]
            job.received[len(keep)] = _Received(block, fitting, signed)
        keep.append(obj)
        positions.append(index)
    result = _run(session, job, keep, atomic=False, progress=progress)
    # Report positions in the input as sent, not in the filtered list.
    result.rejected = sorted(
        [Rejected(positions[r.index], r.id, r.reason) for r in result.rejected] + early, key=lambda r: r.index
    )
    result.unchanged += ours
    first = [{"id": r.id, "reason": r.reason} for r in result.rejected[:5]]
    _audit(session, actor, "exchange:peer:receive", job, result, updated=result.updated, first_rejections=first)
    return result
