"""Observables and correlation: values stored once, sightings per incident, links only between visible incidents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.audit import service as audit
from cybercrisis.db import utcnow
from cybercrisis.errors import InvalidInput
from cybercrisis.incidents.common import WITH_CHILDREN, check_writer, get_incident
from cybercrisis.incidents.models import (
    Incident,
    Observable,
    Sighting,
)
from cybercrisis.incidents.observables import normalise
from cybercrisis.incidents.schemas import ObservableIn


def normalise_observables(items: list[ObservableIn]) -> list[tuple[str, str, str]]:
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


def lookup_ids(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of known values: one `type = ? AND value IN (...)` probe per type and chunk, which both databases
    answer from the unique index (a row-value `IN` makes SQLite scan the table)."""
    by_type: dict[str, list[str]] = {}
    for t, v in keys:
        by_type.setdefault(t, []).append(v)
    known: dict[tuple[str, str], int] = {}
    for t, vals in by_type.items():
        for chunk in _chunks(vals, 500):
            rows = session.execute(
                select(Observable.value, Observable.id).where(Observable.type == t, Observable.value.in_(chunk))
            )
            known.update({(t, r.value): r.id for r in rows})
    return known


def add_sightings(session: Session, incident_id: str, values: list[tuple[str, str, str]]) -> int:
    """Store each value once; link it to the incident. Storage grows with values and sightings, linearly.

    New values are inserted with ON CONFLICT DO NOTHING: two requests bringing the same new value at once
    both succeed and share one row.
    """
    if not values:
        return 0
    keys = [(t, v) for t, v, _ in values]
    known = lookup_ids(session, keys)
    missing = [{"type": t, "value": v} for t, v in dict.fromkeys(keys) if (t, v) not in known]
    if missing:
        dialect = session.get_bind().dialect.name
        insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
        for chunk in _chunks(missing, 500):
            session.execute(insert_(Observable).values(chunk).on_conflict_do_nothing())
        known.update(lookup_ids(session, [(m["type"], m["value"]) for m in missing]))
    existing = set(session.scalars(select(Sighting.observable_id).where(Sighting.incident_id == incident_id)))
    new = [
        Sighting(observable_id=known[(t, v)], incident_id=incident_id, raw=raw[:2048])
        for t, v, raw in values
        if known[(t, v)] not in existing
    ]
    session.add_all(new)
    session.flush()
    return len(new)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


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
    check_writer(actor, incident)
    added = add_sightings(session, incident.id, normalise_observables(items))
    incident.modified_at = utcnow()
    audit.record(session, actor=actor, tag="incidents:observable:add", object_id=incident.id, summary={"added": added})
    return added


def remove_observables(session: Session, *, actor: Principal, incident_id: str, items: list[ObservableIn]) -> int:
    """Unlink values from the incident (the same writers as adding them); a value the incident does not have is
    not an error. The value stays known to the other incidents that saw it. Returns how many were unlinked."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    check_writer(actor, incident)
    known = lookup_ids(session, [(t, v) for t, v, _ in normalise_observables(items)])
    linked = sorted(
        session.scalars(
            select(Sighting.observable_id).where(
                Sighting.incident_id == incident.id, Sighting.observable_id.in_(sorted(known.values()))
            )
        )
    )
    removed = len(linked)
    if linked:
        session.execute(delete(Sighting).where(Sighting.incident_id == incident.id, Sighting.observable_id.in_(linked)))
        incident.modified_at = utcnow()
        audit.record(
            session,
            actor=actor,
            tag="incidents:observable:remove",
            object_id=incident.id,
            summary={"removed": removed},
        )
    return removed


@dataclass(frozen=True)
class Correlation:
    incident: Incident
    values: list[str]


def correlations(session: Session, *, principal: Principal, incident_id: str) -> list[Correlation]:
    incident = get_incident(session, principal=principal, incident_id=incident_id)
    return correlations_of(session, principal=principal, incident=incident)


def correlations_of(
    session: Session, *, principal: Principal, incident: Incident, known: Iterable[Incident] = ()
) -> list[Correlation]:
    """Other incidents sharing observables with this one (which `principal` reads), among those the reader may see."""
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
    return _correlations(session, grouped, known)


def _correlations(session: Session, grouped: dict[str, list[str]], known: Iterable[Incident]) -> list[Correlation]:
    if not grouped:
        return []
    # `known`: incidents the caller has loaded already (the cluster, on the incident page).
    others = {i.id: i for i in known if i.id in grouped}
    if missing := [i for i in grouped if i not in others]:
        found = session.scalars(select(Incident).options(*WITH_CHILDREN).where(Incident.id.in_(missing)))
        others.update((i.id, i) for i in found.unique())
    return [Correlation(others[i], values) for i, values in grouped.items()]


def sightings_of(
    session: Session, *, principal: Principal, incident: Incident, known: Iterable[Incident] = ()
) -> tuple[list[Observable], list[Correlation]]:
    """`observables_of` and `correlations_of` in one statement (the incident's page shows both): each observable of
    the incident with the other incidents the reader sees that have it too."""
    mine, other = aliased(Sighting), aliased(Sighting)
    readable = exists(select(Incident.id).where(Incident.id == other.incident_id, read_filter(principal, Incident)))
    rows = session.execute(
        select(Observable, other.incident_id)
        .join(mine, and_(mine.observable_id == Observable.id, mine.incident_id == incident.id))
        .outerjoin(other, and_(other.observable_id == Observable.id, other.incident_id != incident.id, readable))
        # By value, as `correlations_of` lists each incident's values; the observables are re-sorted by type below.
        .order_by(Observable.value, Observable.type, other.incident_id)
    ).all()
    observables = sorted({o.id: o for o, _ in rows}.values(), key=lambda o: o.type)  # stable: by value within a type
    grouped: dict[str, list[str]] = {}
    for o, other_id in rows:
        if other_id is not None:
            grouped.setdefault(other_id, []).append(o.value)
    return observables, _correlations(session, dict(sorted(grouped.items())), known)


def cluster(session: Session, *, principal: Principal, incident_id: str, max_size: int = 500) -> list[Incident]:
    start = get_incident(session, principal=principal, incident_id=incident_id)
    return cluster_of(session, principal=principal, incident=start, max_size=max_size)


def cluster_of(session: Session, *, principal: Principal, incident: Incident, max_size: int = 500) -> list[Incident]:
    """The incidents linked to this one (which `principal` reads) through shared observables, transitively, among
    those the reader sees: the incident first, at most `max_size` in all.

    One statement: a recursive walk that steps only onto incidents the reader sees (as a walk step by step did,
    with a statement per step and one more per step to load what it found), and the members loaded with it."""
    seen, other = aliased(Sighting), aliased(Sighting)
    reach = select(Incident.id).where(Incident.id == incident.id).cte("reach", recursive=True)
    reach = reach.union(
        select(other.incident_id)
        .join(seen, seen.observable_id == other.observable_id)
        .join(reach, reach.c.id == seen.incident_id)
        .join(Incident, Incident.id == other.incident_id)
        .where(read_filter(principal, Incident))
    )
    found = session.scalars(
        select(Incident)
        .options(*WITH_CHILDREN)
        .where(Incident.id.in_(select(reach.c.id)))
        .order_by(case((Incident.id == incident.id, 0), else_=1), Incident.id)
        .limit(max_size)
    )
    return list(found.unique())
