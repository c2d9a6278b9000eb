"""Incidents: record, classify, share, report on time, assess, correlate. Every read goes through the policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.countries import normalise_country
from cybercrisis.directory.models import CommunityMembership, Organisation
from cybercrisis.errors import Conflict, InvalidInput, PermissionDenied
from cybercrisis.incidents import assessment, deadlines, tasks
from cybercrisis.incidents.models import (
    TRANSITIONS,
    Incident,
    IncidentCountry,
    IncidentSector,
    IncidentStatus,
    Observable,
    Report,
    ReportKind,
    ReportSubmission,
    Sighting,
)
from cybercrisis.incidents.observables import normalise
from cybercrisis.incidents.schemas import Facts, IncidentIn, ObservableIn, ReportIn
from cybercrisis.pagination import Page, decode_cursor, encode_cursor

CLOCK_SKEW = timedelta(minutes=5)
# Fields each report kind may carry (NIS2 Art. 23(4)); anything else in a submission is refused.
REPORT_FIELDS: dict[str, set[str]] = {
    "early-warning": {"summary", "suspected_malicious", "cross_border"},
    "notification": {"summary", "severity_and_impact", "indicators"},
    "intermediate": {"summary", "severity_and_impact", "mitigation_ongoing"},
    "final": {"summary", "severity_and_impact", "root_cause", "mitigation_applied", "mitigation_ongoing",
              "cross_border_impact"},
    "progress": {"summary", "mitigation_ongoing"},
    "feedback": {"summary", "guidance", "law_enforcement_guidance"},
}  # fmt: skip


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


# --- validation -------------------------------------------------------------------------------------------


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


def _classify(data: dict[str, Any]) -> Classification:
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
            key = {"nature-root-cause": "root_cause", "nature-severity": "threat_severity",
                   "impact-severity": "impact_severity", "impact-outlook": "outlook"}.get(pred)  # fmt: skip
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


def _countries(values: list[str]) -> list[str]:
    return sorted({normalise_country(c, field="countries") for c in values})


def _sectors(values: list[str]) -> list[str]:
    valid = taxonomies.nis2_sectors()
    for s in values:
        taxonomies.check("sectors", s, valid)
    return sorted(set(values))


def _check_times(aware_at: datetime, occurred_at: datetime | None, now: datetime) -> None:
    if aware_at.tzinfo is None:
        raise _bad("aware_at", "give a time zone, e.g. 2026-11-28T09:00:00Z")
    if aware_at > now + CLOCK_SKEW:
        raise _bad("aware_at", "the entity cannot have become aware in the future")
    if occurred_at is not None:
        if occurred_at.tzinfo is None:
            raise _bad("occurred_at", "give a time zone")
        if occurred_at > aware_at:
            raise _bad("occurred_at", "the incident cannot occur after the entity became aware of it")


# --- create / update --------------------------------------------------------------------------------------


def create_incident(session: Session, *, actor: Principal, data: IncidentIn) -> Incident:
    actor.require(Permission.INCIDENT_WRITE)
    if actor.org_id is None:
        raise PermissionDenied("incidents belong to an organisation: act as one of its users")
    now = utcnow()
    _check_times(data.aware_at, data.occurred_at, now)
    cls = _classify(data.model_dump())
    countries = _countries(data.countries)
    sectors = _sectors(data.sectors)
    marking = sharing.parse_tlp(data.tlp)
    if data.entity and session.get(Organisation, data.entity) is None:
        raise _bad("entity", f"no organisation with id {data.entity}")
    values = _normalise_observables(data.observables)
    entries = sharing.resolve(
        session, tlp=marking, share_with=data.share_with, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    incident = Incident(
        id=new_id("incident"), owner_org_id=actor.org_id, created_by_id=actor.user_id, tlp=marking.value,
        title=data.title.strip(), description=data.description, status=IncidentStatus.NEW.value,
        entity_name=data.entity_name.strip(), entity_org_id=data.entity, entity_type=data.entity_type,
        aware_at=data.aware_at, occurred_at=data.occurred_at, suspected_malicious=data.suspected_malicious,
        cross_border=data.cross_border, exceeds_national_capacity=data.exceeds_national_capacity,
        facts=data.facts.model_dump(exclude_none=True),
        rsit_class=cls.rsit_class, rsit_type=cls.rsit_type, root_cause=cls.root_cause,
        threat_severity=cls.threat_severity, impact_severity=cls.impact_severity, outlook=cls.outlook,
        pap=cls.pap, tags=cls.tags,
        country_rows=[IncidentCountry(country=c) for c in countries],
        sector_rows=[IncidentSector(sector=s) for s in sectors],
    )  # fmt: skip
    session.add(incident)
    session.flush()
    sharing.write(session, object_id=incident.id, entries=entries, added_by=actor.org_id)
    session.add_all([
        Report(id=new_id("report"), incident_id=incident.id, kind=ReportKind.EARLY_WARNING.value,
               due_at=deadlines.early_warning_due(data.aware_at)),
        Report(id=new_id("report"), incident_id=incident.id, kind=ReportKind.NOTIFICATION.value,
               due_at=deadlines.notification_due(data.aware_at, data.entity_type)),
        Report(id=new_id("report"), incident_id=incident.id, kind=ReportKind.FINAL.value, due_at=None),
    ])  # fmt: skip
    added = _add_sightings(session, incident.id, values)
    audit.record(
        session,
        actor=actor,
        tag="incidents:incident:create",
        object_id=incident.id,
        summary={"tlp": marking.value, "countries": countries, "observables": added},
    )
    named = {target for kind, target in entries if kind == "organisation"} | {data.entity or ""}
    tasks.notify(
        session,
        incident=incident,
        event="incidents:incident:create",
        org_ids=tasks.readers_among(session, incident, named - {"", actor.org_id}),
        text="A new incident concerns your organisation.",
        dedupe=f"create:{incident.id}",
    )
    return incident


def _normalise_observables(items: list[ObservableIn]) -> list[tuple[str, str, str]]:
    """(type, canonical value, raw) for each, de-duplicated; the first bad one is refused with its index."""
    out: dict[tuple[str, str], str] = {}
    for i, item in enumerate(items):
        try:
            value = normalise(item.type, item.value)
        except InvalidInput as exc:
            raise InvalidInput(
                f"observables[{i}]: {exc.detail}", errors=[{"field": f"observables[{i}]", "message": exc.detail}]
            ) from None
        out.setdefault((item.type, value), item.value)
    return [(t, v, raw) for (t, v), raw in out.items()]


def _add_sightings(session: Session, incident_id: str, values: list[tuple[str, str, str]]) -> int:
    """Store each value once; link it to the incident. Storage grows with values and sightings, linearly."""
    if not values:
        return 0
    keys = [(t, v) for t, v, _ in values]
    known: dict[tuple[str, str], int] = {}
    for chunk in _chunks(keys, 500):
        rows = session.execute(
            select(Observable.type, Observable.value, Observable.id).where(
                tuple_(Observable.type, Observable.value).in_(chunk)
            )
        )
        known.update({(r.type, r.value): r.id for r in rows})
    for t, v, _ in values:
        if (t, v) not in known:
            obs = Observable(type=t, value=v)
            session.add(obs)
            session.flush()
            known[(t, v)] = obs.id
    existing = set(session.scalars(select(Sighting.observable_id).where(Sighting.incident_id == incident_id)))
    new = [Sighting(observable_id=known[(t, v)], incident_id=incident_id, raw=raw[:2048])
           for t, v, raw in values if known[(t, v)] not in existing]  # fmt: skip
    session.add_all(new)
    session.flush()
    return len(new)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def get_incident(session: Session, *, principal: Principal, incident_id: str) -> Incident:
    return sharing.get_readable(session, principal, Incident, incident_id)


def _check_writer(actor: Principal, incident: Incident) -> None:
    actor.require(Permission.INCIDENT_WRITE)
    if actor.org_id not in (incident.owner_org_id, incident.entity_org_id):
        raise PermissionDenied("only the owning organisation (or the affected entity) changes this incident")


def update_incident(
    session: Session, *, actor: Principal, incident_id: str, version: int, changes: dict[str, Any]
) -> Incident:
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    _check_writer(actor, incident)
    if incident.version != version:
        raise Conflict(
            f"the incident changed since you read it (version {version}, now {incident.version}): "
            "reload and apply your change again"
        )
    merged = {
        "rsit_class": incident.rsit_class, "rsit_type": incident.rsit_type, "root_cause": incident.root_cause,
        "threat_severity": incident.threat_severity, "impact_severity": incident.impact_severity,
        "outlook": incident.outlook, "pap": incident.pap, "tags": incident.tags,
    }  # fmt: skip
    if "rsit_class" in changes and "rsit_type" not in changes:
        merged["rsit_type"] = None
    merged.update({k: v for k, v in changes.items() if k in merged})
    cls = _classify(merged)
    for key in (
        "rsit_class",
        "rsit_type",
        "root_cause",
        "threat_severity",
        "impact_severity",
        "outlook",
        "pap",
        "tags",
    ):
        setattr(incident, key, getattr(cls, key))
    if "status" in changes and changes["status"] != incident.status:
        _transition(incident, str(changes["status"]))
    if "countries" in changes:
        incident.country_rows = [IncidentCountry(country=c) for c in _countries(changes["countries"])]
    if "sectors" in changes:
        incident.sector_rows = [IncidentSector(sector=s) for s in _sectors(changes["sectors"])]
    for key in ("title", "description", "suspected_malicious", "cross_border", "exceeds_national_capacity"):
        if key in changes:
            setattr(incident, key, changes[key])
    if "facts" in changes:
        incident.facts = Facts.model_validate(changes["facts"]).model_dump(exclude_none=True)
    incident.modified_at = utcnow()
    session.flush()
    _refresh_final_due(session, incident)
    audit.record(
        session,
        actor=actor,
        tag="incidents:incident:update",
        object_id=incident.id,
        summary={"fields": sorted(changes), "status": incident.status, "version": incident.version},
    )
    return incident


def _transition(incident: Incident, target: str) -> None:
    valid = [s.value for s in IncidentStatus]
    if target not in valid:
        raise _bad("status", f"'{target}' is not a status; valid: {', '.join(valid)}")
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


# --- reports ------------------------------------------------------------------------------------------------


def reports_of(session: Session, incident_id: str) -> list[Report]:
    order = [k.value for k in ReportKind]
    rows = list(session.scalars(select(Report).where(Report.incident_id == incident_id)))
    return sorted(rows, key=lambda r: (order.index(r.kind), r.created_at))


def submit_report(session: Session, *, actor: Principal, incident_id: str, data: ReportIn) -> Report:
    """A new version of a report; NIS2 fields per kind; later deadlines follow from this one."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    kinds = [k.value for k in ReportKind]
    if data.kind not in kinds:
        raise _bad("kind", f"'{data.kind}' is not a report kind; valid: {', '.join(kinds)}")
    if data.kind == ReportKind.FEEDBACK:
        actor.require(Permission.INCIDENT_WRITE)
        if actor.org_id != incident.owner_org_id:
            raise PermissionDenied("the CSIRT that owns the incident answers the early warning")
    else:
        _check_writer(actor, incident)
    now = utcnow()
    at = _check_report(data, incident, now)
    reports = reports_of(session, incident.id)
    report = _open_report(session, incident, reports, data.kind)
    content = data.model_dump(mode="json", exclude={"kind", "submitted_at"}, exclude_none=True)
    if data.indicators:
        values = _normalise_observables(data.indicators)
        _add_sightings(session, incident.id, values)
        content["indicators"] = [{"type": t, "value": v} for t, v, _ in values]
    report.version += 1
    report.submitted_at = report.submitted_at or at
    report.submitted_by_id = report.submitted_by_id or actor.user_id
    report.content = content
    session.add(ReportSubmission(report_id=report.id, version=report.version, submitted_at=at,
                                 submitted_by_id=actor.user_id, content=content))  # fmt: skip
    if data.kind == ReportKind.EARLY_WARNING:
        _after_early_warning(session, incident, report, data, reports)
    session.flush()
    _refresh_final_due(session, incident)
    audit.record(session, actor=actor, tag="incidents:report:submit", object_id=report.id,
                 summary={"incident": incident.id, "kind": data.kind, "version": report.version,
                          "status": report.status_at(now)})  # fmt: skip
    audit.record(session, actor=actor, tag="incidents:incident:report", object_id=incident.id,
                 summary={"kind": data.kind, "report": report.id, "version": report.version})  # fmt: skip
    tasks.notify(
        session,
        incident=incident,
        event="incidents:report:submit",
        org_ids=[o for o in tasks.involved(session, incident) if o != actor.org_id],
        text=f"A {data.kind} report (version {report.version}) was submitted.",
        dedupe=f"submit:{report.id}:{report.version}",
        extra={"report": report.id, "kind": data.kind},
    )
    return report


