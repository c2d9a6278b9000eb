"""STIX 2.1: our incidents, early warnings and situation reports as STIX objects and bundles, and back.

The mapping is written down in docs/exchange.md ("Exchange: STIX 2.1 export"). In short:

- an incident is an `incident` SDO with the OASIS Incident Core extension (determination, investigation_status,
  criticality, impacted_entity_counts) and our own property extension for the NIS2 fields that STIX has no home
  for (status, awareness time, flags, sectors, threshold facts); its taxonomy machine tags are its `labels`;
- TLP 2.0 markings are the fixed OASIS marking-definition objects, included in every bundle that uses them;
- observables are SCOs (CVEs: `vulnerability` SDOs) linked to the incident by `related-to` relationships;
  countries are `location` SDOs (`located-at`), the affected entity is an `identity` (`impacts`);
- NIS2 reports are `note` objects about the incident; an early warning (alert) and a situation report are
  `report` objects that refer only to what the reader may see.

Ids: incidents and organisations keep their ids (ours are STIX ids); SCOs get the deterministic ids of STIX;
everything else a UUIDv5 derived from our id, so that exporting the same data again gives the same bundle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import stix2  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.accounts.models import User
from cybercrisis.alerts.models import Alert
from cybercrisis.exchange.stix_common import (
    ALERT_EXTENSION_ID,
    EXTENSION_ID,
    INCIDENT_CORE,
    chunks,
    derived_id,
    location,
    marking_id,
    observable,
    relationship,
    ts,
)
from cybercrisis.incidents.fields import derived_tags
from cybercrisis.incidents.models import Incident, Observable, Report, ReportSubmission, Sighting
from cybercrisis.situation import sitreps

# --- vocabularies ---------------------------------------------------------------------------------------------

# Our lifecycle -> incident-investigation-ov (new | open | closed); the exact status travels in our extension.
INVESTIGATION_STATUS = {
    "new": "new",
    "triage": "open",
    "ongoing": "open",
    "contained": "open",
    "resolved": "closed",
    "closed": "closed",
}
# NIS impact severity (or, without it, threat severity) -> Incident Core criticality (0-100, Appendix B scales).
IMPACT_CRITICALITY = {"red": 95, "yellow": 70, "green": 40, "white": 15}
THREAT_CRITICALITY = {"high": 70, "medium": 40, "low": 15}
REPORT_KIND_TITLE = {
    "early-warning": "early warning",
    "notification": "incident notification",
    "intermediate": "intermediate report",
    "final": "final report",
    "progress": "progress report",
    "feedback": "CSIRT feedback on the early warning",
}
REPORT_FIELD_TITLE = {
    "summary": "Summary",
    "suspected_malicious": "Suspected unlawful or malicious",
    "cross_border": "Possible cross-border impact",
    "severity_and_impact": "Severity and impact",
    "root_cause": "Type of threat or root cause",
    "mitigation_applied": "Mitigation applied",
    "mitigation_ongoing": "Mitigation ongoing",
    "cross_border_impact": "Cross-border impact",
    "guidance": "Guidance",
    "law_enforcement_guidance": "Law enforcement guidance",
    "indicators": "Indicators",
}
NIS2_URL = "https://eur-lex.europa.eu/eli/dir/2022/2555/oj"

# --- incidents ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SeenObservable:
    type: str
    value: str
    seen_at: datetime


@dataclass(slots=True)
class ReportData:
    report: Report
    modified: datetime
    author_org_id: str | None


@dataclass(slots=True)
class IncidentData:
    """An incident with what its export needs, loaded in batches (see `load_incidents`)."""

    incident: Incident
    observables: list[SeenObservable] = field(default_factory=list)
    reports: list[ReportData] = field(default_factory=list)  # the submitted ones, as notes
    deadlines: list[Report] = field(default_factory=list)  # every NIS2 report, for its due time


def criticality(incident: Incident) -> int | None:
    if incident.impact_severity in IMPACT_CRITICALITY:
        return IMPACT_CRITICALITY[incident.impact_severity]
    if incident.threat_severity in THREAT_CRITICALITY:
        return THREAT_CRITICALITY[incident.threat_severity]
    return None


def determination(incident: Incident) -> str:
    """`suspected` until triage is over; then the compromise is established: `successful-attempt`."""
    return "suspected" if incident.status in ("new", "triage") else "successful-attempt"


_KIND_ORDER = {kind: n for n, kind in enumerate(REPORT_KIND_TITLE)}


def _deadline_order(r: Report) -> tuple[Any, ...]:
    """Oldest first; the clocks one notification opens (same time) in the order of Art. 23(4), not by random id."""
    return (r.created_at, _KIND_ORDER.get(r.kind, len(_KIND_ORDER)), r.version, r.id)


def _deadline(r: Report) -> dict[str, Any]:
    """A NIS2 report's clock as it travels (no content: the submitted ones travel as notes)."""
    out: dict[str, Any] = {"id": r.id, "kind": r.kind, "version": r.version}
    for key in ("due_at", "requested_at", "submitted_at"):
        when = getattr(r, key)
        if when is not None:
            out[key] = ts(when)
    return out


