"""The lists of contributions and situation reports a reader may see: one query each, for the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.directory.countries import normalise_country
from cybercrisis.errors import InvalidInput
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor
from cybercrisis.situation import sitreps
from cybercrisis.situation.models import Contribution, ContributionState, Sitrep, SitrepVersion


@dataclass(frozen=True, slots=True)
class ContributionFilters:
    country: str | None = None
    state: str | None = None
    period_from: datetime | None = None  # periods ending after this time
    period_to: datetime | None = None  # periods starting before this time


def list_contributions(
    session: Session, *, principal: Principal, filters: ContributionFilters, cursor: str | None, limit: int
) -> Page[Contribution]:
    """The contributions `principal` may read, latest period first."""
    q = select(Contribution).where(read_filter(principal, Contribution))
    if filters.country:
        q = q.where(Contribution.country == normalise_country(filters.country, field="country"))
    if filters.state:
        if filters.state not in {s.value for s in ContributionState}:
            message = f"'{filters.state[:20]}' is not a state; choose draft or submitted"
            raise InvalidInput(message, errors=[{"field": "state", "message": message}])
        q = q.where(Contribution.state == filters.state)
    if filters.period_from is not None:
        q = q.where(Contribution.period_end > filters.period_from)
    if filters.period_to is not None:
        q = q.where(Contribution.period_start < filters.period_to)
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(Contribution.period_end, Contribution.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(q.order_by(Contribution.period_end.desc(), Contribution.id.desc()).limit(limit + 1)))
    last = rows[limit - 1] if len(rows) > limit else None
    nxt = encode_cursor([last.period_end.isoformat(), last.id]) if last is not None else None
    return Page(items=rows[:limit], next=nxt)


def contribution_countries(session: Session, *, principal: Principal) -> list[str]:
    """The countries of the contributions `principal` may read (a list page's picker)."""
    query = select(Contribution.country).where(read_filter(principal, Contribution)).distinct()
    return [c for c in session.scalars(query) if c]


@dataclass(frozen=True, slots=True)
class ListedSitrep:
    """A report as its reader sees it in a list: the drafter the latest version, the others the latest published."""

    sitrep: Sitrep
    version: SitrepVersion | None
    shown: int | None  # the version number the reader sees, None when nothing is published yet

    @property
    def title(self) -> str:
        return (self.version.text.get("title") if self.version else None) or sitreps.LEVEL_TITLE[self.sitrep.level]

    @property
    def state(self) -> str:
        return self.version.state if self.version else self.sitrep.state


def list_sitreps(
    session: Session, *, principal: Principal, level: str | None, cursor: str | None, limit: int
) -> Page[ListedSitrep]:
    """The reports `principal` may read, latest period first, each with the version this reader sees."""
    q = select(Sitrep).where(read_filter(principal, Sitrep))
    if level:
        q = q.where(Sitrep.level == sitreps._check_level(level))
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(Sitrep.period_end, Sitrep.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(q.order_by(Sitrep.period_end.desc(), Sitrep.id.desc()).limit(limit + 1)))
    nxt = encode_cursor([rows[limit - 1].period_end.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    rows = rows[:limit]
    shown = {s.id: s.current_version if principal.org_id == s.owner_org_id else s.published_version for s in rows}
    wanted = [(sid, n) for sid, n in shown.items() if n]
    versions = (
        {
            (v.sitrep_id, v.number): v
            for v in session.scalars(
                select(SitrepVersion).where(tuple_(SitrepVersion.sitrep_id, SitrepVersion.number).in_(wanted))
            )
        }
        if wanted
        else {}
    )
    items = [
        ListedSitrep(s, versions.get((s.id, shown[s.id] or 0)) if shown[s.id] else None, shown[s.id] or None)
        for s in rows
    ]
    return Page(items=items, next=nxt)