def _open_report(session: Session, incident: Incident, reports: list[Report], kind: str) -> Report:
    """The obligation this submission answers (an open intermediate request, or the one report of its kind)."""
    for r in reports:
        if r.kind == kind and (kind != "intermediate" or r.submitted_at is None):
            return r
    if kind == ReportKind.FEEDBACK:
        raise Conflict("there is no early warning to answer yet")
    report = Report(id=new_id("report"), incident_id=incident.id, kind=kind, due_at=None)
    session.add(report)
    session.flush()
    return report


def _after_early_warning(
    session: Session, incident: Incident, report: Report, data: ReportIn, reports: list[Report]
) -> None:
    """The early warning states malice and cross-border impact; the CSIRT's 24 h answer clock starts."""
    if data.suspected_malicious is not None:
        incident.suspected_malicious = data.suspected_malicious
    if data.cross_border is not None:
        incident.cross_border = data.cross_border
    if not any(r.kind == "feedback" for r in reports):
        session.add(Report(id=new_id("report"), incident_id=incident.id, kind=ReportKind.FEEDBACK.value,
                           due_at=deadlines.feedback_due(report.submitted_at)))  # fmt: skip


def _check_report(data: ReportIn, incident: Incident, now: datetime) -> datetime:
    """The fields fit the kind and the time is possible; returns the submission time."""
    given = {k for k, v in data.model_dump(exclude={"kind", "submitted_at"}).items() if v not in (None, "", [])}
    extra = sorted(given - REPORT_FIELDS[data.kind])
    if extra:
        raise _bad(extra[0], f"a {data.kind} report does not carry {', '.join(extra)}; it carries: "
                             f"{', '.join(sorted(REPORT_FIELDS[data.kind]))}")  # fmt: skip
    at = data.submitted_at or now
    if at.tzinfo is None:
        raise _bad("submitted_at", "give a time zone")
    if at > now + CLOCK_SKEW:
        raise _bad("submitted_at", "a report cannot be submitted in the future")
    if at < incident.aware_at:
        raise _bad("submitted_at", f"a report cannot precede awareness ({incident.aware_at.isoformat()})")
    return at


