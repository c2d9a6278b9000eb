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

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stix2  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import STIX_MARKING_IDS, TLP
from cybercrisis.accounts.models import User
from cybercrisis.alerts.models import Alert
from cybercrisis.config import Settings
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import InvalidInput
from cybercrisis.incidents.models import Incident, Observable, Report, ReportSubmission, Sighting
from cybercrisis.incidents.service import derived_tags
from cybercrisis.situation import sitreps, sources
from cybercrisis.situation.models import Sitrep

MEDIA_TYPE = "application/stix+json;version=2.1"
INCIDENT_CORE = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
# Our namespace for derived ids (UUIDv5). Never change it: every derived id in every export depends on it.
NAMESPACE = uuid.UUID("a40843db-58f7-4fc5-b68b-bef5de53976b")
# A fixed time for reference objects that have no history of their own (the product, countries, CVEs).
REFERENCE_TIME = datetime(2022, 10, 1, tzinfo=UTC)
TLP2_CREATED = "2022-10-01T00:00:00.000Z"


def derived_id(stix_type: str, key: str) -> str:
    """A stable STIX id for an object of ours whose own id is not a STIX id of that type."""
    return f"{stix_type}--{uuid.uuid5(NAMESPACE, key)}"


PRODUCT_ID = derived_id("identity", "cybercrisis")
EXTENSION_ID = derived_id("extension-definition", "cybercrisis-incident")
EXTENSION_SCHEMA = (
    "cybercrisis incident extension (property-extension of incident), documented in docs/exchange.md of the "
    "cybercrisis project. Properties: status (new|triage|ongoing|contained|resolved|closed), pap, aware_at, "
    "occurred_at, handled_at (RFC 3339 UTC), entity_name, entity_type, entity_category (essential|important), "
    "suspected_malicious, cross_border, "
    "exceeds_national_capacity (booleans), sectors (NIS2 sector keys), facts (Implementing Regulation 2024/2690 "
    "figures), exercise (boolean)."
)

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
FROM_INVESTIGATION = {"new": "new", "open": "ongoing", "closed": "closed"}
# NIS impact severity (or, without it, threat severity) -> Incident Core criticality (0-100, Appendix B scales).
IMPACT_CRITICALITY = {"red": 95, "yellow": 70, "green": 40, "white": 15}
THREAT_CRITICALITY = {"high": 70, "medium": 40, "low": 15}
TLP1_MARKING_IDS = {
    stix2.TLP_WHITE.id: TLP.CLEAR,
    stix2.TLP_GREEN.id: TLP.GREEN,
    stix2.TLP_AMBER.id: TLP.AMBER,
    stix2.TLP_RED.id: TLP.RED,
}
MARKING_TLP = {v: k for k, v in STIX_MARKING_IDS.items()} | TLP1_MARKING_IDS
HASHES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256"}
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


