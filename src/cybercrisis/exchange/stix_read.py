"""STIX 2.1 back into our fields: the first `incident` of a bundle as the fields of IncidentIn (the mapping of
exchange/stix.py read the other way, documented in docs/exchange.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cybercrisis import taxonomies
from cybercrisis.errors import InvalidInput
from cybercrisis.exchange.stix_common import EXTENSION_ID, INCIDENT_CORE, MARKING_TLP

# incident-investigation-ov back to our lifecycle; the exact status, when present, travels in our extension.
FROM_INVESTIGATION = {"new": "new", "open": "ongoing", "closed": "closed"}

NIS_FIELDS = {
    "nature-root-cause": "root_cause",
    "nature-severity": "threat_severity",
    "impact-severity": "impact_severity",
    "impact-outlook": "outlook",
}
HASH_TYPES = {"MD5": "md5", "SHA-1": "sha1", "SHA1": "sha1", "SHA-256": "sha256", "SHA256": "sha256"}
_VALUE_SCOS = ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr")


def _bad(message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": "objects", "message": message}])


def _as_objects(source: Any) -> list[dict[str, Any]]:
    if isinstance(source, str | bytes):
        try:
            source = json.loads(source)
        except ValueError as exc:
            raise _bad(f"not JSON: {exc}") from None
    if isinstance(source, Mapping):
        source = (source.get("objects") or []) if source.get("type") == "bundle" else [source]
    out = []
    for item in source:
        obj = json.loads(item.serialize()) if hasattr(item, "serialize") else item
        if not isinstance(obj, Mapping) or not isinstance(obj.get("id"), str) or not isinstance(obj.get("type"), str):
            raise _bad("every STIX object needs a type and an id")
        out.append(dict(obj))
    return out


def _time(value: Any, what: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise _bad(f"{what} '{value}' is not an RFC 3339 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def observables_from(obj: Mapping[str, Any]) -> list[dict[str, str]]:
    """Our observables in one STIX object (none for types we do not record)."""
    kind = obj["type"]
    if kind in _VALUE_SCOS and obj.get("value"):
        return [{"type": kind, "value": str(obj["value"])}]
    if kind == "file":
        hashes = obj.get("hashes") or {}
        return [{"type": HASH_TYPES[k], "value": str(v)} for k, v in sorted(hashes.items()) if k in HASH_TYPES]
    if kind == "autonomous-system" and obj.get("number") is not None:
        return [{"type": "autonomous-system", "value": f"AS{obj['number']}"}]
    if kind == "vulnerability":
        cves = [
            r["external_id"]
            for r in obj.get("external_references") or []
            if r.get("source_name") == "cve" and r.get("external_id")
        ]
        name = str(obj.get("name", ""))
        return [{"type": "cve", "value": (cves or [name])[0]}] if (cves or name.upper().startswith("CVE-")) else []
    return []


@dataclass(slots=True)
class _Labels:
    fields: dict[str, str | None]
    tags: list[str]
    sectors: list[str]
    tlp: str | None = None
    pap: str | None = None


def _read_labels(labels: Iterable[str], ext_sectors: list[str] | None) -> _Labels:
    """Taxonomy machine tags back into fields; with our extension, only its sectors are sectors."""
    out = _Labels(dict.fromkeys(("rsit_class", "rsit_type", *NIS_FIELDS.values())), [], [])
    for label in labels:
        try:
            ns, pred, value = taxonomies.parse_tag(label)
        except InvalidInput:
            continue  # free-text labels (e.g. "exercise") are not taxonomy tags
        if ns == "rsit":
            out.fields["rsit_class"], out.fields["rsit_type"] = pred, value
        elif ns == "nis" and pred in NIS_FIELDS:
            out.fields[NIS_FIELDS[pred]] = value
        elif ns == "nis2" and pred == "impact-sectors-impacted" and (ext_sectors is None or value in ext_sectors):
            out.sectors.append(str(value))
        elif ns == "tlp":
            out.tlp = pred
        elif ns == "PAP":
            out.pap = pred.lower()
        else:
            out.tags.append(label)
    return out


def _read_relationships(inc: Mapping[str, Any], objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Countries (`located-at`), the affected entity (`impacts`) and observables (`related-to`)."""
    by_id = {o["id"]: o for o in objects}
    countries: set[str] = set()
    observables: list[dict[str, str]] = []
    entity = None
    for rel in objects:
        if rel["type"] != "relationship" or rel.get("source_ref") != inc["id"]:
            continue
        target_id = str(rel.get("target_ref", ""))
        target = by_id.get(target_id)
        kind = rel.get("relationship_type")
        if kind == "impacts" and target_id.startswith("identity--"):
            entity = target_id
        elif target is None:
            continue
        elif kind == "located-at" and target["type"] == "location" and target.get("country"):
            countries.add(str(target["country"]).upper())
        elif kind == "related-to":
            observables += observables_from(target)
    return {
        "countries": sorted(countries),
        "entity": entity,
        "observables": sorted(observables, key=lambda o: (o["type"], o["value"])),
    }


