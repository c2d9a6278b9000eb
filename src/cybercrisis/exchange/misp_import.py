"""MISP events -> STIX 2.1 objects, for the STIX object store (`exchange.importer.ingest`): ADR 0008.

Pure conversion, no database. The mapping of attributes, objects, galaxies, event reports and sightings is
`misp-stix`'s (the MISP project's own converter, checked against its golden pairs in our tests), run offline on
each event. Around it we make the result fit our store (documented in docs/exchange.md, "Exchange: importing MISP
events"):

- **Every event of the input**: `{"Event": {...}}`, a bare event, a list of either, and the REST API's
  `{"response": [...]}` with several events. An item that is not an event is reported and skipped.
- **Idempotent**: ids come from MISP uuids (`grouping--<event uuid>`, or `report--<event uuid>` for a published
  event, as MISP itself converts them; `indicator--`/`observed-data--<attribute uuid>` ...) and `modified` from
  MISP timestamps. A uuid or timestamp the input lacks is derived from the content (never random, never "now"),
  so importing the same file twice gives the same objects.
- **TLP 2.0**: `tlp:*` tags become the fixed TLP 2.0 marking-definition ids (`tlp:white` -> CLEAR); each object
  carries one TLP, the strictest of its own tags, and objects without a TLP tag of their own (attributes, SCOs,
  relationships, notes) inherit their event's, so an event's indicators are never stored wider than the event.
  Objects of an event without any TLP tag carry none: the importer's default TLP applies.
- **Reported, never a crash**: an attribute of a type MISP does not know, an attribute or event pymisp cannot
  load, or one the converter drops (e.g. an md5 that is not 32 hex digits) is listed in `Conversion.rejected`
  with its event and attribute; the rest of the event is converted. Input that is not JSON or holds no MISP
  event raises `InvalidInput`.

The input shapes and the completing of each event are in exchange/misp_events.py.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.exchange.misp_events import Rejected, complete_event, events_of, load
from cybercrisis.exchange.stix_common import MARKING_TLP, marking_definition


@functools.cache
def _parser_class() -> Any:
    """misp-stix's MISP -> STIX 2.1 parser, imported on first use: it takes about 2 s to import (it loads its
    STIX 1 side too), which no other command should pay.

    Its `mixbox` dependency vendors six 1.15, whose import hook makes Python emit an ImportWarning on later imports;
    Python ignores ImportWarning by default, and the test configuration ignores that one message (pyproject.toml).
    """
    from misp_stix_converter import MISPtoSTIX21Parser  # type: ignore[import-untyped]

    return MISPtoSTIX21Parser


# Objects that belong to no single event: shared, and left to the importer's default marking.
_SHARED_TYPES = ("identity", "marking-definition")
_MAX_MESSAGE = 300


@dataclass
class Conversion:
    """The STIX 2.1 objects of all the events of one MISP input, what was rejected, and the converter's notes."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- TLP --------------------------------------------------------------------------------------------------------


def tlp_of_tag(name: Any) -> TLP | None:
    """The TLP 2.0 level of a MISP `tlp:*` tag (`tlp:white` is CLEAR), None for other tags (`tlp:ex:chr` too)."""
    if not isinstance(name, str) or not name.lower().startswith("tlp:"):
        return None
    key = name[4:].strip().strip('"').lower()
    if key == "white":
        return TLP.CLEAR
    try:
        return TLP.parse(key)
    except ValueError:
        return None


def _strictest(levels: Iterator[TLP | None]) -> TLP | None:
    found = [level for level in levels if level is not None]
    return max(found, key=lambda level: level.rank) if found else None


def _tags(record: dict[str, Any]) -> Iterator[Any]:
    for tag in record.get("Tag") or []:
        if isinstance(tag, dict):
            yield tag.get("name")


def _own_level(obj: dict[str, Any], event_tlp: TLP | None) -> TLP | None:
    """The object's strictest TLP of its own (markings or `tlp:*` labels), else its event's."""
    refs = obj.get("object_marking_refs") or []
    labels = obj.get("labels") or []
    own = _strictest(iter([*(MARKING_TLP.get(ref) for ref in refs), *(tlp_of_tag(x) for x in labels)]))
    return own or (event_tlp if obj["type"] not in _SHARED_TYPES else None)


def _refs(obj: dict[str, Any]) -> Iterator[str]:
    """The ids an object points to, but its author and markings."""
    for key, value in obj.items():
        if key in ("created_by_ref", "object_marking_refs"):
            continue
        if key.endswith("_ref") and isinstance(value, str):
            yield value
        elif key.endswith("_refs") and isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))