def _ts(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as our extension's times are written."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def marking_id(tlp: str) -> str:
    return STIX_MARKING_IDS[TLP(tlp)]


def marking_definition(tlp: TLP) -> dict[str, Any]:
    """The TLP 2.0 marking-definition object as OASIS publishes it (fixed id, name, created, extension)."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": STIX_MARKING_IDS[tlp],
        "created": TLP2_CREATED,
        "name": tlp.label,
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.value}},
    }


def product_identity() -> stix2.Identity:
    return stix2.Identity(
        id=PRODUCT_ID,
        name="cybercrisis",
        identity_class="system",
        created=REFERENCE_TIME,
        modified=REFERENCE_TIME,
        description="Coordinated response to large-scale cyber incidents and crises; author of its STIX extension.",
        object_marking_refs=[marking_id(TLP.CLEAR)],
    )


def extension_definition() -> stix2.ExtensionDefinition:
    """Our property extension of `incident`, for the NIS2 fields that STIX and Incident Core do not carry."""
    return stix2.ExtensionDefinition(
        id=EXTENSION_ID,
        created_by_ref=PRODUCT_ID,
        created=REFERENCE_TIME,
        modified=REFERENCE_TIME,
        name="cybercrisis incident",
        description="NIS2 reporting fields of an incident recorded in cybercrisis.",
        schema=EXTENSION_SCHEMA,
        version="1.0.0",
        extension_types=["property-extension"],
        object_marking_refs=[marking_id(TLP.CLEAR)],
    )


def identity(org: Organisation) -> stix2.Identity:
    """A directory organisation; its id is already `identity--<uuid>`, the same on every node."""
    return stix2.Identity(
        id=org.id,
        name=org.name,
        identity_class="organization",
        created=org.created_at,
        modified=max(org.modified_at, org.created_at),
        object_marking_refs=[marking_id(TLP.GREEN)],
        **({"description": org.description} if org.description else {}),
    )


def location(country: str) -> stix2.Location:
    return stix2.Location(
        id=derived_id("location", f"country:{country}"),
        country=country,
        name=country,
        created=REFERENCE_TIME,
        modified=REFERENCE_TIME,
        object_marking_refs=[marking_id(TLP.CLEAR)],
    )


def observable(type_: str, value: str, tlp: str) -> Any:
    """One of our observables as a STIX object: an SCO with its deterministic id, or a CVE `vulnerability`."""
    marks = [marking_id(tlp)]
    if type_ == "ipv4-addr":
        return stix2.IPv4Address(value=value, object_marking_refs=marks)
    if type_ == "ipv6-addr":
        return stix2.IPv6Address(value=value, object_marking_refs=marks)
    if type_ == "domain-name":
        return stix2.DomainName(value=value, object_marking_refs=marks)
    if type_ == "url":
        return stix2.URL(value=value, object_marking_refs=marks)
    if type_ == "email-addr":
        return stix2.EmailAddress(value=value, object_marking_refs=marks)
    if type_ in HASHES:
        return stix2.File(hashes={HASHES[type_]: value}, object_marking_refs=marks)
    if type_ == "autonomous-system":
        return stix2.AutonomousSystem(number=int(value.removeprefix("AS")), object_marking_refs=marks)
    if type_ == "cve":
        # The CVE itself is public; that this incident saw it is carried (and marked) by the relationship.
        return stix2.Vulnerability(
            id=derived_id("vulnerability", f"cve:{value}"),
            name=value,
            created=REFERENCE_TIME,
            modified=REFERENCE_TIME,
            object_marking_refs=[marking_id(TLP.CLEAR)],
            external_references=[
                {"source_name": "cve", "external_id": value, "url": f"https://www.cve.org/CVERecord?id={value}"}
            ],
        )
    raise ValueError(f"no STIX form for observable type {type_}")


def relationship(source: str, kind: str, target: str, *, at: datetime, tlp: str, author: str) -> stix2.Relationship:
    return stix2.Relationship(
        id=derived_id("relationship", f"{source}|{kind}|{target}"),
        relationship_type=kind,
        source_ref=source,
        target_ref=target,
        created=at,
        modified=at,
        created_by_ref=author,
        object_marking_refs=[marking_id(tlp)],
    )


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
    reports: list[ReportData] = field(default_factory=list)


def criticality(incident: Incident) -> int | None:
    if incident.impact_severity in IMPACT_CRITICALITY:
        return IMPACT_CRITICALITY[incident.impact_severity]
    if incident.threat_severity in THREAT_CRITICALITY:
        return THREAT_CRITICALITY[incident.threat_severity]
    return None


def determination(incident: Incident) -> str:
    """`suspected` until triage is over; then the compromise is established: `successful-attempt`."""
    return "suspected" if incident.status in ("new", "triage") else "successful-attempt"


def incident_sdo(incident: Incident) -> stix2.Incident:
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
        "aware_at": _ts(incident.aware_at),
        "suspected_malicious": incident.suspected_malicious,
        "cross_border": incident.cross_border,
        "exceeds_national_capacity": incident.exceeds_national_capacity,
    }
    for key, when in (("occurred_at", incident.occurred_at), ("handled_at", incident.handled_at)):
        if when is not None:
            ours[key] = _ts(when)
    for key in ("entity_name", "entity_type", "entity_category"):
        if getattr(incident, key):
            ours[key] = getattr(incident, key)
    if incident.sectors:
        ours["sectors"] = incident.sectors
    if incident.facts:
        ours["facts"] = incident.facts
    if incident.exercise:
        ours["exercise"] = True
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
    out: list[Any] = [incident_sdo(i)]
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
    return stix2.Report(
        id=derived_id("report", alert.id),
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


# --- bundles --------------------------------------------------------------------------------------------------


class BundleWriter:
    """Writes a bundle as it goes: each object once (by id); at the end the identities, TLP marking-definitions
    and extension definition the objects refer to, and a bundle id derived from the content, so that the same
    content always gives the same bytes. Memory holds ids, not objects: fit for exports of any size."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.ids: set[str] = set()
        self.identities: set[str] = set()
        self.markings: set[TLP] = set()
        self.extensions: set[str] = set()
        self.counts: dict[str, int] = defaultdict(int)
        self.digest = hashlib.sha256()
        out.write('{"type": "bundle", "objects": [')

    def add(self, obj: Any) -> None:
        if obj["id"] in self.ids:
            return
        self.ids.add(obj["id"])
        self.counts[obj["type"]] += 1
        for key in ("created_by_ref", "source_ref", "target_ref"):
            ref = obj.get(key)
            if ref and ref.startswith("identity--"):
                self.identities.add(ref)
        self.identities.update(r for r in obj.get("object_refs", ()) if r.startswith("identity--"))
        self.markings.update(MARKING_TLP[r] for r in obj.get("object_marking_refs", ()) if r in MARKING_TLP)
        self.extensions.update(obj.get("extensions") or {})
        text = json.dumps(obj, sort_keys=True) if isinstance(obj, dict) else obj.serialize()
        self.digest.update(text.encode())
        self.out.write(("\n" if len(self.ids) == 1 else ",\n") + text)

    def add_all(self, objects: Iterable[Any]) -> None:
        for obj in objects:
            self.add(obj)

    def finish(self, session: Session) -> str:
        """Add what the objects refer to and close the bundle; returns its id."""
        wanted = sorted(self.identities - self.ids)
        for n in range(0, len(wanted), 500):
            orgs = session.scalars(select(Organisation).where(Organisation.id.in_(wanted[n : n + 500])))
            self.add_all(identity(o) for o in sorted(orgs, key=lambda o: o.id))
        if EXTENSION_ID in self.extensions:
            self.add_all([product_identity(), extension_definition()])
        for tlp in TLP:  # the marking-definitions last: the objects above may have added CLEAR or GREEN
            if tlp in self.markings:
                self.add(marking_definition(tlp))
        bundle_id = f"bundle--{uuid.uuid5(NAMESPACE, self.digest.hexdigest())}"
        self.out.write(f'\n], "id": "{bundle_id}"}}\n')
        return bundle_id


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for n in range(0, len(items), size):
        yield items[n : n + size]


# --- loading through the access layer, in batches ---------------------------------------------------------------


def load_incidents(session: Session, incidents: Sequence[Incident]) -> list[IncidentData]:
    """Observables and submitted reports of a batch of (already readable) incidents: a few queries per batch."""
    data = {i.id: IncidentData(i) for i in incidents}
    kinds = list(REPORT_KIND_TITLE)
    for chunk in _chunks(list(data)):
        rows = session.execute(
            select(Sighting.incident_id, Sighting.created_at, Observable.type, Observable.value)
            .join(Observable, Observable.id == Sighting.observable_id)
            .where(Sighting.incident_id.in_(chunk))
            .order_by(Sighting.incident_id, Observable.type, Observable.value)
        )
        for row in rows:
            data[row.incident_id].observables.append(SeenObservable(row.type, row.value, row.created_at))
        reports = list(
            session.scalars(select(Report).where(Report.incident_id.in_(chunk), Report.submitted_at.is_not(None)))
        )
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


def _visible_incidents(session: Session, reader: Principal, ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(ids))
    visible: set[str] = set()
    for chunk in _chunks(wanted):
        visible.update(
            session.scalars(select(Incident.id).where(Incident.id.in_(chunk), read_filter(reader, Incident)))
        )
    return visible


def sitrep_objects(session: Session, view: sitreps.SitrepView, reader: Principal) -> list[Any]:
    inputs = sources.thaw(session, sitrep_id=view.sitrep.id, build=view.version.build, reader=reader)
    return [sitrep_report(view, [i.id for i in inputs.incidents])]


def _bundle(session: Session, objects: list[Any]) -> str:
    import io

    buf = io.StringIO()
    writer = BundleWriter(buf)
    writer.add_all(objects)
    writer.finish(session)
    return buf.getvalue()


def incident_bundle(session: Session, *, reader: Principal, incident_id: str) -> str:
    """The incident as a STIX 2.1 bundle (JSON text), if the reader may see it; NotFound otherwise."""
    from cybercrisis.incidents.common import get_incident

    incident = get_incident(session, principal=reader, incident_id=incident_id)
    return _bundle(session, incident_objects(load_incidents(session, [incident])[0]))


def alert_bundle(session: Session, *, reader: Principal, alert_id: str) -> str:
    from cybercrisis.access import sharing

    alert = sharing.get_readable(session, reader, Alert, alert_id)
    visible = bool(alert.incident_id) and bool(_visible_incidents(session, reader, [alert.incident_id or ""]))
    return _bundle(session, [alert_report(alert, incident_visible=visible)])


def sitrep_bundle(
    session: Session, *, reader: Principal, sitrep_id: str, settings: Settings, version: int | None = None
) -> str:
    view = sitreps.view(session, reader=reader, sitrep_id=sitrep_id, settings=settings, version=version)
    return _bundle(session, sitrep_objects(session, view, reader))


@dataclass(slots=True)
class ExportCounts:
    incidents: int = 0
    observables: int = 0
    reports: int = 0
    alerts: int = 0
    sitreps: int = 0
    objects: int = 0


def export_all(
    session: Session,
    writer: BundleWriter,
    *,
    reader: Principal,
    settings: Settings,
    since: datetime | None = None,
    batch: int = 200,
) -> ExportCounts:
    """Every incident, alert and published situation report the reader may see (changed since `since`), in
    keyset-paged batches; the session is cleared after each batch so memory stays flat."""
    counts = ExportCounts()
    for model in (Incident, Alert, Sitrep):
        last = ""
        while True:
            query = select(model).where(read_filter(reader, model), model.id > last)
            if since is not None:
                query = query.where(model.modified_at >= since)
            if model is Sitrep:
                query = query.where(Sitrep.published_version.is_not(None))
            rows: list[Any] = list(session.scalars(query.order_by(model.id).limit(batch)))
            if not rows:
                break
            last = rows[-1].id
            if model is Incident:
                for d in load_incidents(session, rows):
                    writer.add_all(incident_objects(d))
                    counts.incidents += 1
                    counts.observables += len(d.observables)
                    counts.reports += len(d.reports)
            elif model is Alert:
                visible = _visible_incidents(session, reader, [a.incident_id for a in rows if a.incident_id])
                for a in rows:
                    writer.add(alert_report(a, incident_visible=a.incident_id in visible))
                    counts.alerts += 1
            else:
                for s in rows:
                    view = sitreps.view(
                        session, reader=reader, sitrep_id=s.id, settings=settings, version=s.published_version
                    )
                    writer.add_all(sitrep_objects(session, view, reader))
                    counts.sitreps += 1
            session.expunge_all()
    counts.objects = len(writer.ids)
    return counts


# --- back: STIX -> the fields of IncidentIn ----------------------------------------------------------------------

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
