"""One search over what the reader may see, and the pivot from an observable to every incident that has it.

Every section goes through the read policy (`access.policy.read_filter`): an incident, crisis or document the reader
may not read is never found, and an observable is found (and can be pivoted on) only through the incidents the
reader may read that have it, so that a value seen only in hidden incidents answers like a value nobody saw. The
directory is what every reader with `directory:organisation:read` sees. Matching is by a case-insensitive part of
the text (a title, a name, an observable's value); the query is refanged first (`hxxp`, `[.]`), as observables are
entered. Each section lists at most `LIMIT` hits and says when there are more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, exists, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.crises.models import Crisis
from cybercrisis.directory.models import Organisation
from cybercrisis.documents.models import Document
from cybercrisis.errors import InvalidInput, NotFound
from cybercrisis.incidents.models import Incident, Observable, Sighting
from cybercrisis.incidents.observables import normalise, refang

LIMIT = 20
PIVOT_LIMIT = 200  # incidents listed for one observable
MIN_QUERY, MAX_QUERY = 2, 200


@dataclass(frozen=True, slots=True)
class IncidentRef:
    id: str
    title: str
    tlp: str
    owner_org_id: str


@dataclass(frozen=True, slots=True)
class ObservableHit:
    type: str
    value: str
    incidents: list[IncidentRef]  # the readable incidents that have it, newest first (at most PIVOT_LIMIT)
    more: bool = False  # more readable incidents have it than are listed


@dataclass(slots=True)
class Found:
    query: str
    incidents: list[IncidentRef] = field(default_factory=list)
    observables: list[ObservableHit] = field(default_factory=list)
    crises: list[dict[str, str]] = field(default_factory=list)
    documents: list[dict[str, str]] = field(default_factory=list)
    organisations: list[dict[str, Any]] = field(default_factory=list)
    more: set[str] = field(default_factory=set)  # the sections that have more than LIMIT hits

    @property
    def total(self) -> int:
        return sum(len(x) for x in (self.incidents, self.observables, self.crises, self.documents, self.organisations))


def clean_query(q: str) -> str:
    """The query as searched (refanged, trimmed), or a 422 naming `q`."""
    text = refang(q or "").strip()
    if not MIN_QUERY <= len(text) <= MAX_QUERY:
        msg = f"type {MIN_QUERY} to {MAX_QUERY} characters to search"
        raise InvalidInput(msg, errors=[{"field": "q", "message": msg}])
    return text


def _has(column: Any, text: str) -> ColumnElement[bool]:
    """`column` contains `text`, whatever the case. SQLite's own lower() folds ASCII only (NÚKIB would not match
    núkib), so SQLite connections get `casefold` (db.py), Python's str.casefold; PostgreSQL's lower() folds Unicode."""
    return _Casefold(column).contains(text.casefold(), autoescape=True)


class _Casefold(FunctionElement[str]):
    type = String()
    inherit_cache = True


@compiles(_Casefold)
def _lower(element: _Casefold, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(_Casefold, "sqlite")
def _sqlite_casefold(element: _Casefold, compiler: Any, **kw: Any) -> str:
    return f"cc_casefold({compiler.process(element.clauses, **kw)})"


def search(session: Session, principal: Principal, q: str) -> Found:
    """Incidents, observables, crises, documents and organisations matching `q`, among what `principal` may see."""
    text = clean_query(q)
    found = Found(query=text)
    rows: Sequence[Any]
    if principal.has(Permission.INCIDENT_READ):
        rows = session.execute(
            select(Incident.id, Incident.title, Incident.tlp, Incident.owner_org_id)
            .where(or_(_has(Incident.title, text), _has(Incident.description, text)), read_filter(principal, Incident))
            .order_by(Incident.created_at.desc(), Incident.id)
            .limit(LIMIT + 1)
        ).all()
        found.incidents = [IncidentRef(*r) for r in rows[:LIMIT]]
        _more(found, "incidents", rows)
        found.observables = _observables(session, principal, text, found)
    for section, model, permission in (
        ("crises", Crisis, Permission.CRISIS_READ),
        ("documents", Document, Permission.DOCUMENT_READ),
    ):
        if principal.has(permission):
            setattr(found, section, _titled(session, principal, model, text, found, section))
    if principal.has(Permission.DIRECTORY_READ):
        rows = session.execute(
            select(Organisation.id, Organisation.name, Organisation.short_name, Organisation.country)
            .where(or_(_has(Organisation.name, text), _has(Organisation.short_name, text)))
            .order_by(Organisation.short_name, Organisation.id)
            .limit(LIMIT + 1)
        ).all()
        found.organisations = [{"id": i, "name": n, "short_name": s, "country": c} for i, n, s, c in rows[:LIMIT]]
        _more(found, "organisations", rows)
    return found


def _titled(
    session: Session, principal: Principal, model: Any, text: str, found: Found, section: str
) -> list[dict[str, str]]:
    """The readable objects of `model` whose title contains `text`, newest first."""
    rows = session.execute(
        select(model.id, model.title, model.tlp)
        .where(_has(model.title, text), read_filter(principal, model))
        .order_by(model.created_at.desc(), model.id)
        .limit(LIMIT + 1)
    ).all()
    _more(found, section, rows)
    return [{"id": i, "title": t, "tlp": tlp} for i, t, tlp in rows[:LIMIT]]


def _more(found: Found, section: str, rows: Sequence[Any]) -> None:
    if len(rows) > LIMIT:
        found.more.add(section)


def _readable_sighting(principal: Principal) -> ColumnElement[bool]:
    """An observable some incident the reader may read has."""
    return exists(
        select(Sighting.incident_id)
        .join(Incident, Incident.id == Sighting.incident_id)
        .where(Sighting.observable_id == Observable.id, read_filter(principal, Incident))
    )


def _observables(session: Session, principal: Principal, text: str, found: Found) -> list[ObservableHit]:
    rows: Sequence[Any] = session.execute(
        select(Observable.id, Observable.type, Observable.value)
        .where(_has(Observable.value, text), _readable_sighting(principal))
        .order_by(func.length(Observable.value), Observable.value, Observable.id)  # the closest match first
        .limit(LIMIT + 1)
    ).all()
    _more(found, "observables", rows)
    rows = rows[:LIMIT]
    seen = _incidents_with(session, principal, [r[0] for r in rows])
    return [ObservableHit(t, v, seen.get(i, [])[:PIVOT_LIMIT], len(seen.get(i, [])) > PIVOT_LIMIT) for i, t, v in rows]


def _incidents_with(session: Session, principal: Principal, observable_ids: list[int]) -> dict[int, list[IncidentRef]]:
    """The readable incidents that have each observable, newest first."""
    if not observable_ids:
        return {}
    out: dict[int, list[IncidentRef]] = {}
    for oid, *ref in session.execute(
        select(Sighting.observable_id, Incident.id, Incident.title, Incident.tlp, Incident.owner_org_id)
        .join(Incident, Incident.id == Sighting.incident_id)
        .where(Sighting.observable_id.in_(observable_ids), read_filter(principal, Incident))
        .order_by(Incident.created_at.desc(), Incident.id)
    ):
        out.setdefault(oid, []).append(IncidentRef(*ref))
    return out


def observable(session: Session, principal: Principal, type_: str, value: str) -> ObservableHit:
    """One observable (by type and value, refanged and normalised as incidents take them) with the incidents the
    reader may read that have it; 404 when the reader may read none. Observables are addressed by value, never by
    their row id: ids are handed out in order, so an id would tell when (and whether) a value was first recorded,
    also in incidents the reader may not see."""
    principal.require(Permission.INCIDENT_READ)
    canonical = normalise(type_, value)
    oid = session.scalar(select(Observable.id).where(Observable.type == type_, Observable.value == canonical))
    incidents = _incidents_with(session, principal, [oid]).get(oid, []) if oid is not None else []
    if not incidents:
        raise NotFound("no such observable among the incidents you may see")
    return ObservableHit(type_, canonical, incidents[:PIVOT_LIMIT], len(incidents) > PIVOT_LIMIT)
