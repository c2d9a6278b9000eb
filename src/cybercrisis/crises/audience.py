"""Who reads a crisis and its objects, and telling them (ADR 0007).

Objects of a crisis (escalations, decisions, actions) carry the crisis's marking and share list, written when they
are created and rewritten whenever the crisis's audience changes (`reshare`), so that one access layer decides
about each of them like about anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.models import Share
from cybercrisis.access.policy import COMMUNITY, ORG, can_read
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.crises.models import (
    Action,
    Crisis,
    Decision,
    Escalation,
)
from cybercrisis.directory.models import CommunityMembership, Organisation
from cybercrisis.errors import Conflict
from cybercrisis.notify.service import notify_readers


def org_principal(session: Session, org_id: str) -> Principal:
    """Any ordinary user of `org_id`, for asking whether that organisation may read something."""
    communities = frozenset(
        session.scalars(select(CommunityMembership.community_slug).where(CommunityMembership.org_id == org_id))
    )
    return Principal(user_id=f"user--probe-of-{org_id}", org_id=org_id, communities=communities)


def org_can_read(session: Session, org_id: str, crisis: Crisis, shares: Sequence[Share] | None = None) -> bool:
    rows = sharing.shares_of(session, crisis.id) if shares is None else shares
    return can_read(org_principal(session, org_id), tlp=crisis.tlp, owner_org_id=crisis.owner_org_id, shares=rows)


def audience_orgs(session: Session, crisis: Crisis) -> set[str]:
    """Organisations whose users may read the crisis (named users of RED aside)."""
    if crisis.tlp == TLP.RED:
        return {crisis.owner_org_id}
    shares = sharing.shares_of(session, crisis.id)
    orgs = {s.target for s in shares if s.kind == ORG} | {crisis.owner_org_id}
    if crisis.tlp != TLP.AMBER_STRICT:
        slugs = [s.target for s in shares if s.kind == COMMUNITY]
        if slugs:
            orgs |= set(
                session.scalars(
                    select(CommunityMembership.org_id).where(CommunityMembership.community_slug.in_(sorted(slugs)))
                )
            )
    return orgs


_CHILD_MODELS: tuple[type[Escalation] | type[Decision] | type[Action], ...] = (Escalation, Decision, Action)


def _children(session: Session, crisis_id: str) -> list[str]:
    ids: list[str] = []
    for model in _CHILD_MODELS:
        ids += session.scalars(select(model.id).where(model.crisis_id == crisis_id))
    return ids


def copy_shares(session: Session, crisis: Crisis, child_ids: Sequence[str]) -> None:
    """Give `child_ids` exactly the crisis's marking and share list."""
    if not child_ids:
        return
    entries = [(s.kind, s.target) for s in sharing.shares_of(session, crisis.id)]
    session.execute(delete(Share).where(Share.object_id.in_(list(child_ids))))
    for child in child_ids:
        sharing.write(session, object_id=child, entries=entries, added_by=crisis.owner_org_id)
    for model in _CHILD_MODELS:
        session.execute(
            sql_update(model)
            .where(model.id.in_(list(child_ids)), model.tlp != crisis.tlp)
            .values(tlp=crisis.tlp)
            .execution_options(synchronize_session="fetch")
        )


def reshare(session: Session, crisis: Crisis) -> None:
    session.flush()
    copy_shares(session, crisis, _children(session, crisis.id))


def require_readers(session: Session, crisis: Crisis, org_ids: Iterable[str], *, why: str) -> None:
    """Refuse when one of these organisations cannot read the crisis: a proposal adds no reader (issue 12); the
    originator decides who reads, through the crisis's sharing."""
    shares = sharing.shares_of(session, crisis.id)
    missing = [o for o in dict.fromkeys(org_ids) if not org_can_read(session, o, crisis, shares)]
    if not missing:
        return
    names = ", ".join(sorted(org_names(session, missing).values()))
    owner = org_names(session, [crisis.owner_org_id])[crisis.owner_org_id]
    fix = (
        "the originator must mark it AMBER+STRICT or wider and share it with them first"
        if crisis.tlp == TLP.RED
        else f"the originator ({owner}) shares it with them first (PUT /api/v1/crises/{crisis.id}/sharing)"
    )
    raise Conflict(
        f"{names} {why} but cannot read this crisis ({TLP(crisis.tlp).label}); a proposal adds no reader: {fix}"
    )


def add_community(session: Session, crisis: Crisis, slug: str | None) -> str | None:
    """A stage's community joins the audience where the marking allows communities (CLEAR, GREEN, AMBER)."""
    if slug is None or crisis.tlp in (TLP.RED, TLP.AMBER_STRICT):
        return None
    existing = {(s.kind, s.target) for s in sharing.shares_of(session, crisis.id)}
    if (COMMUNITY, slug) in existing:
        return None
    sharing.write(session, object_id=crisis.id, entries=[(COMMUNITY, slug)], added_by=crisis.owner_org_id)
    return slug


def org_names(session: Session, org_ids: Iterable[str]) -> dict[str, str]:
    ids = sorted(set(org_ids))
    if not ids:
        return {}
    rows = session.execute(select(Organisation.id, Organisation.short_name).where(Organisation.id.in_(ids))).all()
    found = {r.id: r.short_name for r in rows}
    return {i: found.get(i, i) for i in ids}


def notify(
    session: Session,
    crisis: Crisis,
    *,
    event: str,
    subject: str,
    body: str,
    object_id: str,
    dedupe: str,
    orgs: Iterable[str] | None = None,
    exclude: Principal | None = None,
) -> None:
    """Tell those who may read the crisis: its organisations or, on TLP:RED, its named users only (notify_readers).
    `exclude` is the actor: its organisation (on RED, the user) is not told. The text carries titles only."""
    audience = audience_orgs(session, crisis)
    targets = audience if orgs is None else audience & set(orgs)
    targets.discard(exclude.org_id or "" if exclude else "")
    notify_readers(
        session,
        obj=crisis,
        event=event,
        org_ids=targets,
        subject=f"[{TLP(crisis.tlp).label}] {subject}",
        body=f"{body}\nOpen it in cybercrisis: /crises/{crisis.id}",
        object_id=object_id,
        payload={"crisis": crisis.id, "object": object_id},
        dedupe=dedupe,
        actor=exclude,
    )


def community_orgs(session: Session, slugs: Iterable[str]) -> set[str]:
    wanted = sorted(set(slugs))
    if not wanted:
        return set()
    return set(
        session.scalars(select(CommunityMembership.org_id).where(CommunityMembership.community_slug.in_(wanted)))
    )
