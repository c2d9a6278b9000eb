"""A read-only snapshot of what the authority rules look at, taken from the database rows before and after a write."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.db import Base
from tests.access.authority_rules import READ_SCOPE, Obj, Org, org_reads, reads


@dataclass(frozen=True)
class UserRow:
    id: str
    org: str
    roles: tuple[str, ...]
    active: bool
    email: str


@dataclass(frozen=True)
class TokenRow:
    id: str
    user: str
    scopes: frozenset[str]
    revoked: bool


@dataclass
class Snap:
    orgs: dict[str, Org] = field(default_factory=dict)
    users: dict[str, UserRow] = field(default_factory=dict)
    tokens: dict[str, TokenRow] = field(default_factory=dict)
    objs: dict[str, Obj] = field(default_factory=dict)
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)  # domain columns of each object, by id
    observables: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)  # incident -> (type, value)
    links: dict[str, frozenset[str]] = field(default_factory=dict)  # crisis -> incidents
    answers: dict[str, dict[str, str]] = field(default_factory=dict)  # escalation -> org -> verdict
    recipients: dict[str, dict[str, bool]] = field(default_factory=dict)  # alert -> org -> acknowledged
    custody: dict[str, list[tuple[str, str | None, str | None]]] = field(default_factory=dict)  # (action, from, to)
    verdicts: dict[str, dict[tuple[str, int], str]] = field(default_factory=dict)  # communication -> verdicts
    published: set[str] = field(default_factory=set)  # communications with a publication
    sessions: set[str] = field(default_factory=set)  # users with a web session

    def org_of(self, user_id: str) -> Org:
        return self.orgs[self.users[user_id].org]

    def members(self, community: str) -> set[str]:
        return {o.id for o in self.orgs.values() if community in o.communities}

    def readers(self) -> set[tuple[str, str]]:
        """(user, item) for every user and everything they read: objects, an incident's observables handed over to
        law enforcement (`obs:<type>:<value>`), and a released statement's text (`pub:<communication>`)."""
        out: set[tuple[str, str]] = set()
        handed: dict[str, set[str]] = defaultdict(set)
        for h, row in self.rows.items():
            if self.objs[h].table == "handoffs":
                for o in row["observables"]:
                    handed[h].add(f"obs:{o['type']}:{o['value']}")
        for u in self.users.values():
            org = self.orgs[u.org]
            for obj in self.objs.values():
                if reads(u.id, org, obj):
                    out.add((u.id, obj.id))
                    if obj.table == "incidents":
                        out |= {(u.id, f"obs:{t}:{v}") for t, v in self.observables.get(obj.id, ())}
                    out |= {(u.id, item) for item in handed.get(obj.id, ())}
            out |= {(u.id, f"pub:{c}") for c in self.published}
        return out

    def org_reads(self, org_id: str, obj_id: str) -> bool:
        return org_reads(self.orgs[org_id], self.objs[obj_id])

    def holder(self, handoff_id: str) -> str | None:
        holder = None
        for action, _from, to in self.custody.get(handoff_id, []):
            if action in ("handed-over", "transferred"):
                holder = to
        return holder


def _table(name: str) -> Any:
    return Base.metadata.tables[name]


def load(session: Session) -> Snap:
    """Everything from the committed rows, in a transaction of its own."""
    session.rollback()
    s = Snap()
    _directory(session, s)
    _objects(session, s)
    _relations(session, s)
    session.rollback()
    return s


def _directory(session: Session, s: Snap) -> None:
    t = _table
    members: dict[str, set[str]] = defaultdict(set)
    cm = t("community_members").c
    for org_id, slug in session.execute(select(cm.org_id, cm.community_slug)):
        members[org_id].add(slug)
    o = t("organisations").c
    for r in session.execute(select(o.id, o.short_name, o.type, o.country, o.parent_id)):
        s.orgs[r.id] = Org(r.id, r.short_name, r.type, r.country, r.parent_id, frozenset(members[r.id]))
    u = t("users").c
    for r in session.execute(select(u.id, u.org_id, u.roles, u.is_active, u.email)):
        s.users[r.id] = UserRow(r.id, r.org_id, tuple(r.roles), bool(r.is_active), r.email)
    k = t("api_tokens").c
    now = datetime.now(UTC)
    for r in session.execute(select(k.id, k.user_id, k.scopes, k.revoked_at, k.expires_at)):
        expires = r.expires_at if r.expires_at.tzinfo else r.expires_at.replace(tzinfo=UTC)
        s.tokens[r.id] = TokenRow(r.id, r.user_id, frozenset(r.scopes), r.revoked_at is not None or expires <= now)
    s.sessions = set(session.scalars(select(t("web_sessions").c.user_id)))


def _objects(session: Session, s: Snap) -> None:
    """Every shareable object with its marking, owner and share list, and its own columns."""
    shares: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    sh = _table("shares").c
    for r in session.execute(select(sh.object_id, sh.kind, sh.target)):
        shares[r.object_id][r.kind].add(r.target)
    for name in READ_SCOPE:
        for r in session.execute(select(_table(name))).mappings():
            got = shares[r["id"]]
            s.objs[r["id"]] = Obj(
                r["id"],
                name,
                r["tlp"],
                r["owner_org_id"],
                frozenset(got["organisation"]),
                frozenset(got["community"]),
                frozenset(got["user"]),
            )
            s.rows[r["id"]] = dict(r)
    obs, sight = _table("observables"), _table("sightings")
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for r in session.execute(
        select(sight.c.incident_id, obs.c.type, obs.c.value).join(obs, obs.c.id == sight.c.observable_id)
    ):
        found[r.incident_id].add((r.type, r.value))
    s.observables = {i: frozenset(v) for i, v in found.items()}
    s.published = set(session.scalars(select(_table("publications").c.communication_id)))


def _relations(session: Session, s: Snap) -> None:
    """Links, answers, recipients, custody and verdicts: the rows the acts' relations are read from."""
    t = _table
    ci = t("crisis_incidents").c
    linked: dict[str, set[str]] = defaultdict(set)
    for r in session.execute(select(ci.crisis_id, ci.incident_id)):
        linked[r.crisis_id].add(r.incident_id)
    s.links = {c: frozenset(v) for c, v in linked.items()}
    ea = t("escalation_approvals").c
    for r in session.execute(select(ea.escalation_id, ea.org_id, ea.verdict)):
        s.answers.setdefault(r.escalation_id, {})[r.org_id] = r.verdict
    ar = t("alert_recipients").c
    for r in session.execute(select(ar.alert_id, ar.org_id, ar.acknowledged_at)):
        s.recipients.setdefault(r.alert_id, {})[r.org_id] = r.acknowledged_at is not None
    ce = t("custody_entries").c
    for r in session.execute(
        select(ce.handoff_id, ce.action, ce.from_org_id, ce.to_org_id).order_by(ce.handoff_id, ce.seq)
    ):
        s.custody.setdefault(r.handoff_id, []).append((r.action, r.from_org_id, r.to_org_id))
    ca = t("communication_approvals").c
    for r in session.execute(select(ca.communication_id, ca.org_id, ca.version, ca.verdict)):
        s.verdicts.setdefault(r.communication_id, {})[(r.org_id, r.version)] = r.verdict