def _refresh_final_due(session: Session, incident: Incident) -> None:
    reports = {r.kind: r for r in reports_of(session, incident.id) if r.kind in ("notification", "progress", "final")}
    final = reports.get("final")
    if final is None or final.submitted_at is not None:
        return
    note, progress = reports.get("notification"), reports.get("progress")
    final.due_at = deadlines.final_due(
        notification_submitted_at=note.submitted_at if note else None,
        progress_submitted_at=progress.submitted_at if progress else None,
        handled_at=incident.handled_at,
    )


def request_intermediate(session: Session, *, actor: Principal, incident_id: str, due_at: datetime) -> Report:
    """The CSIRT or authority asks for an intermediate report (NIS2 Art. 23(4)(c))."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    actor.require(Permission.INCIDENT_WRITE)
    if actor.org_id != incident.owner_org_id:
        raise PermissionDenied("the CSIRT that owns the incident requests intermediate reports")
    now = utcnow()
    if due_at.tzinfo is None or due_at <= now:
        raise _bad("due_at", "the due time must be in the future, with a time zone")
    report = Report(
        id=new_id("report"),
        incident_id=incident.id,
        kind=ReportKind.INTERMEDIATE.value,
        due_at=due_at,
        requested_at=now,
    )
    session.add(report)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="incidents:report:request",
        object_id=report.id,
        summary={"incident": incident.id, "due_at": due_at.isoformat()},
    )
    return report


# --- assessment ---------------------------------------------------------------------------------------------


def assess(
    session: Session, incident: Incident, thresholds: assessment.Thresholds | None = None
) -> assessment.Assessment:
    recurring = 0
    if incident.entity_org_id and incident.root_cause:
        since = incident.aware_at - timedelta(days=183)
        others = session.scalars(
            select(Incident.facts).where(
                Incident.entity_org_id == incident.entity_org_id, Incident.root_cause == incident.root_cause,
                Incident.id != incident.id, Incident.aware_at >= since, Incident.aware_at <= incident.aware_at,
            )
        ).all()  # fmt: skip
        if others:
            recurring = sum(int(f.get("financial_loss_eur") or 0) for f in others) + int(
                incident.facts.get("financial_loss_eur") or 0
            )
    return assessment.assess(
        countries=incident.countries, exceeds_national_capacity=incident.exceeds_national_capacity,
        impact_severity=incident.impact_severity, cross_border=incident.cross_border,
        entity_type=incident.entity_type, facts=incident.facts, recurring_loss_eur=recurring, thresholds=thresholds,
    )  # fmt: skip


def escalate(session: Session, *, actor: Principal, incident_id: str, community: str) -> Incident:
    """Share the incident with a community (by default the CSIRTs Network) as the assessment suggests."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    _check_writer(actor, incident)
    if actor.org_id != incident.owner_org_id:
        raise PermissionDenied("only the originating organisation widens who sees the incident")
    current = sharing.share_list(sharing.shares_of(session, incident.id))
    marking = sharing.parse_tlp(incident.tlp)
    if marking.value in ("red", "amber+strict"):
        raise Conflict(f"a {marking.label} incident cannot be shared with a community; change its marking first")
    share = ShareWith(
        organisations=current.organisations, communities=sorted({*current.communities, community}), users=current.users
    )
    sharing.set_sharing(
        session, principal=actor, obj=incident, tlp=marking, share_with=share, tag="incidents:incident:escalate"
    )
    incident.modified_at = utcnow()
    members = set(
        session.scalars(select(CommunityMembership.org_id).where(CommunityMembership.community_slug == community))
    )
    tasks.notify(
        session,
        incident=incident,
        event="incidents:incident:escalate",
        org_ids=tasks.readers_among(session, incident, members - {actor.org_id or ""}),
        text=f"The incident was escalated to {community}: it may exceed national level.",
        dedupe=f"escalate:{incident.id}:{community}",
    )
    return incident


