"""Reading the directory: organisations as cards (the row with its levels and community roles), listed and one by one.

A card costs one SELECT for the rows and one for the levels and roles of all of them, whatever their number; the ORM
relationships are for writers (`WITH_ROWS`), so that no read pays a selectin per relationship (issue 14).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVarTuple

from sqlalchemy import Row, Select, String, bindparam, cast, func, null, or_, select, tuple_, union_all
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.directory.countries import normalise_country
from cybercrisis.directory.models import CommunityMembership, Level, Organisation, OrganisationLevel, OrgType
from cybercrisis.errors import InvalidInput, NotFound
from cybercrisis.pagination import Page, decode_cursor, encode_cursor

# For the writers that change an organisation's levels or communities: the relationships are lazy="raise".
WITH_ROWS: tuple[LoaderOption, ...] = (
    selectinload(Organisation.level_rows),
    selectinload(Organisation.community_rows),
)

_Ts = TypeVarTuple("_Ts")
_LEVEL_ORDER = {lv.value: i for i, lv in enumerate(Level)}
_COLUMNS = (
    Organisation.id,
    Organisation.name,
    Organisation.short_name,
    Organisation.type,
    Organisation.country,
    Organisation.parent_id,
    Organisation.website,
    Organisation.description,
    Organisation.modified_at,
)


@dataclass(frozen=True, slots=True)
class OrgCard:
    """An organisation as readers see it; the same attributes as `Organisation` (pages and the CLI take either)."""

    id: str
    name: str
    short_name: str
    type: str
    country: str | None
    parent_id: str | None
    website: str
    description: str
    modified_at: datetime
    levels: list[str] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # community slug -> MembershipRole value, by slug

    @property
    def communities(self) -> list[str]:
        """Every community the organisation reads as, whatever its role."""
        return list(self.roles)


@dataclass(frozen=True, slots=True)
class OrgFilter:
    country: str | None = None
    type: str | None = None
    level: str | None = None
    community: str | None = None
    parent: str | None = None
    q: str | None = None


def enum_value(enum: type, value: str, field_name: str) -> str:
    valid = [e.value for e in enum]  # type: ignore[attr-defined]
    if value not in valid:
        message = f"'{value}' is not valid; valid: {', '.join(valid)}"
        raise InvalidInput(message, errors=[{"field": field_name, "message": message}])
    return value


def _filtered(f: OrgFilter, query: Select[*_Ts]) -> Select[*_Ts]:
    if f.country:
        query = query.where(Organisation.country == normalise_country(f.country, field="country"))
    if f.type:
        query = query.where(Organisation.type == enum_value(OrgType, f.type, "type"))
    if f.level:
        level = enum_value(Level, f.level, "level")
        query = query.where(
            Organisation.id.in_(select(OrganisationLevel.org_id).where(OrganisationLevel.level == level))
        )
    if f.community:
        query = query.where(
            Organisation.id.in_(
                select(CommunityMembership.org_id).where(CommunityMembership.community_slug == f.community)
            )
        )
    if f.parent:
        query = query.where(Organisation.parent_id == f.parent)
    if f.q:
        like = f"%{f.q.strip().lower()}%"
        query = query.where(
            or_(func.lower(Organisation.name).like(like), func.lower(Organisation.short_name).like(like))
        )
    return query


# Built once: a statement of its own per request costs more to build and to key for the compiled cache than to run.
# A level row has no role, a community row always has one.
_MEMBERSHIPS = union_all(
    select(OrganisationLevel.org_id, OrganisationLevel.level.label("name"), cast(null(), String).label("role")).where(
        OrganisationLevel.org_id.in_(bindparam("ids", expanding=True))
    ),
    select(CommunityMembership.org_id, CommunityMembership.community_slug, CommunityMembership.role).where(
        CommunityMembership.org_id.in_(bindparam("ids", expanding=True))
    ),
)
_WITH_CONSTITUENTS = (
    select(*_COLUMNS)
    .where(or_(Organisation.id == bindparam("org_id"), Organisation.parent_id == bindparam("org_id")))
    .order_by(Organisation.name, Organisation.id)
    .limit(bindparam("limit"))
)


def _cards(session: Session, rows: Sequence[Row[*tuple[Any, ...]]]) -> list[OrgCard]:
    """Cards for these organisation rows, with one SELECT for all their levels and community roles."""
    if not rows:
        return []
    levels: dict[str, list[str]] = {}
    roles: dict[str, list[tuple[str, str]]] = {}
    for org_id, name, role in session.execute(_MEMBERSHIPS, {"ids": [r.id for r in rows]}):
        if role is None:
            levels.setdefault(org_id, []).append(name)
        else:
            roles.setdefault(org_id, []).append((name, role))
    return [
        OrgCard(
            **r._mapping,
            levels=sorted(levels.get(r.id, ()), key=lambda lv: _LEVEL_ORDER.get(lv, len(_LEVEL_ORDER))),
            roles=dict(sorted(roles.get(r.id, ()))),
        )
        for r in rows
    ]


def list_organisations(
    session: Session, *, principal: Principal, filters: OrgFilter, cursor: str | None, limit: int
) -> Page[OrgCard]:
    """The directory is readable by every signed-in user; it is who-is-who, not shared content."""
    principal.require(Permission.DIRECTORY_READ)
    query = _filtered(filters, select(*_COLUMNS)).order_by(Organisation.name, Organisation.id)
    after = decode_cursor(cursor, 2)
    if after:
        query = query.where(tuple_(Organisation.name, Organisation.id) > tuple_(after[0], after[1]))
    rows = session.execute(query.limit(limit + 1)).all()
    nxt = encode_cursor([rows[limit - 1].name, rows[limit - 1].id]) if len(rows) > limit else None
    return Page(_cards(session, rows[:limit]), nxt)


def count_organisations(session: Session, *, filters: OrgFilter) -> int:
    return session.scalar(select(func.count()).select_from(_filtered(filters, select(Organisation.id)).subquery())) or 0


def organisation_cards(session: Session, org_ids: Iterable[str]) -> dict[str, OrgCard]:
    """Cards of these organisations, by id (the unknown ids left out)."""
    wanted = sorted(set(org_ids))
    rows = session.execute(select(*_COLUMNS).where(Organisation.id.in_(wanted))).all() if wanted else []
    return {c.id: c for c in _cards(session, rows)}


def organisation_with_constituents(
    session: Session, *, principal: Principal, org_id: str, limit: int = 200
) -> tuple[OrgCard, list[OrgCard]]:
    """One organisation and the first `limit` of its constituents, by name: two SELECTs, whatever their number."""
    principal.require(Permission.DIRECTORY_READ)
    rows = session.execute(_WITH_CONSTITUENTS, {"org_id": org_id, "limit": limit + 1}).all()
    cards = _cards(session, rows)
    found = [c for c in cards if c.id == org_id]
    if not found:
        # Its constituents may have filled the limit; the organisation itself is then asked for alone.
        found = list(organisation_cards(session, [org_id]).values()) if rows else []
    if not found:
        raise NotFound(f"no organisation with id {org_id}")
    return found[0], [c for c in cards if c.id != org_id][:limit]
