"""Selecting the inputs of a picture through the access layer, and freezing them as report sources."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, or_, select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.incidents.models import Incident, IncidentCountry, IncidentSector, Observable, Sighting
from cybercrisis.situation.aggregate import ContributionInput, IncidentInput, Inputs, ObservableInput
from cybercrisis.situation.models import Contribution, ContributionState, SitrepSource

CONTRIBUTION, INCIDENT, OBSERVABLE = "contribution", "incident", "observable"


def _dt(value: datetime) -> str:
    return value.isoformat()


# --- reading live objects into inputs ------------------------------------------------------------------------


def contribution_input(c: Contribution) -> ContributionInput:
    return ContributionInput(
        id=c.id,
        tlp=c.tlp,
        country=c.country,
        period_start=c.period_start,
        period_end=c.period_end,
        status=c.status,
        outlook=c.outlook,
        submitted_at=c.submitted_at or c.modified_at,
        sectors=tuple((s["sector"], s["impact"]) for s in c.sectors),
        services_disrupted=tuple(c.services_disrupted),
        entities_affected=c.entities_affected,
        measures=c.measures,
        needs=c.needs,
        assistance_requested=c.assistance_requested,
        narrative=c.narrative,
        incidents=tuple(c.incident_ids),
    )


def contributions_in(
    session: Session, reader: Principal, start: datetime, end: datetime, *, exercise: bool = False
) -> list[ContributionInput]:
    """Submitted contributions whose period overlaps [start, end) that the reader may see."""
    rows = session.scalars(
        select(Contribution).where(
            Contribution.state == ContributionState.SUBMITTED.value,
            Contribution.period_start < end,
            Contribution.period_end > start,
            Contribution.exercise == exercise,
            read_filter(reader, Contribution),
        )
    )
    return [contribution_input(c) for c in rows]


def _scope(start: datetime | None, end: datetime, *, exercise: bool) -> list[Any]:
    """Incidents active in the period: aware before its end, not handled before its start."""
    where: list[Any] = [Incident.aware_at < end, Incident.exercise == exercise]
    if start is not None:
        where.append(or_(Incident.handled_at.is_(None), Incident.handled_at >= start))
    return where


def incident_query(reader: Principal, start: datetime | None, end: datetime, *, exercise: bool = False) -> Select[Any]:
    """Ids of incidents active in the period that the reader sees."""
    return select(Incident.id).where(*_scope(start, end, exercise=exercise), read_filter(reader, Incident))


def _chunks(ids: list[str], size: int = 5000) -> list[list[str]]:
    return [ids[n : n + size] for n in range(0, len(ids), size)]


def incidents_for(session: Session, ids_query: Select[Any]) -> list[IncidentInput]:
    """Incidents as inputs: the access filter is evaluated once; countries and sectors are read by id."""
    rows = session.execute(
        ids_query.with_only_columns(
            Incident.id,
            Incident.tlp,
            Incident.title,
            Incident.status,
            Incident.aware_at,
            Incident.rsit_class,
            Incident.rsit_type,
            Incident.impact_severity,
            Incident.cross_border,
        )
    ).all()
    ids = sorted(r.id for r in rows)
    countries: dict[str, list[str]] = defaultdict(list)
    sectors: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        for iid, country in session.execute(
            select(IncidentCountry.incident_id, IncidentCountry.country).where(IncidentCountry.incident_id.in_(chunk))
        ):
            countries[iid].append(country)
        for iid, sector in session.execute(
            select(IncidentSector.incident_id, IncidentSector.sector).where(IncidentSector.incident_id.in_(chunk))
        ):
            sectors[iid].append(sector)
    return [
        IncidentInput(
            id=r.id,
            tlp=r.tlp,
            title=r.title,
            status=r.status,
            aware_at=r.aware_at,
            countries=tuple(sorted(countries[r.id])),
            sectors=tuple(sorted(sectors[r.id])),
            rsit_class=r.rsit_class,
            rsit_type=r.rsit_type,
            impact_severity=r.impact_severity,
            cross_border=r.cross_border,
        )
        for r in rows
    ]


def cross_border_observables(
    session: Session, incidents: list[IncidentInput], start: datetime | None, end: datetime, *, exercise: bool = False
) -> list[ObservableInput]:
    """Observables sighted in two or more of the given incidents that together span two or more countries.

    Candidates come from one grouped query over the period's incidents (no access filter: it only narrows the
    search); they are then kept only through the given, visible, incidents.
    """
    by_id = {i.id: i for i in incidents}
    if not by_id:
        return []
    candidates = (
        select(Sighting.observable_id)
        .join(Incident, Incident.id == Sighting.incident_id)
        .join(IncidentCountry, IncidentCountry.incident_id == Sighting.incident_id)
        .where(*_scope(start, end, exercise=exercise))
        .group_by(Sighting.observable_id)
        .having(func.count(func.distinct(Sighting.incident_id)) >= 2)
        .having(func.count(func.distinct(IncidentCountry.country)) >= 2)
    )
    candidate_ids = list(session.scalars(candidates))
    seen: dict[int, list[str]] = defaultdict(list)
    for n in range(0, len(candidate_ids), 5000):
        chunk = candidate_ids[n : n + 5000]
        for oid, iid in session.execute(
            select(Sighting.observable_id, Sighting.incident_id).where(Sighting.observable_id.in_(chunk))
        ):
            if iid in by_id:
                seen[oid].append(iid)
    shared = {
        oid: sorted(iids)
        for oid, iids in seen.items()
        if len(iids) >= 2 and len({c for i in iids for c in by_id[i].countries}) >= 2
    }
    out = []
    keys = sorted(shared)
    for n in range(0, len(keys), 5000):
        for o in session.scalars(select(Observable).where(Observable.id.in_(keys[n : n + 5000]))):
            out.append(ObservableInput(f"observable--{o.id}", o.type, o.value, tuple(shared[o.id])))
    return sorted(out, key=lambda o: o.id)


def gather(session: Session, reader: Principal, start: datetime, end: datetime, *, exercise: bool = False) -> Inputs:
    incidents = incidents_for(session, incident_query(reader, start, end, exercise=exercise))
    return Inputs(
        contributions=tuple(contributions_in(session, reader, start, end, exercise=exercise)),
        incidents=tuple(incidents),
        observables=tuple(cross_border_observables(session, incidents, start, end, exercise=exercise)),
    )


# --- freezing and thawing -------------------------------------------------------------------------------------


def _encode(kind: str, item: ContributionInput | IncidentInput | ObservableInput) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key in item.__slots__:
        value = getattr(item, key)
        data[key] = _dt(value) if isinstance(value, datetime) else (list(value) if isinstance(value, tuple) else value)
    if kind == CONTRIBUTION:
        data["sectors"] = [list(s) for s in data["sectors"]]
    return data


def freeze(session: Session, *, sitrep_id: str, build: int, inputs: Inputs) -> int:
    rows: list[dict[str, Any]] = []
    for kind, items in (
        (CONTRIBUTION, inputs.contributions),
        (INCIDENT, inputs.incidents),
        (OBSERVABLE, inputs.observables),
    ):
        rows.extend(
            {"sitrep_id": sitrep_id, "build": build, "source_id": i.id, "kind": kind, "data": _encode(kind, i)}
            for i in items
        )
    for chunk in range(0, len(rows), 2000):
        session.execute(insert(SitrepSource), rows[chunk : chunk + 2000])
    return len(rows)


def _thaw(kind: str, data: dict[str, Any]) -> ContributionInput | IncidentInput | ObservableInput:
    d = dict(data)
    if kind == OBSERVABLE:
        return ObservableInput(d["id"], d["type"], d["value"], tuple(d["incidents"]))
    for key in ("aware_at", "period_start", "period_end", "submitted_at"):
        if key in d and d[key] is not None:
            d[key] = datetime.fromisoformat(d[key])
    if kind == INCIDENT:
        d["countries"], d["sectors"] = tuple(d["countries"]), tuple(d["sectors"])
        return IncidentInput(**d)
    d["sectors"] = tuple((s, i) for s, i in d["sectors"])
    d["services_disrupted"], d["incidents"] = tuple(d["services_disrupted"]), tuple(d["incidents"])
    return ContributionInput(**d)


def thaw_one(kind: str, data: dict[str, Any]) -> ContributionInput | IncidentInput | ObservableInput:
    """One frozen source as an input (situation/audience.py intersects what the audience may read itself)."""
    return _thaw(kind, data)


def thaw(session: Session, *, sitrep_id: str, build: int, reader: Principal) -> Inputs:
    """The frozen inputs of a build that the reader may see today. How many others there are is not told: even a
    count of hidden sources would say that something the reader may not see exists."""
    where = (SitrepSource.sitrep_id == sitrep_id, SitrepSource.build == build)
    visible: set[str] = set()
    for model in (Contribution, Incident):
        visible.update(
            session.scalars(
                select(SitrepSource.source_id)
                .join(model, model.id == SitrepSource.source_id)
                .where(*where, read_filter(reader, model))
            )
        )
    contributions: list[Any] = []
    incidents: list[Any] = []
    observables: list[Any] = []
    for kind, data in session.execute(select(SitrepSource.kind, SitrepSource.data).where(*where)):
        item = _thaw(kind, data)
        if kind == OBSERVABLE:
            observables.append(item)
            visible.add(item.id)
            continue
        (contributions if kind == CONTRIBUTION else incidents).append(item)
    return Inputs(tuple(contributions), tuple(incidents), tuple(observables)).restricted_to(visible)
