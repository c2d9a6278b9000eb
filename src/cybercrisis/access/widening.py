"""Widening (the authority policy): whether the recipients a write adds to an object may be added by this actor.

The originator (owner organisation) widens within what the TLP allows; a recipient passes AMBER on to its own
constituents only, GREEN within its own communities, and never AMBER+STRICT or RED.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access.policy import COMMUNITY, ORG, USER
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.errors import PermissionDenied

Entry = tuple[str, str]  # (kind, target) of a share row


def _communities_of(session: Session, org_id: str) -> set[str]:
    from cybercrisis.directory.models import CommunityMembership

    return set(session.scalars(select(CommunityMembership.community_slug).where(CommunityMembership.org_id == org_id)))


def refused_widening(
    session: Session, *, org_id: str | None, tlp: str, owner_org_id: str, added: Iterable[Entry]
) -> list[Entry]:
    """The recipients among `added` that organisation `org_id` may not add to an object of `owner_org_id` marked
    `tlp`; empty when it may add them all.

    | TLP          | the originator (owner)                  | a recipient                                          |
    | CLEAR        | anyone                                  | anyone (it is public already)                        |
    | GREEN        | organisations, communities, users       | its own communities, and organisations in them       |
    | AMBER        | organisations, communities, users       | organisations of its own constituency                |
    | AMBER+STRICT | named organisations and users           | nobody                                               |
    | RED          | named users                             | nobody                                               |
    What each TLP admits at all (no communities on AMBER+STRICT, ...) is checked by sharing.resolve."""
    wanted = list(dict.fromkeys(added))
    if not wanted or tlp == TLP.CLEAR or (org_id is not None and org_id == owner_org_id):
        return []
    if org_id is None or tlp in (TLP.RED, TLP.AMBER_STRICT):
        return wanted
    from cybercrisis.directory.models import CommunityMembership, Organisation

    orgs = sorted({t for k, t in wanted if k == ORG})
    if tlp == TLP.AMBER:
        allowed_orgs = (
            set(
                session.scalars(
                    select(Organisation.id).where(Organisation.parent_id == org_id, Organisation.id.in_(orgs))
                )
            )
            if orgs
            else set()
        )
        return [(k, t) for k, t in wanted if not (k == ORG and t in allowed_orgs)]
    # GREEN: "within their community" (TLP 2.0): the recipient's own communities and the organisations in them.
    mine = _communities_of(session, org_id)
    peers = (
        set(
            session.scalars(
                select(CommunityMembership.org_id).where(
                    CommunityMembership.community_slug.in_(sorted(mine)), CommunityMembership.org_id.in_(orgs)
                )
            )
        )
        if orgs and mine
        else set()
    )
    return [(k, t) for k, t in wanted if not ((k == COMMUNITY and t in mine) or (k == ORG and t in peers))]


def check_widening(
    session: Session, *, actor: Principal, tlp: str, owner_org_id: str, added: Iterable[Entry], what: str
) -> None:
    """Refuse (403) when the actor's organisation may not add these recipients (see `refused_widening`)."""
    refused = refused_widening(session, org_id=actor.org_id, tlp=tlp, owner_org_id=owner_org_id, added=added)
    if refused:
        label = TLP(tlp).label
        names = ", ".join(f"{'user' if k == USER else k} {t}" for k, t in refused[:5])
        raise PermissionDenied(
            f"only the originator widens who reads this {what} ({label}); your organisation may not add {names}"
        )