def _levels(objects: list[dict[str, Any]], event_tlp: TLP | None) -> dict[str, TLP]:
    """The TLP of each object: its own, raised to that of every object that reveals it (an indicator or
    observed-data its SCOs, an SCO those it refers to, a relationship its ends), so that a value of a tlp:red
    attribute is never stored wider in another object. The event's grouping/report and notes refer to everything
    and raise nothing: an attribute tagged wider than its event stays as tagged."""
    levels = {obj["id"]: level for obj in objects if (level := _own_level(obj, event_tlp)) is not None}
    changed = True
    while changed:
        changed = False
        for obj in objects:
            if obj["type"] in ("grouping", "report", "note", *_SHARED_TYPES):
                continue
            ends = list(_refs(obj))
            if obj["type"] == "relationship":
                top = _strictest(iter([levels.get(obj["id"]), *(levels.get(ref) for ref in ends)]))
                if top is not None and levels.get(obj["id"]) != top:
                    levels[obj["id"]], changed = top, True
                continue
            level = levels.get(obj["id"])
            for ref in ends:
                current = levels.get(ref)
                if level is not None and (current is None or current.rank < level.rank):
                    levels[ref], changed = level, True
    return levels


def _mark(obj: dict[str, Any], level: TLP | None) -> None:
    """Give the object exactly one TLP 2.0 marking, the fixed id of `level`, keeping other markings."""
    refs = obj.get("object_marking_refs") or []
    others = [ref for ref in refs if ref not in MARKING_TLP]
    if level is not None:
        others.append(STIX_MARKING_IDS[level])
    if others:
        obj["object_marking_refs"] = others
    else:
        obj.pop("object_marking_refs", None)


# --- conversion -------------------------------------------------------------------------------------------------


def _short(message: Any) -> str:
    text = " ".join(str(message).split())
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return json.loads(json.dumps(obj, default=str))  # type: ignore[no-any-return]
    return json.loads(obj.serialize())  # type: ignore[no-any-return]


def _records(event: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, uuid) of every attribute and object of a completed event."""
    for attr in event["Attribute"]:
        yield f"event {event['uuid']} attribute {attr['uuid']} ({attr['type']})", attr["uuid"]
    for obj in event["Object"]:
        yield f"event {event['uuid']} object {obj['uuid']} ({obj.get('name')})", obj["uuid"]


def convert_event(raw: dict[str, Any]) -> Conversion:
    """The STIX 2.1 objects of one MISP event (the dict inside `{"Event": ...}`)."""
    result = Conversion()
    event = complete_event(raw, result.rejected)
    where = f"event {event['uuid']}"
    parser = _parser_class()()
    try:
        parser.parse_misp_event(event)
    except Exception as exc:  # noqa: BLE001 - a converter failure rejects this event, never the whole input
        result.rejected.append(Rejected(where, f"not convertible: {_short(exc)}"))
        return result
    objects = [_as_dict(obj) for obj in parser.stix_objects]
    if not any(obj["type"] in ("report", "grouping") for obj in objects):
        messages = [m for ms in parser.errors.values() for m in ms]
        result.rejected.append(Rejected(where, _short(messages[0]) if messages else "not a loadable MISP event"))
        return result
    result.events = 1
    event_tlp = _strictest(tlp_of_tag(name) for name in _tags(event))
    # misp-stix's TLP marking-definitions are replaced by the TLP 2.0 ones, as OASIS publishes them.
    objects = [obj for obj in objects if not (obj["type"] == "marking-definition" and obj["id"] in MARKING_TLP)]
    levels = _levels(objects, event_tlp)
    for obj in objects:
        _mark(obj, levels.get(obj["id"]))
    result.objects.extend(objects)
    used = sorted(set(levels.values()), key=lambda level: level.rank)
    result.objects.extend(marking_definition(level) for level in used)
    # misp-stix names its objects after the MISP uuids: a record with none of its own was dropped.
    ids = "\n".join(obj["id"] for obj in objects)
    notes = [_short(m) for ms in (*parser.errors.values(), *parser.warnings.values()) for m in ms]
    for label, record_uuid in _records(event):
        if record_uuid not in ids:
            reason = next((n for n in notes if record_uuid in n), "dropped by the MISP to STIX converter")
            result.rejected.append(Rejected(label, reason))
    result.warnings.extend(f"{where}: {n}" for n in notes if not any(r.reason == n for r in result.rejected))
    return result


def to_stix(data: Any) -> Conversion:
    """The STIX 2.1 objects of every event of a MISP input (already parsed JSON, see `load`).

    Objects are unique by id (the identity of an organisation with several events appears once; of two versions
    of one object the later `modified` wins). Raises InvalidInput when the input holds no MISP event."""
    events, rejected = events_of(data)
    result = Conversion(rejected=rejected)
    by_id: dict[str, dict[str, Any]] = {}
    for raw in events:
        one = convert_event(raw)
        result.events += one.events
        result.rejected.extend(one.rejected)
        result.warnings.extend(one.warnings)
        for obj in one.objects:
            seen = by_id.get(obj["id"])
            if seen is None or str(obj.get("modified", "")) > str(seen.get("modified", "")):
                by_id[obj["id"]] = obj
    result.objects = list(by_id.values())
    return result


def convert(text: str | bytes) -> Conversion:
    """`to_stix(load(text))`: the STIX 2.1 objects of a MISP file's content."""
    return to_stix(load(text))
