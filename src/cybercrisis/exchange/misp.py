"""Incidents as MISP events: the JSON that MISP's REST API and feeds carry, built offline with `pymisp`.

The mapping (documented for users in docs/exchange.md, "Exchange: MISP export"):

- The event's `uuid` is the uuid of the incident id (`incident--<uuid>`), so every export of one incident is the
  same MISP event and a re-import updates it instead of duplicating it. Attribute uuids are derived from it
  (uuid5 of the event uuid and the observable), event report uuids are those of the NIS2 report ids.
- `info` is the title; `date` the day the incident occurred (else the day its owner became aware of it);
  `timestamp` and `publish_timestamp` its last modification. `published` is false: an importing MISP must not
  publish (and so sync) the event on its own, its analysts decide.
- `threat_level_id` from the NIS taxonomy's threat severity, `analysis` from the status (THREAT_LEVELS, ANALYSIS).
- `distribution` from the TLP (DISTRIBUTION): never wider than what TLP 2.0 allows the recipient to do.
- Tags: the TLP as the MISP `tlp` taxonomy tag, PAP, the RSIT/NIS/NIS2 classification as machine tags, and the
  incident's own tags (see `incidents.fields.derived_tags`).
- Attributes: one per observable, with the MISP type and category MISP itself uses (ATTRIBUTE_TYPES).
- The description and every submitted NIS2 report become MISP *event reports* (MISP's object for narrative text,
  Markdown), not attributes: the reports are prose with a few structured fields, which MISP renders and
  `misp-stix` converts to STIX notes, while `text` attributes of category "Other" would be correlated and
  shown as indicators.
"""

from __future__ import annotations

import ipaddress
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymisp import MISPAttribute, MISPEvent, MISPOrganisation
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.directory.models import Organisation
from cybercrisis.incidents import fields, service
from cybercrisis.incidents.models import Incident, Observable, Report, Sighting

# MISP threat levels: 1 High, 2 Medium, 3 Low, 4 Undefined (from nis:nature-severity).
THREAT_LEVELS: dict[str | None, int] = {"high": 1, "medium": 2, "low": 3, None: 4}
# MISP analysis: 0 Initial, 1 Ongoing, 2 Completed.
ANALYSIS: dict[str, int] = {"new": 0, "triage": 0, "ongoing": 1, "contained": 1, "resolved": 2, "closed": 2}
# MISP distribution: 0 Your organisation only, 1 This community only, 2 Connected communities, 3 All communities.
# RED and AMBER+STRICT stay with the receiving organisation; so does AMBER (its "clients, need to know" is a
# decision of that organisation, not something MISP's community-wide levels can express); GREEN may reach the
# receiving instance's community but is not synced further; CLEAR may go everywhere.
DISTRIBUTION: dict[TLP, int] = {TLP.RED: 0, TLP.AMBER_STRICT: 0, TLP.AMBER: 0, TLP.GREEN: 1, TLP.CLEAR: 3}
INHERIT_EVENT = 5  # attribute distribution "inherit event"

REPORT_TITLES = {
    "early-warning": "NIS2 early warning",
    "notification": "NIS2 incident notification",
    "intermediate": "NIS2 intermediate report",
    "final": "NIS2 final report",
    "progress": "NIS2 progress report",
    "feedback": "CSIRT feedback on the early warning",
}


@dataclass(frozen=True)
class AttributeType:
    """The MISP attribute type, category and IDS flag for one of our observable types."""

    type: str
    category: str
    to_ids: bool


# Types and categories as MISP uses them (checked against misp-stix's golden mapping pairs in the tests).
# IP addresses have no direction in our model: `ip-dst` is MISP's usual type for infrastructure an incident's
# victims connected to. E-mail addresses have no role either (sender? recipient?), hence MISP's generic `email`.
ATTRIBUTE_TYPES: dict[str, AttributeType] = {
    "ipv4-addr": AttributeType("ip-dst", "Network activity", True),
    "ipv6-addr": AttributeType("ip-dst", "Network activity", True),
    "domain-name": AttributeType("domain", "Network activity", True),
    "url": AttributeType("url", "Network activity", True),
    "email-addr": AttributeType("email", "Payload delivery", True),
    "md5": AttributeType("md5", "Payload delivery", True),
    "sha1": AttributeType("sha1", "Payload delivery", True),
    "sha256": AttributeType("sha256", "Payload delivery", True),
    "cve": AttributeType("vulnerability", "External analysis", False),
    "autonomous-system": AttributeType("AS", "Network activity", False),
}

# Addresses of the victim's own networks: worth recording, useless (and noisy) as detection rules elsewhere.
_INTERNAL = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "0.0.0.0/8",
        "224.0.0.0/4",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
        "::/128",
    )
]


def _uuid_of(stix_id: str) -> str:
    return str(uuid.UUID(stix_id.split("--", 1)[1]))


