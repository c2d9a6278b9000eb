"""Incidents: record, classify, share, report on time, assess, correlate. Every read goes through the policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory import recipients
from cybercrisis.directory.countries import normalise_country
from cybercrisis.directory.models import CommunityMembership, Organisation
from cybercrisis.errors import Conflict, PermissionDenied
from cybercrisis.incidents import significance, tasks
from cybercrisis.incidents.common import CLOCK_SKEW, bad, check_writer, get_incident
from cybercrisis.incidents.correlation import (
    Correlation,
    add_observables,
    add_sightings,
    cluster,
    cluster_of,
    correlations,
    correlations_of,
    normalise_observables,
    observables_of,
    remove_observables,
    sightings_of,
)
from cybercrisis.incidents.facts import Facts
from cybercrisis.incidents.fields import (
    check_countries,
    check_sectors,
    check_times,
    classify,
    entity_kind,
    root_cause_text,
    transition,
)
from cybercrisis.incidents.models import (
    Incident,
    IncidentCountry,
    IncidentSector,
    IncidentStatus,
    Observable,
    Report,
    ReportKind,
    Sighting,
    Significance,
)
from cybercrisis.incidents.reports import (
    REPORT_FIELDS,
    deadlines_for,
    open_overdue,
    refresh_final_due,
    reports_of,
    request_intermediate,
    submit_report,
)
from cybercrisis.incidents.schemas import IncidentIn
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor

__all__ = [
    "CLOCK_SKEW",
    "REPORT_FIELDS",
    "Correlation",
    "add_observables",
    "cluster",
    "cluster_of",
    "correlations",
    "correlations_of",
    "deadlines_for",
    "get_incident",
    "observables_of",
    "remove_observables",
    "reports_of",
    "request_intermediate",
    "sightings_of",
    "submit_report",
]

# --- create / update --------------------------------------------------------------------------------------


def create_incident(session: Session, *, actor: Principal, data: IncidentIn) -> Incident:
    authority.authorize(actor, "incident.create", ())
    if actor.org_id is None:
        raise PermissionDenied("incidents belong to an organisation: act as one of its users")
    now = utcnow()
    check_times(data.aware_at, data.occurred_at, now)
    cls = classify(data.model_dump())
    countries = check_countries(data.countries)
    sectors = check_sectors(data.sectors)
    marking = sharing.parse_tlp(data.tlp)
    if data.entity and session.get(Organisation, data.entity) is None:
        raise bad("entity", f"no organisation with id {data.entity}")
    values = normalise_observables(data.observables)
    kind, category = entity_kind(data.entity_type, data.entity_category)
    entries = sharing.resolve(
        session, tlp=marking, share_with=data.share_with, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    incident = Incident(
        id=new_id("incident"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        title=data.title.strip(),
        description=data.description,
        status=IncidentStatus.NEW.value,
        entity_name=data.entity_name.strip(),
        entity_org_id=data.entity,
        entity_type=kind,
        entity_category=category,
        aware_at=data.aware_at,
        occurred_at=data.occurred_at,
        suspected_malicious=data.suspected_malicious,
        cross_border=data.cross_border,
        exceeds_national_capacity=data.exceeds_national_capacity,
        facts=data.facts.model_dump(exclude_none=True),
        apparent_root_cause=root_cause_text(data.apparent_root_cause),
        rsit_class=cls.rsit_class,
        rsit_type=cls.rsit_type,
        root_cause=cls.root_cause,
        threat_severity=cls.threat_severity,
        impact_severity=cls.impact_severity,
        outlook=cls.outlook,
        pap=cls.pap,
        tags=cls.tags,
        country_rows=[IncidentCountry(country=c) for c in countries],
        sector_rows=[IncidentSector(sector=s) for s in sectors],
    )
    session.add(incident)
    session.flush()
    sharing.write(session, object_id=incident.id, entries=entries, added_by=actor.org_id)
    # The Art. 23(4) obligations, without a due time until the incident is decided significant (significance.py).
    session.add_all(
        [
            Report(id=new_id("report"), incident_id=incident.id, kind=kind.value, due_at=None)
            for kind in (ReportKind.EARLY_WARNING, ReportKind.NOTIFICATION, ReportKind.FINAL)
        ]
    )
    session.flush()
    added = add_sightings(session, incident.id, values)
    audit.record(
        session,
        actor=actor,
        tag="incidents:incident:create",
        object_id=incident.id,
        summary={"tlp": marking.value, "countries": countries, "observables": added},
    )
    if data.significance != Significance.REPORTED.value:
        if not (data.significance_reason or "").strip():
            raise bad(
                "significance_reason",
                "say why the incident is " + data.significance + " (the rule, the "
                "fact or the judgement the decision rests on)",
            )
        significance.record(
            session,
            incident=incident,
            value=data.significance,
            reason=data.significance_reason or "",
            actor=actor,
            suggestion=None,
        )
    named = {target for kind, target in entries if kind == "organisation"} | {data.entity or ""}
    tasks.notify(
        session,
        incident=incident,
        event="incidents:incident:create",
        org_ids=tasks.readers_among(session, incident, named - {"", actor.org_id}),
        text="A new incident concerns your organisation.",
        dedupe=f"create:{incident.id}",
        actor=actor,
    )
    return incident


def update_incident(
    session: Session, *, actor: Principal, incident_id: str, version: int, changes: dict[str, Any]
) -> Incident:
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    check_writer(actor, incident)
    if incident.version != version:
        raise Conflict(
            f"the incident changed since you read it (version {version}, now {incident.version}): "
            "reload and apply your change again"
        )
    merged = {
        "rsit_class": incident.rsit_class,
        "rsit_type": incident.rsit_type,
        "root_cause": incident.root_cause,
        "threat_severity": incident.threat_severity,
        "impact_severity": incident.impact_severity,
        "outlook": incident.outlook,
        "pap": incident.pap,
        "tags": incident.tags,
    }
    if "rsit_class" in changes and "rsit_type" not in changes:
        merged["rsit_type"] = None
    merged.update({k: v for k, v in changes.items() if k in merged})
    cls = classify(merged)
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
        transition(incident, str(changes["status"]))
    if "countries" in changes:
        incident.country_rows = [IncidentCountry(country=c) for c in check_countries(changes["countries"])]
    if "sectors" in changes:
        incident.sector_rows = [IncidentSector(sector=s) for s in check_sectors(changes["sectors"])]
    for key in ("title", "description", "suspected_malicious", "cross_border", "exceeds_national_capacity"):
        if key in changes:
            setattr(incident, key, changes[key])
    if "facts" in changes:
        incident.facts = Facts.model_validate(changes["facts"]).model_dump(exclude_none=True)
    if "apparent_root_cause" in changes:
        incident.apparent_root_cause = root_cause_text(changes["apparent_root_cause"])
    incident.modified_at = utcnow()
    session.flush()
    refresh_final_due(session, incident)
    audit.record(
        session,
        actor=actor,
        tag="incidents:incident:update",
        object_id=incident.id,
        summary={"fields": sorted(changes), "status": incident.status, "version": incident.version},
    )
    return incident


def set_incident_sharing(
    session: Session, *, actor: Principal, incident_id: str, tlp: str, share_with: ShareWith
) -> Incident:
    """Replace the incident's marking and recipients: the originating organisation only ("incident.share"), within
    what the TLP admits (access/sharing.py); narrowing is allowed like widening. Audited; federated as a new list."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    check_writer(actor, incident, "incident.share")
    # One change of the list at a time: a second one waits and then replaces the first's list whole.
    session.execute(select(Incident.id).where(Incident.id == incident.id).with_for_update())
    recipients.set_sharing(
        session,
        principal=actor,
        obj=incident,
        tlp=sharing.parse_tlp(tlp),
        share_with=share_with,
        tag="incidents:incident:share",
    )
    incident.modified_at = utcnow()
    return incident