def incident_from_stix(source: Any) -> dict[str, Any]:
    """The fields of IncidentIn that STIX carries, from a bundle (dict or JSON text) or a list of objects.

    Reads the first `incident`: name, description, TLP (marking, TLP 2.0 or 1.0 ids, else its tlp label),
    classification and PAP (labels), countries (`located-at` locations), the affected entity (`impacts`),
    observables (`related-to` SCOs and vulnerabilities) and, when present, our extension (status, times, flags,
    sectors, facts). Also returns `status` (an IncidentPatch field: a new incident starts as new). Values are not
    validated here: IncidentIn and the incident service do that, with their usual messages.
    """
    objects = _as_objects(source)
    incidents = [o for o in objects if o["type"] == "incident"]
    if not incidents:
        raise _bad("the STIX content holds no incident object")
    inc = incidents[0]
    ext = (inc.get("extensions") or {}).get(EXTENSION_ID) or {}
    core = (inc.get("extensions") or {}).get(INCIDENT_CORE) or {}
    labels = _read_labels(inc.get("labels") or [], list(ext.get("sectors") or []) if ext else None)
    markings = [MARKING_TLP[m] for m in inc.get("object_marking_refs") or [] if m in MARKING_TLP]
    tlp = max(markings, key=lambda t: t.rank).value if markings else labels.tlp
    if not tlp:
        raise _bad(f"{inc['id']} carries no TLP marking")
    facts = dict(ext.get("facts") or {})
    individuals = (core.get("impacted_entity_counts") or {}).get("individuals")
    if not ext and isinstance(individuals, int):
        facts["users_affected"] = individuals
    return {
        "title": inc.get("name", ""),
        "description": inc.get("description", ""),
        "tlp": tlp,
        "pap": ext.get("pap") or labels.pap or "amber",
        **labels.fields,
        "tags": sorted(labels.tags),
        "sectors": list(ext.get("sectors") or []) or sorted(set(labels.sectors)),
        "aware_at": _time(ext.get("aware_at") or inc.get("created"), "aware_at"),
        "occurred_at": _time(ext["occurred_at"], "occurred_at") if ext.get("occurred_at") else None,
        "status": ext.get("status") or FROM_INVESTIGATION.get(str(core.get("investigation_status")), "new"),
        "suspected_malicious": bool(ext.get("suspected_malicious", False)),
        "cross_border": bool(ext.get("cross_border", False)),
        "exceeds_national_capacity": bool(ext.get("exceeds_national_capacity", False)),
        "entity_name": ext.get("entity_name", ""),
        "entity_type": ext.get("entity_type"),
        "entity_category": ext.get("entity_category"),
        "facts": facts,
        **_read_relationships(inc, objects),
    }
