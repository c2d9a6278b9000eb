"""MISP input for the MISP import (exchange/misp_import.py): the accepted shapes of a file, and each event made
complete and deterministic for the converter: every uuid and timestamp it needs, derived from the content when the
input lacks them (never random, never "now"), and the attributes it cannot convert left out and reported.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pymisp import MISPAttribute

from cybercrisis import textcheck
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange.stix_common import NAMESPACE, REFERENCE_TIME

KNOWN_TYPES: frozenset[str] = frozenset(MISPAttribute().known_types)


@dataclass(frozen=True)
class Rejected:
    """One thing of the input that was not converted: where it is (`event <uuid>` / `attribute <uuid>`...)
    and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


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


def complete_event(raw: dict[str, Any], rejected: list[Rejected]) -> dict[str, Any]:
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