def incident_sdo(incident: Incident, deadlines: Sequence[Report] = ()) -> stix2.Incident:
    core: dict[str, Any] = {
        "extension_type": "property-extension",
        "determination": determination(incident),
        "investigation_status": INVESTIGATION_STATUS[incident.status],
    }
    crit = criticality(incident)
    if crit is not None:
        core["criticality"] = crit
    users = incident.facts.get("users_affected")
    if isinstance(users, int):
        core["impacted_entity_counts"] = {"individuals": users}
    ours: dict[str, Any] = {
        "extension_type": "property-extension",
        "status": incident.status,
        "pap": incident.pap,
        "aware_at": ts(incident.aware_at),
        "suspected_malicious": incident.suspected_malicious,
        "cross_border": incident.cross_border,
        "exceeds_national_capacity": incident.exceeds_national_capacity,
    }
    for key, when in (("occurred_at", incident.occurred_at), ("handled_at", incident.handled_at)):
        if when is not None:
            ours[key] = ts(when)
    for key in ("entity_name", "entity_type", "entity_category"):
        if getattr(incident, key):
            ours[key] = getattr(incident, key)
    if incident.sectors:
        ours["sectors"] = incident.sectors
    if incident.facts:
        ours["facts"] = incident.facts
    if incident.exercise:
        ours["exercise"] = True
    ours["significance"] = incident.significance
    if incident.countries:  # also as `located-at` locations; here the whole list, so that a removal travels
        ours["countries"] = incident.countries
    if incident.apparent_root_cause:
        ours["apparent_root_cause"] = incident.apparent_root_cause
    if deadlines:
        ours["reports"] = [_deadline(r) for r in sorted(deadlines, key=_deadline_order)]
    labels = derived_tags(incident) + (["exercise"] if incident.exercise else [])
    return stix2.Incident(
        id=incident.id,
        name=incident.title,
        created=incident.created_at,
        modified=max(incident.modified_at, incident.created_at),
        created_by_ref=incident.owner_org_id,
        labels=labels,
        object_marking_refs=[marking_id(incident.tlp)],
        extensions={INCIDENT_CORE: core, EXTENSION_ID: ours},
        **({"description": incident.description} if incident.description else {}),
    )


def _report_text(content: Mapping[str, Any]) -> str:
    parts = []
    for key, title in REPORT_FIELD_TITLE.items():
        value = content.get(key)
        if value is None or value in ("", []):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        elif key == "indicators":
            value = "\n".join(f"- {i['type']}: {i['value']}" for i in value)
        parts.append(f"{title}:\n{value}")
    return "\n\n".join(parts) or "(no content)"


def report_note(incident: Incident, data: ReportData) -> stix2.Note:
    """A submitted NIS2 report as a `note` about the incident (same marking as the incident)."""
    r = data.report
    assert r.submitted_at is not None  # only submitted reports are exported
    created = r.submitted_at
    return stix2.Note(
        id=derived_id("note", r.id),
        created=created,
        modified=max(data.modified, created),
        abstract=f"NIS2 {REPORT_KIND_TITLE.get(r.kind, r.kind)} (version {r.version})",
        content=_report_text(r.content),
        object_refs=[incident.id],
        created_by_ref=data.author_org_id or incident.owner_org_id,
        labels=["nis2-report", r.kind],
        object_marking_refs=[marking_id(incident.tlp)],
        external_references=[
            {"source_name": "NIS2 Art. 23", "description": "Directive (EU) 2022/2555, Art. 23", "url": NIS2_URL}
        ],
    )


def incident_objects(data: IncidentData) -> list[Any]:
    """The incident and everything about it: observables, relationships, countries, the entity, its reports."""
    i = data.incident
    out: list[Any] = [incident_sdo(i, data.deadlines)]
    author, tlp = i.owner_org_id, i.tlp
    seen: set[str] = set()
    for o in data.observables:
        obj = observable(o.type, o.value, tlp)
        if obj.id not in seen:  # md5/sha1/sha256 of one value are three files; duplicates only on bad data
            seen.add(obj.id)
            out.append(obj)
        out.append(relationship(i.id, "related-to", obj.id, at=max(o.seen_at, i.created_at), tlp=tlp, author=author))
    for country in i.countries:
        loc = location(country)
        out += [loc, relationship(i.id, "located-at", loc.id, at=i.created_at, tlp=tlp, author=author)]
    if i.entity_org_id:
        out.append(relationship(i.id, "impacts", i.entity_org_id, at=i.created_at, tlp=tlp, author=author))
    out += [report_note(i, r) for r in data.reports if r.report.submitted_at is not None]
    return out


# --- alerts and situation reports -----------------------------------------------------------------------------