# --- lists, search, deadlines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentFilter:
    status: str | None = None
    country: str | None = None
    sector: str | None = None
    rsit_class: str | None = None
    tlp: str | None = None
    overdue: bool = False
    q: str | None = None


def _open_overdue(now: datetime) -> Any:
    return and_(Report.submitted_at.is_(None), Report.due_at.is_not(None), Report.due_at < now)


def _filtered(principal: Principal, f: IncidentFilter, now: datetime) -> Select[Incident]:
    query = select(Incident).where(read_filter(principal, Incident))
    if f.status:
        query = query.where(Incident.status == taxonomies.check("status", f.status, [s.value for s in IncidentStatus]))
    if f.country:
        cc = normalise_country(f.country, field="country")
        query = query.where(exists().where(IncidentCountry.incident_id == Incident.id, IncidentCountry.country == cc))
    if f.sector:
        taxonomies.check("sector", f.sector, taxonomies.nis2_sectors())
        query = query.where(
            exists().where(IncidentSector.incident_id == Incident.id, IncidentSector.sector == f.sector)
        )
    if f.rsit_class:
        query = query.where(
            Incident.rsit_class == taxonomies.check("rsit_class", f.rsit_class, taxonomies.rsit_classes())
        )
    if f.tlp:
        query = query.where(Incident.tlp == sharing.parse_tlp(f.tlp).value)
    if f.overdue:
        query = query.where(exists().where(Report.incident_id == Incident.id, _open_overdue(now)))
    if f.q:
        like = f"%{f.q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Incident.title).like(like),
                func.lower(Incident.description).like(like),
                func.lower(Incident.entity_name).like(like),
                exists().where(Sighting.incident_id == Incident.id, Sighting.observable_id == Observable.id,
                               Observable.value == f.q.strip().lower()),
            )
        )  # fmt: skip
    return query


