"""Read-only look-ups the pages need and the services do not offer.

Only the directory (who-is-who, readable by every signed-in user), users' e-mail addresses and the audit
log are read here. Shareable objects (contacts, documents) are never read here: the pages get them from
their services, which filter through `access.policy.read_filter`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.access.permissions import Permission
from cybercrisis.access.policy import COMMUNITY, ORG, USER
from cybercrisis.access.principal import Principal
from cybercrisis.accounts.models import User
from cybercrisis.audit import reading
from cybercrisis.audit.models import AuditEvent
from cybercrisis.audit.reading import ShownEvent, ids_in
from cybercrisis.directory.countries import COUNTRIES
from cybercrisis.directory.models import ORG_TYPE_LABELS, Community, Organisation, OrgType


@dataclass(frozen=True, slots=True)
class OrgRef:
    id: str
    short_name: str
    name: str
    country: str | None


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


def org_choices(session: Session) -> list[OrgRef]:
    """Every organisation, for the recipients multi-select."""
    rows = session.execute(
        select(Organisation.id, Organisation.short_name, Organisation.name, Organisation.country).order_by(
            Organisation.short_name
        )
    )
    return [OrgRef(r.id, r.short_name, r.name, r.country) for r in rows]


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


def recipients(session: Session, shares: Sequence[Share]) -> Recipients:
    """The share list of an object the caller has already read through the access layer."""
    orgs = org_refs(session, (s.target for s in shares if s.kind == ORG))
    names = community_names(session)
    emails = user_emails(session, (s.target for s in shares if s.kind == USER))
    return Recipients(
        organisations=sorted(orgs.values(), key=lambda o: o.short_name.lower()),
        communities=sorted((s.target, names.get(s.target, s.target)) for s in shares if s.kind == COMMUNITY),
        users=sorted(emails.get(s.target, "(deleted user)") for s in shares if s.kind == USER),
    )


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
