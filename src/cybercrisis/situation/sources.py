"""Selecting the inputs of a picture through the access layer, and freezing them as report sources."""

from __future__ import annotations

import json
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


# Joins the countries (or sectors) of one incident into one value. Both are checked at every write against closed
# lists (ISO codes, the NIS2 sector taxonomy: incidents/service.py), so none holds this control character.
_SEPARATOR = "\x1f"


def _joined(table: type[IncidentCountry] | type[IncidentSector], column: Any) -> Any:
    return select(func.aggregate_strings(column, _SEPARATOR)).where(table.incident_id == Incident.id).scalar_subquery()


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(sorted(value.split(_SEPARATOR))) if value else ()


def incidents_for(session: Session, ids_query: Select[Any]) -> list[IncidentInput]:
    """Incidents as inputs, in one query: the access filter is evaluated once, in the database, and each incident
    brings its countries and sectors along (sending thousands of ids back as bind parameters cost more than the
    query itself, and a join to the same selection would evaluate the filter again)."""
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
            _joined(IncidentCountry, IncidentCountry.country),
            _joined(IncidentSector, IncidentSector.sector),
        )
    )
    return [
        IncidentInput(
            iid,
            tlp,
            title,
            status,
            aware_at,
            _split(countries),
            _split(sectors),
            rsit_class,
            rsit_type,
            impact,
            cross_border,
        )
        for iid, tlp, title, status, aware_at, rsit_class, rsit_type, impact, cross_border, countries, sectors in rows
    ]


def cross_border_observables(
    session: Session, incidents: list[IncidentInput], start: datetime | None, end: datetime, *, exercise: bool = False
) -> list[ObservableInput]:
    """Observables sighted in two or more of the given incidents (of the period) that together span two or more
    countries.

    Candidates are the values sighted more than once at all: one pass over the primary key of `sightings`, without
    reading a row of `incidents` (joining every sighting to its incident to group them cost ten times more). Their
    sightings in the period are then read, and kept only through the given, visible, incidents, which also decide
    the countries; the access filter is not needed in SQL, since it only narrows.
    """
    by_id = {i.id: i for i in incidents}
    if not by_id:
        return []
    multi = select(Sighting.observable_id).group_by(Sighting.observable_id).having(func.count() >= 2)
    candidate_ids = list(session.scalars(multi))
    seen: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(candidate_ids):
        for oid, iid in session.execute(
            select(Sighting.observable_id, Sighting.incident_id)
            .join(Incident, Incident.id == Sighting.incident_id)
            .where(Sighting.observable_id.in_(chunk), *_scope(start, end, exercise=exercise))
        ):
            if iid in by_id:
                seen[oid].append(iid)
    shared = {
        oid: sorted(iids)
        for oid, iids in seen.items()
        if len(iids) >= 2 and len({c for i in iids for c in by_id[i].countries}) >= 2
    }
    out = []
    for chunk in _chunks(sorted(shared)):
        for oid, type_, value in session.execute(
            select(Observable.id, Observable.type, Observable.value).where(Observable.id.in_(chunk))
        ):
            out.append(ObservableInput(f"observable--{oid}", type_, value, tuple(shared[oid])))
    return sorted(out, key=lambda o: o.id)


def _chunks(ids: list[int], size: int = 5000) -> list[list[int]]:
    return [ids[n : n + size] for n in range(0, len(ids), size)]


def gather(session: Session, reader: Principal, start: datetime, end: datetime, *, exercise: bool = False) -> Inputs:
    incidents = incidents_for(session, incident_query(reader, start, end, exercise=exercise))
    return Inputs(
        contributions=tuple(contributions_in(session, reader, start, end, exercise=exercise)),
        incidents=tuple(incidents),
        observables=tuple(cross_border_observables(session, incidents, start, end, exercise=exercise)),
    )


# --- freezing and thawing -------------------------------------------------------------------------------------


def _encode(kind: str, item: ContributionInput | IncidentInput | ObservableInput) -> dict[str, Any]:
    if isinstance(item, IncidentInput):
        return _encode_incident(item)
    data: dict[str, Any] = {}
    for key in item.__slots__:
        value = getattr(item, key)
        data[key] = _dt(value) if isinstance(value, datetime) else (list(value) if isinstance(value, tuple) else value)
    if kind == CONTRIBUTION:
        data["sectors"] = [list(s) for s in data["sectors"]]
    return data


def _encode_incident(i: IncidentInput) -> dict[str, Any]:
    """What the loop of `_encode` makes of an incident, spelt out: a report freezes thousands of them, and the
    loop's getattr and isinstance per field were 5 % of a draft's CPU. A round-trip test keeps it complete."""
    return {
        "id": i.id,
        "tlp": i.tlp,
        "title": i.title,
        "status": i.status,
        "aware_at": i.aware_at.isoformat(),
        "countries": list(i.countries),
        "sectors": list(i.sectors),
        "rsit_class": i.rsit_class,
        "rsit_type": i.rsit_type,
        "impact_severity": i.impact_severity,
        "cross_border": i.cross_border,
    }


def freeze(session: Session, *, sitrep_id: str, build: int, inputs: Inputs) -> int:
    rows = [
        (sitrep_id, build, i.id, kind, _encode(kind, i))
        for kind, items in (
            (CONTRIBUTION, inputs.contributions),
            (INCIDENT, inputs.incidents),
            (OBSERVABLE, inputs.observables),
        )
        for i in items
    ]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        _copy(connection.connection.driver_connection, rows)
        return len(rows)
    # The table, not the mapped class: an ORM bulk insert re-checks every row dictionary against the mapping,
    # which cost more than the insert itself; nothing of these rows lives in the session.
    keys = ("sitrep_id", "build", "source_id", "kind", "data")
    for chunk in range(0, len(rows), 2000):
        session.execute(
            insert(SitrepSource.__table__),  # type: ignore[arg-type]
            [dict(zip(keys, row, strict=True)) for row in rows[chunk : chunk + 2000]],
        )
    return len(rows)


def _copy(driver_connection: Any, rows: list[tuple[str, int, str, str, dict[str, Any]]]) -> None:
    """The rows through COPY, in the session's transaction: an INSERT per row, even pipelined by psycopg, took more
    than twice as long (a report freezes some 9,000 sources). The JSON text is what SQLAlchemy's JSON type would
    have sent: `json.dumps` with its defaults."""
    with (
        driver_connection.cursor() as cursor,
        cursor.copy("COPY sitrep_sources (sitrep_id, build, source_id, kind, data) FROM STDIN") as copy,
    ):
        for sitrep_id, build, source_id, kind, data in rows:
            copy.write_row((sitrep_id, build, source_id, kind, json.dumps(data)))


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
