"""Read-only look-ups the pages need and the services do not offer.

Only the directory (who-is-who, readable by every signed-in user), users' e-mail addresses and the audit
log are read here. Shareable objects (contacts, documents) are never read here: the pages get them from
their services, which filter through `access.policy.read_filter`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, func, literal_column, null, or_, select, union_all
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import COMMUNITY, ORG, USER, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.accounts.models import User
from cybercrisis.audit import reading
from cybercrisis.audit.models import AuditEvent
from cybercrisis.audit.reading import ShownEvent, ids_in
from cybercrisis.directory.countries import COUNTRIES
from cybercrisis.directory.models import ORG_TYPE_LABELS, Community, CommunityMembership, Organisation, OrgType
from cybercrisis.incidents.models import Incident, IncidentCountry, IncidentStatus
from cybercrisis.schemas import HeldAt


@dataclass(frozen=True, slots=True)
class OrgRef:
    id: str
    short_name: str
    name: str
    country: str | None
    type: str = ""  # filled by `names` and `org_choices` only: a page that decides relations by it asks there
    communities: tuple[str, ...] = ()  # names of its communities: filled by `org_choices` only, for the picker


@dataclass(frozen=True, slots=True)
class Recipients:
    """A share list in words: organisations, communities (slug, name) and users' e-mail addresses."""

    organisations: list[OrgRef]
    communities: list[tuple[str, str]]
    users: list[str]

    @property
    def empty(self) -> bool:
        return not (self.organisations or self.communities or self.users)


def org_type_counts(session: Session) -> list[tuple[str, str, int]]:
    """(type, label, count) for every organisation type, in the order of the type list."""
    # .all() first: a Result has .keys() (its columns), so dict(result) would treat it as a mapping.
    query = select(Organisation.type, func.count()).group_by(Organisation.type)
    counts = dict(session.execute(query).all())
    return [(t.value, ORG_TYPE_LABELS[t], counts.get(t.value, 0)) for t in OrgType]


def countries_in_directory(session: Session) -> list[tuple[str, str]]:
    """(code, name) of the countries that have organisations, by name."""
    codes = session.scalars(select(Organisation.country).where(Organisation.country.is_not(None)).distinct())
    return sorted(((c, COUNTRIES.get(c, c)) for c in codes if c), key=lambda pair: pair[1])


def org_refs(session: Session, ids: Iterable[str]) -> dict[str, OrgRef]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.execute(
        select(Organisation.id, Organisation.short_name, Organisation.name, Organisation.country).where(
            Organisation.id.in_(wanted)
        )
    )
    return {r.id: OrgRef(r.id, r.short_name, r.name, r.country) for r in rows}


def held_by(session: Session, held: HeldAt | None) -> str | None:
    """The short name of the organisation running the node that holds a replica (ADR 0013), when known here: what
    the pages' "Held at …'s node" says."""
    org = held.organisation if held is not None else None
    ref = org_refs(session, [org]).get(org) if org else None
    return ref.short_name if ref else None


def org_choices(session: Session) -> list[OrgRef]:
    """Every organisation, for the recipients picker: with its type and its communities' names, by which the
    picker finds it ("DE csirt", "CyCLONe"). Two statements whatever the size of the directory."""
    member_of: dict[str, list[str]] = {}
    for org_id, name in session.execute(
        select(CommunityMembership.org_id, Community.name)
        .join(Community, Community.slug == CommunityMembership.community_slug)
        .order_by(Community.name)
    ):
        member_of.setdefault(org_id, []).append(name)
    rows = session.execute(
        select(
            Organisation.id, Organisation.short_name, Organisation.name, Organisation.country, Organisation.type
        ).order_by(Organisation.short_name)
    )
    return [OrgRef(r.id, r.short_name, r.name, r.country, r.type, tuple(member_of.get(r.id, ()))) for r in rows]


def constituents(session: Session, org_id: str) -> list[OrgRef]:
    rows = session.execute(
        select(Organisation.id, Organisation.short_name, Organisation.name, Organisation.country)
        .where(Organisation.parent_id == org_id)
        .order_by(Organisation.name)
    )
    return [OrgRef(r.id, r.short_name, r.name, r.country) for r in rows]


def community_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Community.slug, Community.name).order_by(Community.name)).all())


def user_emails(session: Session, ids: Iterable[str]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(wanted))).all())


@dataclass(frozen=True, slots=True)
class Person:
    email: str
    org_id: str


def people(session: Session, ids: Iterable[str]) -> dict[str, Person]:
    """E-mail and organisation of users, in one query."""
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.email, User.org_id).where(User.id.in_(wanted)))
    return {r.id: Person(r.email, r.org_id) for r in rows}


