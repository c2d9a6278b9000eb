"""Share lists: validation per TLP, defaults, reading them. Changing them, audited, is directory/recipients.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cybercrisis.access.authority import Relation
from cybercrisis.access.models import Share
from cybercrisis.access.policy import COMMUNITY, ORG, USER, can_read, read_filter, read_scope
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.accounts.models import User
from cybercrisis.directory.models import Community, CommunityMembership, Organisation
from cybercrisis.errors import InvalidInput, NotFound

T = TypeVar("T")


class ShareableRow(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def owner_org_id(self) -> str: ...
    @property
    def created_by_id(self) -> str | None: ...

    tlp: str


def parse_tlp(value: str, *, field: str = "tlp") -> TLP:
    try:
        return TLP.parse(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), errors=[{"field": field, "message": str(exc)}]) from None


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": f"share_with.{field}", "message": message}])


def resolve(
    session: Session, *, tlp: TLP, share_with: ShareWith, owner_org_id: str, author_id: str | None
) -> list[tuple[str, str]]:
    """Check that every recipient exists and fits the TLP; return (kind, target) pairs with defaults."""
    if tlp == TLP.RED and (share_with.organisations or share_with.communities):
        raise invalid("organisations", "TLP:RED is shared with named users only")
    if tlp == TLP.AMBER_STRICT and share_with.communities:
        raise invalid("communities", "TLP:AMBER+STRICT is shared with named organisations only")

    orgs = sorted(set(share_with.organisations))
    if orgs:
        found = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(orgs))))
        missing = [o for o in orgs if o not in found]
        if missing:
            raise invalid("organisations", f"unknown organisation(s): {', '.join(missing)}")

    communities = sorted(set(share_with.communities))
    if communities:
        found = set(session.scalars(select(Community.slug).where(Community.slug.in_(communities))))
        missing = [c for c in communities if c not in found]
        if missing:
            raise invalid("communities", f"unknown community(ies): {', '.join(missing)}")
    elif tlp == TLP.GREEN and not orgs:
        # GREEN defaults to the owner's communities, made explicit so that the policy reads stored data only.
        communities = list(
            session.scalars(
                select(CommunityMembership.community_slug).where(CommunityMembership.org_id == owner_org_id)
            )
        )

    users: set[str] = set()
    wanted = {u.strip() for u in share_with.users}
    if wanted:
        by_id = {u for u in wanted if u.startswith("user--")}
        by_email = {u.lower() for u in wanted - by_id}
        rows = session.execute(
            select(User.id, User.email).where(
                (User.id.in_(sorted(by_id))) | (func.lower(User.email).in_(sorted(by_email)))
            )
        ).all()
        known_ids = {r.id for r in rows}
        known_emails = {r.email.lower() for r in rows}
        missing = sorted((by_id - known_ids) | (by_email - known_emails))
        if missing:
            raise invalid("users", f"unknown user(s): {', '.join(missing)}")
        users = known_ids
    if author_id and tlp == TLP.RED:
        users.add(author_id)  # the author of a RED object is always one of its named recipients

    return [(ORG, o) for o in orgs] + [(COMMUNITY, c) for c in communities] + [(USER, u) for u in sorted(users)]


def write(session: Session, *, object_id: str, entries: Sequence[tuple[str, str]], added_by: str | None) -> None:
    session.add_all(Share(object_id=object_id, kind=k, target=t, added_by_org_id=added_by) for k, t in entries)


def shares_of(session: Session, object_id: str) -> list[Share]:
    return list(session.scalars(select(Share).where(Share.object_id == object_id)))


def shares_of_many(session: Session, object_ids: Sequence[str]) -> dict[str, list[Share]]:
    """The share rows of several objects in one query (lists, event batches)."""
    out: dict[str, list[Share]] = {i: [] for i in object_ids}
    if object_ids:
        for share in session.scalars(select(Share).where(Share.object_id.in_(sorted(set(object_ids))))):
            out[share.object_id].append(share)
    return out


def share_list(shares: Sequence[Share]) -> ShareList:
    return ShareList(
        organisations=sorted(s.target for s in shares if s.kind == ORG),
        communities=sorted(s.target for s in shares if s.kind == COMMUNITY),
        users=sorted(s.target for s in shares if s.kind == USER),
    )


def readable(session: Session, principal: Principal, obj: ShareableRow | None) -> bool:
    if obj is None:
        return False
    return can_read(
        principal,
        tlp=obj.tlp,
        owner_org_id=obj.owner_org_id,
        shares=shares_of(session, obj.id),
        scope=read_scope(type(obj)),
    )


def org_reader(session: Session, org_id: str) -> Principal:
    """Any ordinary user of `org_id`, for asking what that organisation (not a named user of it) may read."""
    communities = frozenset(
        session.scalars(select(CommunityMembership.community_slug).where(CommunityMembership.org_id == org_id))
    )
    return Principal(user_id=f"user--probe-of-{org_id}", org_id=org_id, communities=communities)


def org_relations(session: Session, actor: Principal, obj: ShareableRow) -> set[Relation]:
    """The actor's organisation to `obj`: its owner, a recipient organisation (it reads it as an organisation, not
    only through a user named on it), or nothing."""
    if actor.org_id is None:
        return set()
    if actor.org_id == obj.owner_org_id:
        return {Relation.OWNER}
    reader = org_reader(session, actor.org_id)
    reads = can_read(reader, tlp=obj.tlp, owner_org_id=obj.owner_org_id, shares=shares_of(session, obj.id))
    return {Relation.RECIPIENT} if reads else set()


def get_readable(session: Session, principal: Principal, model: type[T], object_id: str) -> T:
    """Load one object through the policy; an object the reader may not see is simply not found."""
    obj = session.scalars(
        select(model).where(model.id == object_id, read_filter(principal, model))  # type: ignore[attr-defined]
    ).first()
    if obj is None:
        raise NotFound(f"no {object_id.split('--', maxsplit=1)[0]} with id {object_id}")
    return obj
