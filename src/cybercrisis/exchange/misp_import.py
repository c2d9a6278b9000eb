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
"""

from __future__ import annotations

import copy
import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pymisp import MISPAttribute

from cybercrisis import textcheck
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange.stix import MARKING_TLP, NAMESPACE, REFERENCE_TIME, marking_definition


@functools.cache
def _parser_class() -> Any:
    """misp-stix's MISP -> STIX 2.1 parser, imported on first use: it takes about 2 s to import (it loads its
    STIX 1 side too), which no other command should pay.

    Its `mixbox` dependency vendors six 1.15, whose import hook makes Python emit an ImportWarning on later imports;
    Python ignores ImportWarning by default, and the test configuration ignores that one message (pyproject.toml).
    """
    from misp_stix_converter import MISPtoSTIX21Parser  # type: ignore[import-untyped]

    return MISPtoSTIX21Parser


KNOWN_TYPES: frozenset[str] = frozenset(MISPAttribute().known_types)
# Objects that belong to no single event: shared, and left to the importer's default marking.
_SHARED_TYPES = ("identity", "marking-definition")
_MAX_MESSAGE = 300


@dataclass(frozen=True)
class Rejected:
    """One thing of the input that was not converted: where it is (`event <uuid>` / `attribute <uuid>`...)
    and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class Conversion:
    """The STIX 2.1 objects of all the events of one MISP input, what was rejected, and the converter's notes."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- input shapes ---------------------------------------------------------------------------------------------


def load(text: str | bytes) -> Any:
    """The JSON of a MISP file; InvalidInput naming the line and column when it is not JSON, and the field when its
    text is not valid Unicode (or NUL) or it nests too deep (textcheck.py)."""
    try:
        return textcheck.parse_json(text, field="file")
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            errors=[{"field": "file", "message": f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"}],
        ) from None
    except UnicodeDecodeError:
        raise InvalidInput("not UTF-8 text", errors=[{"field": "file", "message": "not UTF-8 text"}]) from None


def _not_misp(message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": "file", "message": message}])


def _event_of(item: Any) -> dict[str, Any] | None:
    """The event dict of `{"Event": {...}}` or of a bare event (one with an `info`), else None."""
    if not isinstance(item, dict):
        return None
    if "Event" in item:
        inner = item["Event"]
        return inner if isinstance(inner, dict) else None
    return item if "info" in item else None


def events_of(data: Any) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """The events of any accepted MISP shape, and the items of a list that are not events.

    Raises InvalidInput when the input as a whole is no MISP event nor a list or REST response of events."""
    items: list[Any]
    where: str
    if isinstance(data, dict) and "response" in data:
        if not isinstance(data["response"], list):
            raise _not_misp("a MISP response without a list of events (an attribute search result?): export events")
        items, where = data["response"], "response"
    elif isinstance(data, list):
        items, where = data, "item"
    else:
        event = _event_of(data)
        if event is None:
            raise _not_misp('not a MISP event: expected {"Event": {...}}, an event, a list or {"response": [...]}')
        return [event], []
    events: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        event = _event_of(item)
        if event is None:
            rejected.append(Rejected(f"{where}[{index}]", 'not a MISP event ({"Event": {...}} or an event)'))
        else:
            events.append(event)
    if not events:
        raise _not_misp(f"no MISP event in the {'response' if where == 'response' else 'list'}")
    return events, rejected


# --- making an event complete and deterministic ----------------------------------------------------------------


def _timestamp_of(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
    return None


def _date_timestamp(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        day = date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _content_uuid(kind: str, content: Any) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(uuid.uuid5(NAMESPACE, f"misp-{kind}:{canonical}"))


def _valid_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_attribute(attr: Any) -> str | None:
    """Why an attribute cannot be converted, or None."""
    if not isinstance(attr, dict):
        return "not a MISP attribute (expected an object)"
    kind = attr.get("type")
    if not isinstance(kind, str) or not kind:
        return "attribute without a type"
    if kind not in KNOWN_TYPES:
        return f"unknown MISP attribute type '{kind[:80]}'"
    if attr.get("value") in (None, ""):
        return f"{kind} attribute without a value"
    return None


def _complete_attributes(
    attrs: Any, *, parent_uuid: uuid.UUID, timestamp: int, where: str, rejected: list[Rejected], relation: bool
) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    if attrs is None:
        return kept
    if not isinstance(attrs, list):
        rejected.append(Rejected(where, "Attribute is not a list"))
        return kept
    for index, attr in enumerate(attrs):
        has_uuid = isinstance(attr, dict) and _valid_uuid(attr.get("uuid"))
        label = f"{where} attribute {attr['uuid']}" if has_uuid else f"{where} attribute #{index}"
        reason = _check_attribute(attr)
        if reason is not None:
            rejected.append(Rejected(label, reason))
            continue
        done = dict(attr)
        if not _valid_uuid(done.get("uuid")):
            key = f"{done.get('object_relation', '')}:{done['type']}:{done['value']}" if relation else None
            done["uuid"] = str(uuid.uuid5(parent_uuid, key or f"{done['type']}:{done['value']}"))
        if _timestamp_of(done.get("timestamp")) is None:
            done["timestamp"] = str(timestamp)
        kept.append(done)
    return kept


def _complete_event(raw: dict[str, Any], rejected: list[Rejected]) -> dict[str, Any]:
    """A copy of the event with every uuid and timestamp the converter needs, derived from the content when the
    input lacks them, and without the attributes that cannot be converted (listed in `rejected`)."""
    event = copy.deepcopy(raw)
    if not _valid_uuid(event.get("uuid")):
        event["uuid"] = _content_uuid("event", raw)
    event_uuid = uuid.UUID(event["uuid"])
    where = f"event {event['uuid']}"
    stamp = (
        _timestamp_of(event.get("timestamp"))
        or _timestamp_of(event.get("publish_timestamp"))
        or _date_timestamp(event.get("date"))
        or int(REFERENCE_TIME.timestamp())
    )
    event["timestamp"] = str(stamp)
    if _date_timestamp(event.get("date")) is None:
        event["date"] = datetime.fromtimestamp(stamp, UTC).date().isoformat()
    event["Attribute"] = _complete_attributes(
        event.get("Attribute"),
        parent_uuid=event_uuid,
        timestamp=stamp,
        where=where,
        rejected=rejected,
        relation=False,
    )
    objects = event.get("Object") or []
    kept_objects: list[dict[str, Any]] = []
    for index, obj in enumerate(objects if isinstance(objects, list) else []):
        if not isinstance(obj, dict):
            rejected.append(Rejected(f"{where} object #{index}", "not a MISP object"))
            continue
        if not _valid_uuid(obj.get("uuid")):
            obj["uuid"] = str(uuid.uuid5(event_uuid, f"object:{obj.get('name')}:{index}"))
        obj_stamp = _timestamp_of(obj.get("timestamp")) or stamp
        obj["timestamp"] = str(obj_stamp)
        obj["Attribute"] = _complete_attributes(
            obj.get("Attribute"),
            parent_uuid=uuid.UUID(obj["uuid"]),
            timestamp=obj_stamp,
            where=f"{where} object {obj['uuid']}",
            rejected=rejected,
            relation=True,
        )
        kept_objects.append(obj)
    if not isinstance(objects, list):
        rejected.append(Rejected(where, "Object is not a list"))
    event["Object"] = kept_objects
    reports = event.get("EventReport") or []
    event["EventReport"] = []
    for index, report in enumerate(reports if isinstance(reports, list) else []):
        if not isinstance(report, dict) or not isinstance(report.get("content"), str):
            rejected.append(Rejected(f"{where} event report #{index}", "not a MISP event report"))
            continue
        if not _valid_uuid(report.get("uuid")):
            report["uuid"] = str(uuid.uuid5(event_uuid, f"report:{report.get('name')}:{index}"))
        if _timestamp_of(report.get("timestamp")) is None:
            report["timestamp"] = str(stamp)
        event["EventReport"].append(report)
    if not event["EventReport"]:
        del event["EventReport"]
    return event


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
    event = _complete_event(raw, result.rejected)
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
