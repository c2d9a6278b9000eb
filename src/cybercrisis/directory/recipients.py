"""Changing who an object is shared with, audited: its marking and recipients (the originator only), and AMBER
pass-on by a recipient to its own constituency. The rules of a valid list are access/sharing.py's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.access.policy import COMMUNITY, ORG, USER
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.sharing import ShareableRow, invalid, resolve, shares_of, write
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.directory.models import Organisation
from cybercrisis.errors import PermissionDenied


def set_sharing(
    session: Session, *, principal: Principal, obj: ShareableRow, tlp: TLP, share_with: ShareWith, tag: str
) -> list[tuple[str, str]]:
    """Replace marking and recipients. Only the originator (the owner organisation) may do this."""
    if principal.org_id != obj.owner_org_id:
        raise PermissionDenied("only the originating organisation changes the marking or the share list")
    entries = resolve(
        session, tlp=tlp, share_with=share_with, owner_org_id=obj.owner_org_id, author_id=obj.created_by_id
    )
    if tlp == TLP.RED and principal.user_id and (USER, principal.user_id) not in entries:
        # Whoever marks an object RED is named on it, like its author: it does not lock itself out of its own act.
        entries.append((USER, principal.user_id))
    before = obj.tlp
    session.execute(delete(Share).where(Share.object_id == obj.id))
    write(session, object_id=obj.id, entries=entries, added_by=principal.org_id)
    obj.tlp = tlp.value
    audit.record(
        session,
        actor=principal,
        tag=tag,
        object_id=obj.id,
        summary={"tlp": [before, tlp.value], "recipients": _count(entries)},
    )
    return entries


def pass_on(session: Session, *, principal: Principal, obj: ShareableRow, org_ids: list[str], tag: str) -> list[str]:
    """A recipient of an AMBER object shares it on with organisations of its own constituency."""
    if obj.tlp != TLP.AMBER:
        raise PermissionDenied(f"only TLP:AMBER may be passed on by a recipient; this is {TLP(obj.tlp).label}")
    if not org_ids:
        raise invalid("organisations", "name at least one organisation of your constituency")
    constituents = set(
        session.scalars(
            select(Organisation.id).where(
                Organisation.parent_id == principal.org_id, Organisation.id.in_(sorted(set(org_ids)))
            )
        )
    )
    outside = sorted(set(org_ids) - constituents)
    if outside:
        raise invalid("organisations", f"not in your organisation's constituency: {', '.join(outside)}")
    existing = {(s.kind, s.target) for s in shares_of(session, obj.id)}
    added = [o for o in sorted(constituents) if (ORG, o) not in existing]
    write(session, object_id=obj.id, entries=[(ORG, o) for o in added], added_by=principal.org_id)
    audit.record(session, actor=principal, tag=tag, object_id=obj.id, summary={"passed_on_to": added})
    return added


def _count(entries: Sequence[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, int] = {ORG: 0, COMMUNITY: 0, USER: 0}
    for kind, _ in entries:
        out[kind] += 1
    return out
