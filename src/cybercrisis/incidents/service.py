"""Incidents: record, classify, share, report on time, assess, correlate. Every read goes through the policy."""

from __future__ import annotations

import calendar
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
from cybercrisis.directory.countries import normalise_country
from cybercrisis.directory.models import CommunityMembership, Organisation
from cybercrisis.errors import Conflict, PermissionDenied
from cybercrisis.incidents import assessment, significance, tasks
from cybercrisis.incidents.common import CLOCK_SKEW, _bad, check_writer, get_incident
from cybercrisis.incidents.correlation import (
    Correlation,
    add_observables,
    add_sightings,
    cluster,
    correlations,
    normalise_observables,
    observables_of,
)
from cybercrisis.incidents.models import (
    TRANSITIONS,
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
from cybercrisis.incidents.schemas import Facts, IncidentIn
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor

__all__ = [
    "CLOCK_SKEW",
    "REPORT_FIELDS",
    "Correlation",
    "add_observables",
    "cluster",
    "correlations",
    "deadlines_for",
    "get_incident",
    "observables_of",
    "reports_of",
    "request_intermediate",
    "submit_report",
]

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
    authority.authorize(actor, "incident.create", ())
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
    values = normalise_observables(data.observables)
    kind, category = _entity(data.entity_type, data.entity_category)
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
        apparent_root_cause=_cause(data.apparent_root_cause),
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
            raise _bad(
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
    if "apparent_root_cause" in changes:
        incident.apparent_root_cause = _cause(changes["apparent_root_cause"])
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


CATEGORIES = ("essential", "important")


def _entity(kind: str | None, category: str | None) -> tuple[str | None, str | None]:
    """(entity_type, entity_category): `essential` or `important` given as the type is the category (the form of
    the API before the two were apart); a different category given beside it is refused."""
    kind = (kind or "").strip() or None
    if kind in CATEGORIES:
        if category and category != kind:
            raise _bad("entity_category", f"entity_type says {kind} and entity_category says {category}: give one")
        return None, kind
    return kind, category


def _cause(value: str | None) -> str | None:
    """The apparent root cause as typed, spaces tidied; empty means none."""
    text = " ".join((value or "").split())
    return text or None


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


# --- assessment ---------------------------------------------------------------------------------------------


def assess(
    session: Session, incident: Incident, *, principal: Principal, thresholds: assessment.Thresholds | None = None
) -> assessment.Assessment:
    """The assessment as `principal` may see it: the recurring-incident rule adds up only the incidents they may
    read, so neither the figure nor whether the rule appears says anything about incidents hidden from them."""
    t = thresholds or assessment.Thresholds()
    return assessment.assess(
        entity_type=incident.entity_type,
        facts=incident.facts,
        suspected_malicious=incident.suspected_malicious,
        exceeds_national_capacity=incident.exceeds_national_capacity,
        cross_border=incident.cross_border,
        impact_severity=incident.impact_severity,
        recurrence=_recurrence(session, incident, principal, t),
        thresholds=t,
    )


# Art. 4 counts incidents; a near miss (NIS2 Art. 6(5)) or an event outside NIS2 is not one.
_RECURRENCE_CANDIDATES = (Significance.REPORTED.value, Significance.NOT_SIGNIFICANT.value)


def _recurrence(
    session: Session, incident: Incident, principal: Principal, t: assessment.Thresholds
) -> assessment.Recurrence | None:
    """Reg. 2024/2690 Art. 4: this entity's incidents with the same analyst-confirmed apparent root cause that
    occurred in the six months up to this one, are not significant on their own (decided so, or not yet decided
    and suggested so by no rule) and that `principal` may read; None when there is no such other incident."""
    cause = assessment.normalise_root_cause(incident.apparent_root_cause)
    applies = incident.entity_type in assessment.RELEVANT_ENTITY_TYPES or t.general_criteria_for_all_entities
    if not (incident.entity_org_id and cause and applies):
        return None
    when = incident.occurred_at or incident.aware_at
    occurred = func.coalesce(Incident.occurred_at, Incident.aware_at)
    candidates = session.scalars(
        select(Incident)
        .where(
            Incident.entity_org_id == incident.entity_org_id,
            Incident.id != incident.id,
            Incident.apparent_root_cause.is_not(None),
            Incident.significance.in_(_RECURRENCE_CANDIDATES),
            Incident.exercise.is_(incident.exercise),
            occurred >= _months_before(when, 6),
            occurred <= when,
            read_filter(principal, Incident),
        )
        .order_by(occurred.desc(), Incident.id)
    ).all()
    others = [
        o
        for o in candidates
        if assessment.normalise_root_cause(o.apparent_root_cause) == cause and not _significant_alone(o, t)
    ]
    if not others:
        return None
    group = [incident, *others]
    # The turnover of the preceding financial year: this incident's, else the latest other that states one.
    turnovers = [v for i in group if (v := _number(i.facts.get("annual_turnover_eur"))) is not None]
    return assessment.Recurrence(
        apparent_root_cause=incident.apparent_root_cause or "",
        incidents=len(group),
        financial_loss_eur=sum(_number(i.facts.get("financial_loss_eur")) or 0 for i in group),
        annual_turnover_eur=turnovers[0] if turnovers else None,
    )


def _significant_alone(incident: Incident, t: assessment.Thresholds) -> bool:
    if incident.significance != Significance.REPORTED.value:
        return False  # a person decided it is not significant
    # Whether it meets Art. 3 on its own: the criteria alone, without this deployment's red-impact rule.
    criteria_only = assessment.Thresholds(
        red_impact_suggests_significant=False, general_criteria_for_all_entities=t.general_criteria_for_all_entities
    )
    return assessment.assess(
        entity_type=incident.entity_type,
        facts=incident.facts,
        suspected_malicious=incident.suspected_malicious,
        thresholds=criteria_only,
    ).significant


def _number(value: object) -> int | None:
    return None if isinstance(value, bool) or not isinstance(value, int | float) else int(value)


def _months_before(when: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the last day of a shorter month)."""
    index = when.year * 12 + when.month - 1 - months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return when.replace(year=year, month=month + 1, day=min(when.day, last_day))


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