def escalate(session: Session, *, actor: Principal, incident_id: str, community: str) -> Incident:
    """Share the incident with a community (by default the CSIRTs Network) as the assessment suggests."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    check_writer(actor, incident, "incident.share")
    current = sharing.share_list(sharing.shares_of(session, incident.id))
    marking = sharing.parse_tlp(incident.tlp)
    if marking.value in ("red", "amber+strict"):
        raise Conflict(f"a {marking.label} incident cannot be shared with a community; change its marking first")
    share = ShareWith(
        organisations=current.organisations, communities=sorted({*current.communities, community}), users=current.users
    )
    recipients.set_sharing(
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
    significance: str | None = None


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
        query = query.where(exists().where(Report.incident_id == Incident.id, open_overdue(now)))
    if f.significance:
        valid = [v.value for v in Significance]
        query = query.where(Incident.significance == taxonomies.check("significance", f.significance, valid))
    if f.q:
        like = f"%{f.q.strip().lower()}%"
        query = query.where(
            or_(
                func.lower(Incident.title).like(like),
                func.lower(Incident.description).like(like),
                func.lower(Incident.entity_name).like(like),
                exists().where(
                    Sighting.incident_id == Incident.id,
                    Sighting.observable_id == Observable.id,
                    Observable.value == f.q.strip().lower(),
                ),
            )
        )
    return query


def list_incidents(
    session: Session, *, principal: Principal, filters: IncidentFilter, cursor: str | None, limit: int
) -> tuple[Page[Incident], dict[str, int]]:
    """Newest awareness first; returns the page and the number of overdue reports per incident on it."""
    now = utcnow()
    query = _filtered(principal, filters, now)
    after = decode_cursor(cursor, 2)
    if after:
        query = query.where(tuple_(Incident.aware_at, Incident.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(query.order_by(Incident.aware_at.desc(), Incident.id.desc()).limit(limit + 1)))
    nxt = encode_cursor([rows[limit - 1].aware_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    rows = rows[:limit]
    overdue = (
        dict(
            session.execute(
                select(Report.incident_id, func.count())
                .where(Report.incident_id.in_([r.id for r in rows]), open_overdue(now))
                .group_by(Report.incident_id)
            ).all()
        )
        if rows
        else {}
    )
    return Page(rows, nxt), overdue


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