def recipients(session: Session, shares: Sequence[Share], known: Names | None = None) -> Recipients:
    """The share list of an object the caller has already read through the access layer.

    `known`: the names the caller has read already with `names(..., shares=shares)`, not asked again."""
    found = known or names(session, shares=shares)
    orgs = [found.orgs[s.target] for s in shares if s.kind == ORG and s.target in found.orgs]
    users = {i: p.email for i, p in found.users.items()}
    return Recipients(
        organisations=sorted(orgs, key=lambda o: o.short_name.lower()),
        communities=sorted(
            (s.target, found.communities.get(s.target, s.target)) for s in shares if s.kind == COMMUNITY
        ),
        users=sorted(users.get(s.target, "(deleted user)") for s in shares if s.kind == USER),
    )


@dataclass(frozen=True, slots=True)
class Names:
    """Organisations (with their type), users (with their organisation) and communities, by id."""

    orgs: dict[str, OrgRef]
    users: dict[str, Person]
    communities: dict[str, str]


def names(
    session: Session, *, orgs: Iterable[str] = (), users: Iterable[str] = (), shares: Sequence[Share] = ()
) -> Names:
    """Every name a page shows, in one statement: the organisations `orgs`, the users `users` and their
    organisations, and the recipients of `shares` (organisations, users, communities)."""
    org_ids = sorted({i for i in orgs if i} | {s.target for s in shares if s.kind == ORG})
    user_ids = sorted({i for i in users if i} | {s.target for s in shares if s.kind == USER})
    slugs = sorted({s.target for s in shares if s.kind == COMMUNITY})
    if not (org_ids or user_ids or slugs):
        return Names({}, {}, {})
    text = cast(null(), String)
    parts: list[Any] = [
        select(
            literal_column("'o'").label("kind"),
            Organisation.id,
            Organisation.short_name.label("label"),
            Organisation.name,
            Organisation.country,
            Organisation.type,
        ).where(
            or_(Organisation.id.in_(org_ids), Organisation.id.in_(select(User.org_id).where(User.id.in_(user_ids))))
        ),
        select(literal_column("'u'"), User.id, User.email, User.org_id, text, text).where(User.id.in_(user_ids)),
        select(literal_column("'c'"), Community.slug, Community.name, text, text, text).where(
            Community.slug.in_(slugs)
        ),
    ]
    out = Names({}, {}, {})
    for r in session.execute(union_all(*parts)):
        if r.kind == "o":
            out.orgs[r.id] = OrgRef(r.id, r.label, r.name, r.country, r.type)
        elif r.kind == "u":
            out.users[r.id] = Person(r.label, r.name)
        else:
            out.communities[r.id] = r.label
    return out


def org_names_in(session: Session, summaries: Iterable[dict[str, object]]) -> dict[str, str]:
    """Short names of the organisations named in audit summaries, in one query."""
    ids = {i for summary in summaries for i in ids_in(summary) if i.startswith("identity--")}
    return {ref.id: ref.short_name for ref in org_refs(session, ids).values()}


def recent_audit_events(session: Session, *, principal: Principal, limit: int = 100) -> list[ShownEvent]:
    """Newest first; the same rules as the audit API: whole chain for verifiers, else own organisation's, and each
    event as the reader may see it (audit.reading)."""
    principal.require(Permission.AUDIT_READ)
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if not principal.has(Permission.AUDIT_VERIFY):
        query = query.where(AuditEvent.actor_org_id == principal.org_id)
    return reading.shown(session, principal, session.scalars(query).all())


# The most recent open incidents offered where a form links incidents (a crisis, a request for assistance).
OPEN_INCIDENT_CHOICES = 200
_CLOSED_INCIDENT = (IncidentStatus.RESOLVED.value, IncidentStatus.CLOSED.value)


def open_incidents(db: Session, principal: Principal, *, exclude: Iterable[str] = ()) -> list[dict[str, Any]]:
    """The reader's most recent visible incidents that are not resolved or closed, with their countries."""
    rows = db.execute(
        select(Incident.id, Incident.title, Incident.tlp, Incident.aware_at, Incident.status)
        .where(read_filter(principal, Incident), Incident.status.not_in(_CLOSED_INCIDENT))
        .order_by(Incident.aware_at.desc(), Incident.id)
        .limit(OPEN_INCIDENT_CHOICES)
    ).all()
    skip = set(exclude)
    rows = [r for r in rows if r.id not in skip]
    countries: dict[str, list[str]] = {r.id: [] for r in rows}
    if rows:
        for iid, country in db.execute(
            select(IncidentCountry.incident_id, IncidentCountry.country)
            .where(IncidentCountry.incident_id.in_(list(countries)))
            .order_by(IncidentCountry.country)
        ):
            countries[iid].append(country)
    return [
        {
            "id": r.id,
            "title": r.title,
            "tlp": r.tlp,
            "aware_at": r.aware_at,
            "status": r.status,
            "countries": countries[r.id],
        }
        for r in rows
    ]
