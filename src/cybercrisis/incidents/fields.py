"""What a writer gives an incident, checked and normalised: the taxonomy classification (RSIT, NIS, PAP) and the
MISP machine tags derived from it, countries, sectors, times, the affected entity, the status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cybercrisis import taxonomies
from cybercrisis.db import utcnow
from cybercrisis.directory.countries import normalise_country
from cybercrisis.errors import Conflict
from cybercrisis.incidents.common import CLOCK_SKEW, bad
from cybercrisis.incidents.models import (
    TRANSITIONS,
    Incident,
    IncidentStatus,
)


@dataclass
class Classification:
    rsit_class: str | None
    rsit_type: str | None
    root_cause: str | None
    threat_severity: str | None
    impact_severity: str | None
    outlook: str | None
    pap: str
    tags: list[str]


def classify(data: dict[str, Any]) -> Classification:
    rsit_class, rsit_type = taxonomies.check_rsit(data.get("rsit_class"), data.get("rsit_type"))
    nis = taxonomies.predicate_values
    fields = {
        "root_cause": taxonomies.check("root_cause", data.get("root_cause"), nis("nis", "nature-root-cause")),
        "threat_severity": taxonomies.check(
            "threat_severity", data.get("threat_severity"), nis("nis", "nature-severity")
        ),
        "impact_severity": taxonomies.check(
            "impact_severity", data.get("impact_severity"), nis("nis", "impact-severity")
        ),
        "outlook": taxonomies.check("outlook", data.get("outlook"), nis("nis", "impact-outlook")),
    }
    pap = str(data.get("pap") or "amber").lower().removeprefix("pap:")
    taxonomies.check("pap", pap, list(taxonomies.PAP_VALUES))
    tags: list[str] = []
    for tag in data.get("tags") or []:
        ns, pred, value = taxonomies.parse_tag(tag)
        # The classification fields and the tags must not contradict each other: fields win, tags are derived.
        if ns in ("rsit", "nis", "tlp", "PAP"):
            continue
        tags.append(taxonomies.machine_tag(ns, pred, value))
    for tag in data.get("tags") or []:
        ns, pred, value = taxonomies.parse_tag(tag)
        if ns == "rsit" and rsit_class is None:
            rsit_class, rsit_type = pred, value
        elif ns == "nis":
            key = {
                "nature-root-cause": "root_cause",
                "nature-severity": "threat_severity",
                "impact-severity": "impact_severity",
                "impact-outlook": "outlook",
            }.get(pred)
            if key and fields[key] is None:
                fields[key] = value
    return Classification(rsit_class, rsit_type, pap=pap, tags=sorted(set(tags)), **fields)


def derived_tags(incident: Incident) -> list[str]:
    """MISP machine tags for the incident: its own tags plus those of its classification fields."""
    tags = list(incident.tags)
    if incident.rsit_class:
        tags.append(taxonomies.machine_tag("rsit", incident.rsit_class, incident.rsit_type))
    nis = (
        ("nature-root-cause", incident.root_cause),
        ("nature-severity", incident.threat_severity),
        ("impact-severity", incident.impact_severity),
        ("impact-outlook", incident.outlook),
    )
    for pred, value in nis:
        if value:
            tags.append(taxonomies.machine_tag("nis", pred, value))
    for sector in incident.sectors:
        tags.append(taxonomies.machine_tag("nis2", "impact-sectors-impacted", sector))
    tags.append(taxonomies.machine_tag("tlp", incident.tlp, None))
    tags.append(taxonomies.machine_tag("PAP", incident.pap.upper(), None))
    return sorted(set(tags))


def check_countries(values: list[str]) -> list[str]:
    return sorted({normalise_country(c, field="countries") for c in values})


def check_sectors(values: list[str]) -> list[str]:
    valid = taxonomies.nis2_sectors()
    for s in values:
        taxonomies.check("sectors", s, valid)
    return sorted(set(values))


def check_times(aware_at: datetime, occurred_at: datetime | None, now: datetime) -> None:
    if aware_at.tzinfo is None:
        raise bad("aware_at", "give a time zone, e.g. 2026-11-28T09:00:00Z")
    if aware_at > now + CLOCK_SKEW:
        raise bad("aware_at", "the entity cannot have become aware in the future")
    if occurred_at is not None:
        if occurred_at.tzinfo is None:
            raise bad("occurred_at", "give a time zone")
        if occurred_at > aware_at:
            raise bad("occurred_at", "the incident cannot occur after the entity became aware of it")


CATEGORIES = ("essential", "important")


def entity_kind(kind: str | None, category: str | None) -> tuple[str | None, str | None]:
    """(entity_type, entity_category): `essential` or `important` given as the type is the category (the form of
    the API before the two were apart); a different category given beside it is refused."""
    kind = (kind or "").strip() or None
    if kind in CATEGORIES:
        if category and category != kind:
            raise bad("entity_category", f"entity_type says {kind} and entity_category says {category}: give one")
        return None, kind
    return kind, category


def root_cause_text(value: str | None) -> str | None:
    """The apparent root cause as typed, spaces tidied; empty means none."""
    text = " ".join((value or "").split())
    return text or None


def transition(incident: Incident, target: str) -> None:
    valid = [s.value for s in IncidentStatus]
    if target not in valid:
        raise bad("status", f"'{target}' is not a status; valid: {', '.join(valid)}")
    allowed = TRANSITIONS[incident.status]
    if target not in allowed:
        raise Conflict(
            f"an incident in status {incident.status} cannot move to {target}; "
            f"it can move to: {', '.join(sorted(allowed))}"
        )
    if target in ("resolved", "closed") and incident.handled_at is None:
        incident.handled_at = utcnow()
    if target == "ongoing" and incident.status in ("resolved", "closed"):
        incident.handled_at = None  # reopened
    incident.status = target