def _is_internal(value: str) -> bool:
    net = ipaddress.ip_network(value, strict=False)
    return any(net.version == n.version and net.subnet_of(n) for n in _INTERNAL)  # type: ignore[arg-type]


def attribute_for(obs_type: str, value: str) -> tuple[AttributeType, str, str]:
    """(MISP type, value as MISP stores it, comment) for one normalised observable."""
    spec = ATTRIBUTE_TYPES[obs_type]
    comment = ""
    if obs_type == "autonomous-system":
        value = value.removeprefix("AS")  # MISP stores AS numbers without the prefix
    elif obs_type in ("ipv4-addr", "ipv6-addr"):
        if "/" in value:
            comment = "network range"
        if _is_internal(value):
            spec = AttributeType(spec.type, spec.category, False)
            comment = "internal address: context, not a detection rule"
    return spec, value, comment


def _timestamp(at: datetime) -> int:
    return int(at.timestamp())


def _markdown(content: dict[str, Any]) -> str:
    parts = []
    for key in sorted(content):
        value = content[key]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2)
        parts.append(f"## {key.replace('_', ' ').capitalize()}\n\n{text}")
    return "\n\n".join(parts)


def _sightings(session: Session, incident_id: str) -> list[tuple[Observable, datetime]]:
    rows = session.execute(
        select(Observable, Sighting.created_at)
        .join(Sighting, Sighting.observable_id == Observable.id)
        .where(Sighting.incident_id == incident_id)
        .order_by(Observable.type, Observable.value)
    ).all()
    return [(obs, at) for obs, at in rows]


def _submitted_reports(session: Session, incident_id: str) -> list[Report]:
    return [r for r in service.reports_of(session, incident_id) if r.submitted_at is not None]


def build_event(session: Session, incident: Incident) -> MISPEvent:
    """The MISP event of an incident already loaded through the access layer (see `incident_event`)."""
    event = MISPEvent(force_timestamps=True)
    event.uuid = _uuid_of(incident.id)
    event.info = incident.title
    event.set_date((incident.occurred_at or incident.aware_at).date())
    event.timestamp = _timestamp(incident.modified_at)
    event.publish_timestamp = _timestamp(incident.modified_at)
    event.published = False
    event.threat_level_id = THREAT_LEVELS.get(incident.threat_severity, 4)
    event.analysis = ANALYSIS.get(incident.status, 0)
    event.distribution = DISTRIBUTION[TLP(incident.tlp)]

    owner = session.get(Organisation, incident.owner_org_id)
    org = MISPOrganisation()
    org.name = owner.short_name if owner is not None else incident.owner_org_id
    org.uuid = _uuid_of(incident.owner_org_id)
    event.Orgc = org
    event.Org = org

    for tag in fields.derived_tags(incident):
        event.add_tag(tag)

    event_uuid = uuid.UUID(event.uuid)
    for obs, seen_at in _sightings(session, incident.id):
        spec, value, comment = attribute_for(obs.type, obs.value)
        attribute = event.add_attribute(
            spec.type,
            value,
            category=spec.category,
            to_ids=spec.to_ids,
            uuid=str(uuid.uuid5(event_uuid, f"{obs.type}:{obs.value}")),
            distribution=INHERIT_EVENT,
            timestamp=_timestamp(seen_at),
            comment=comment,
        )
        assert isinstance(attribute, MISPAttribute)  # one value, one attribute
        attribute.force_timestamp = True

    if incident.description:
        description = event.add_event_report(
            "Incident description",
            incident.description,
            uuid=str(uuid.uuid5(event_uuid, "description")),
            distribution=INHERIT_EVENT,
            timestamp=_timestamp(incident.modified_at),
        )
        description.force_timestamp = True
    for report in _submitted_reports(session, incident.id):
        assert report.submitted_at is not None
        title = REPORT_TITLES.get(report.kind, report.kind)
        header = f"Submitted {report.submitted_at.isoformat()} (version {report.version})."
        er = event.add_event_report(
            f"{title} (version {report.version})",
            f"{header}\n\n{_markdown(report.content)}".strip(),
            uuid=_uuid_of(report.id),
            distribution=INHERIT_EVENT,
            timestamp=_timestamp(report.submitted_at),
        )
        er.force_timestamp = True
    return event


def event_json(event: MISPEvent) -> dict[str, Any]:
    """`{"Event": {...}}`, serialised by pymisp as MISP's REST API and feeds carry it."""
    return {"Event": json.loads(event.to_json())}


def incident_event(session: Session, *, principal: Principal, incident_id: str) -> dict[str, Any]:
    """The MISP event (`{"Event": {...}}`) of an incident the principal may read; NotFound otherwise."""
    incident = service.get_incident(session, principal=principal, incident_id=incident_id)
    return event_json(build_event(session, incident))