def alert_report(alert: Alert, *, incident_visible: bool) -> stix2.Report:
    """An early warning as a `report`; it refers to its incident only when the reader may see that incident."""
    refs = [alert.incident_id] if alert.incident_id and incident_visible else [alert.owner_org_id]
    labels = ["early-warning", taxonomies.machine_tag("tlp", alert.tlp, None)] + (
        ["exercise"] if alert.exercise else []
    )
    ours: dict[str, Any] = {
        "extension_type": "property-extension",
        "alert_id": alert.id,
        "remind_after_minutes": alert.remind_after_minutes,
        "escalate_after_minutes": alert.escalate_after_minutes,
        "recipients": [
            {"organisation": r.org_id, **({"acknowledged_at": ts(r.acknowledged_at)} if r.acknowledged_at else {})}
            for r in sorted(alert.recipients, key=lambda r: r.org_id)
        ],
    }
    return stix2.Report(
        id=derived_id("report", alert.id),
        extensions={ALERT_EXTENSION_ID: ours},
        name=alert.title,
        description=alert.body or alert.title,
        published=alert.created_at,
        created=alert.created_at,
        modified=max(alert.modified_at, alert.created_at),
        report_types=["threat-report"],
        object_refs=refs,
        created_by_ref=alert.owner_org_id,
        labels=labels,
        object_marking_refs=[marking_id(alert.tlp)],
    )


def sitrep_report(view: sitreps.SitrepView, incident_ids: Sequence[str]) -> stix2.Report:
    """A situation report as this reader sees it: their marking, their figures, refs to incidents they may see."""
    s, v = view.sitrep, view.version
    text = v.text
    parts = [text[k] for k in ("summary", "decisions_needed", "notes") if text.get(k)]
    figures = "\n".join(f"- {n.label}: {n.value}" for n in view.picture.headline)
    if figures:
        parts.append(f"Figures ({view.shown} sources shown):\n{figures}")
    period = f"{s.period_start:%Y-%m-%d %H:%M} to {s.period_end:%Y-%m-%d %H:%M} UTC"
    created = s.created_at
    published = s.published_at if s.published_at and v.number == s.published_version else v.created_at
    labels = ["situation-report", s.level, f"version-{v.number}", taxonomies.machine_tag("tlp", view.marking, None)]
    return stix2.Report(
        id=derived_id("report", s.id),
        name=view.title,
        description="\n\n".join([f"Period: {period}", *parts]),
        published=published,
        created=created,
        modified=max(v.created_at, created),
        report_types=["threat-report"],
        object_refs=sorted(incident_ids) or [s.owner_org_id],
        created_by_ref=s.owner_org_id,
        labels=labels + (["exercise"] if s.exercise else []),
        object_marking_refs=[marking_id(view.marking)],
    )


# --- loading through the access layer, in batches ---------------------------------------------------------------


def load_incidents(session: Session, incidents: Sequence[Incident]) -> list[IncidentData]:
    """Observables and submitted reports of a batch of (already readable) incidents: a few queries per batch."""
    data = {i.id: IncidentData(i) for i in incidents}
    kinds = list(REPORT_KIND_TITLE)
    for chunk in chunks(list(data)):
        rows = session.execute(
            select(Sighting.incident_id, Sighting.created_at, Observable.type, Observable.value)
            .join(Observable, Observable.id == Sighting.observable_id)
            .where(Sighting.incident_id.in_(chunk))
            .order_by(Sighting.incident_id, Observable.type, Observable.value)
        )
        for row in rows:
            data[row.incident_id].observables.append(SeenObservable(row.type, row.value, row.created_at))
        every = list(session.scalars(select(Report).where(Report.incident_id.in_(chunk))))
        for r in every:
            data[r.incident_id].deadlines.append(r)
        reports = [r for r in every if r.submitted_at is not None]
        if not reports:
            continue
        report_ids = [r.id for r in reports]
        latest_q = (
            select(ReportSubmission.report_id, func.max(ReportSubmission.submitted_at))
            .where(ReportSubmission.report_id.in_(report_ids))
            .group_by(ReportSubmission.report_id)
        )
        latest: dict[str, datetime] = {rid: at for rid, at in session.execute(latest_q)}  # noqa: C416 - a Result is not a mapping
        users = sorted({r.submitted_by_id for r in reports if r.submitted_by_id})
        orgs: dict[str, str] = {}
        if users:
            found = session.execute(select(User.id, User.org_id).where(User.id.in_(users)))
            orgs = {uid: org for uid, org in found}  # noqa: C416
        for r in sorted(reports, key=lambda r: (r.incident_id, kinds.index(r.kind), r.created_at, r.id)):
            assert r.submitted_at is not None
            author = orgs.get(r.submitted_by_id or "")
            data[r.incident_id].reports.append(ReportData(r, latest.get(r.id) or r.submitted_at, author))
    return [data[i.id] for i in incidents]