def list_incidents(
    session: Session, *, principal: Principal, filters: IncidentFilter, cursor: str | None, limit: int
) -> tuple[Page[Incident], dict[str, int]]:
    """Newest awareness first; returns the page and the number of overdue reports per incident on it."""
    now = utcnow()
    query = _filtered(principal, filters, now)
    after = decode_cursor(cursor, 2)
    if after:
        try:
            at = datetime.fromisoformat(after[0])
        except ValueError:
            raise _bad("cursor", "the cursor is not one this server issued") from None
        query = query.where(tuple_(Incident.aware_at, Incident.id) < tuple_(at, after[1]))
    rows = list(session.scalars(query.order_by(Incident.aware_at.desc(), Incident.id.desc()).limit(limit + 1)))
    nxt = encode_cursor([rows[limit - 1].aware_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    rows = rows[:limit]
    overdue = dict(
        session.execute(
            select(Report.incident_id, func.count()).where(Report.incident_id.in_([r.id for r in rows]),
                                                           _open_overdue(now)).group_by(Report.incident_id)
        ).all()
    ) if rows else {}  # fmt: skip
    return Page(rows, nxt), overdue


def deadlines_for(
    session: Session, *, principal: Principal, status: str | None, soon_hours: int = 24, limit: int = 500
) -> list[tuple[Report, Incident]]:
    """Open reports of incidents the reader may see: overdue, due (within `soon_hours`: due-soon), or all open."""
    now = utcnow()
    query = (
        select(Report, Incident)
        .join(Incident, Incident.id == Report.incident_id)
        .where(read_filter(principal, Incident), Report.submitted_at.is_(None), Report.due_at.is_not(None))
    )
    if status == "overdue":
        query = query.where(Report.due_at < now)
    elif status == "due-soon":
        query = query.where(Report.due_at >= now, Report.due_at < now + timedelta(hours=soon_hours))
    elif status not in (None, "", "open"):
        raise _bad("status", "status is overdue, due-soon or open")
    return [(row[0], row[1]) for row in session.execute(query.order_by(Report.due_at).limit(limit))]


# --- observables and correlation --------------------------------------------------------------------------


def observables_of(session: Session, incident_id: str) -> list[Observable]:
    return list(
        session.scalars(
            select(Observable)
            .join(Sighting, Sighting.observable_id == Observable.id)
            .where(Sighting.incident_id == incident_id)
            .order_by(Observable.type, Observable.value)
        )
    )


def add_observables(session: Session, *, actor: Principal, incident_id: str, items: list[ObservableIn]) -> int:
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    _check_writer(actor, incident)
    added = _add_sightings(session, incident.id, _normalise_observables(items))
    incident.modified_at = utcnow()
    audit.record(session, actor=actor, tag="incidents:observable:add", object_id=incident.id, summary={"added": added})
    return added


@dataclass(frozen=True)
class Correlation:
    incident: Incident
    values: list[str]


def correlations(session: Session, *, principal: Principal, incident_id: str) -> list[Correlation]:
    """Other incidents sharing observables with this one, among those the reader may see (both ends checked)."""
    incident = get_incident(session, principal=principal, incident_id=incident_id)
    mine = select(Sighting.observable_id).where(Sighting.incident_id == incident.id)
    rows = session.execute(
        select(Sighting.incident_id, Observable.value)
        .join(Observable, Observable.id == Sighting.observable_id)
        .join(Incident, Incident.id == Sighting.incident_id)
        .where(Sighting.observable_id.in_(mine), Sighting.incident_id != incident.id, read_filter(principal, Incident))
        .order_by(Sighting.incident_id, Observable.value)
    ).all()
    grouped: dict[str, list[str]] = {}
    for other_id, value in rows:
        grouped.setdefault(other_id, []).append(value)
    if not grouped:
        return []
    others = {i.id: i for i in session.scalars(select(Incident).where(Incident.id.in_(list(grouped))))}
    return [Correlation(others[i], values) for i, values in grouped.items()]


def cluster(session: Session, *, principal: Principal, incident_id: str, max_size: int = 500) -> list[Incident]:
    """The incidents linked to this one through shared observables, transitively, among those the reader sees."""
    start = get_incident(session, principal=principal, incident_id=incident_id)
    seen = {start.id: start}
    frontier = [start.id]
    while frontier and len(seen) < max_size:
        obs = select(Sighting.observable_id).where(Sighting.incident_id.in_(frontier))
        found_ids = session.scalars(
            select(Sighting.incident_id)
            .join(Incident, Incident.id == Sighting.incident_id)
            .where(Sighting.observable_id.in_(obs), read_filter(principal, Incident), Incident.id.not_in(list(seen)))
            .distinct()
        ).all()
        frontier = list(found_ids)[: max_size - len(seen)]
        if frontier:
            for inc in session.scalars(select(Incident).where(Incident.id.in_(frontier))):
                seen[inc.id] = inc
    return list(seen.values())


def timeline_ids(session: Session, incident: Incident, principal: Principal) -> list[str]:
    """Ids whose audit events make up the incident's timeline: the incident, its reports, and its alerts that
    the reader may see (an alert can be narrower than the incident it is about)."""
    from cybercrisis.alerts.models import Alert

    ids = [incident.id]
    ids += list(session.scalars(select(Report.id).where(Report.incident_id == incident.id)))
    ids += list(
        session.scalars(select(Alert.id).where(Alert.incident_id == incident.id, read_filter(principal, Alert)))
    )
    return ids
