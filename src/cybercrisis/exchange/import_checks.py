"""Reading and checking STIX 2.1 objects for an import (exchange/importer.py): what needs nothing but the input.

Each object is checked in Python (type, `<type>--<uuid>` id, spec_version 2.1, RFC 3339 timestamps with a zone,
marking references) with the same reasons whatever its type: the stix2 library only says which properties STIX
defines for a type (to count custom objects), never builds objects, which cost more than the rest of an import.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from cybercrisis import textcheck
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange import copies
from cybercrisis.exchange.models import NO_MODIFIED

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
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
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


def _timestamp(obj: dict[str, Any], name: str) -> datetime | str:
    """The parsed UTC time of `obj[name]`, or the reason it is not an RFC 3339 timestamp with a zone."""
    value = obj[name]
    parsed = _utc(value) if isinstance(value, str) else None
    if parsed is not None:
        return parsed
    if not isinstance(value, str) or not _TIMESTAMP.match(value):
        if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?$", value):
            return f"{name} {value!r} has no time zone (STIX timestamps are UTC: end it with Z)"
        return f"{name} {value!r} is not an RFC 3339 timestamp such as 2026-11-28T09:00:00.000Z"
    return f"{name} {value!r} is not a valid date and time"


@lru_cache(maxsize=8192)
def _utc(value: str) -> datetime | None:
    """An RFC 3339 timestamp with a zone, in UTC; None when it is not one. Cached: a feed's objects share times."""
    if not _TIMESTAMP.match(value):
        return None
    try:
        return datetime.fromisoformat(value.upper()).astimezone(UTC)
    except ValueError:
        return None


@dataclass(slots=True)
class Candidate:
    index: int
    obj: dict[str, Any]
    id: str
    type: str
    modified: datetime
    markings: list[str]
    custom: bool


class NotStix21(Exception):
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
    if not _UUID.fullmatch(rest):  # the canonical 8-4-4-4-12 form, as str(uuid.UUID(rest)) writes it
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
    # Plain loops: this runs once per imported object, and generator expressions cost twice as much here.
    refs = obj.get("object_marking_refs", [])
    if not isinstance(refs, list):
        return "object_marking_refs is not a list of marking-definition ids"
    markings = list(refs)
    if "granular_markings" in obj:
        granular = obj["granular_markings"]
        if not isinstance(granular, list):
            return "granular_markings is not a list of objects"
        for g in granular:
            if not isinstance(g, dict):
                return "granular_markings is not a list of objects"
            if isinstance(g.get("marking_ref"), str):
                markings.append(g["marking_ref"])
    for i, r in enumerate(markings):
        if not isinstance(r, str):
            return "object_marking_refs is not a list of marking-definition ids"
        if not r.startswith("marking-definition--"):
            where = "object_marking_refs" if i < len(refs) else "granular_markings"
            return f"{where}: {r!r} is not a marking-definition id"
    return markings


def check(index: int, obj: Any) -> Candidate | Rejected:
    """The checks that need nothing but the object itself. Raises NotStix21 for another spec_version."""
    if not isinstance(obj, dict):
        return Rejected(index, None, f"object #{index} is not a JSON object")
    ident = _check_id(obj)
    if isinstance(ident, str):
        return Rejected(index, obj["id"] if isinstance(obj.get("id"), str) else None, ident)
    stix_type, oid = ident
    spec = obj.get("spec_version")
    if spec is not None and spec != "2.1":
        raise NotStix21(f"not STIX 2.1: object #{index} ({oid}) has spec_version {spec!r}")
    known = _known_properties(stix_type)
    is_sco = copies.is_sco(stix_type)
    if spec is None and not is_sco:
        return Rejected(index, oid, 'spec_version is missing (STIX 2.1 objects carry "spec_version": "2.1")')
    times = _check_times(obj, stix_type, known is not None and not is_sco and stix_type != "marking-definition")
    if isinstance(times, str):
        return Rejected(index, oid, times)
    markings = _check_markings(obj)
    if isinstance(markings, str):
        return Rejected(index, oid, markings)
    version = times.get("modified") or times.get("created") or _AWARE_NO_MODIFIED
    custom = known is None or not known.issuperset(obj)
    return Candidate(index, obj, oid, stix_type, version, markings, custom)


def tlp_of(candidate: Candidate, default: TLP) -> TLP:
    if candidate.id in MARKING_TLP:
        return TLP.CLEAR  # the TLP marking definitions themselves are public
    return _strictest(tuple(candidate.obj.get("object_marking_refs", ())), default)


@lru_cache(maxsize=256)
def _strictest(refs: tuple[str, ...], default: TLP) -> TLP:
    """The strictest TLP among the marking ids, else the default (cached: a feed's objects share their markings)."""
    levels = [MARKING_TLP[r] for r in refs if r in MARKING_TLP]
    return max(levels, key=lambda t: t.rank) if levels else default
