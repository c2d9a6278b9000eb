"""A situation report's versions and what changed between two of them, as a reader sees them."""

from __future__ import annotations

import difflib
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareList
from cybercrisis.config import Settings
from cybercrisis.situation import aggregate
from cybercrisis.situation.models import Sitrep, SitrepState, SitrepVersion
from cybercrisis.situation.schemas import FieldChange
from cybercrisis.situation.sitreps import TEXT_KEYS, view


def versions_for(session: Session, reader: Principal, sitrep: Sitrep) -> list[SitrepVersion]:
    """All versions for the drafting organisation; published ones for everybody else."""
    q = select(SitrepVersion).where(SitrepVersion.sitrep_id == sitrep.id).order_by(SitrepVersion.number)
    if reader.org_id != sitrep.owner_org_id:
        q = q.where(SitrepVersion.state == SitrepState.PUBLISHED.value)
    return list(session.scalars(q))


def share_list_of(session: Session, sitrep: Sitrep) -> tuple[ShareList, ShareList]:
    audience = ShareList(
        organisations=sitrep.audience.get("organisations", []),
        communities=sitrep.audience.get("communities", []),
        users=sitrep.audience.get("users", []),
    )
    return sharing.share_list(sharing.shares_of(session, sitrep.id)), audience


def _flat(picture: aggregate.Picture) -> dict[str, Any]:
    out: dict[str, Any] = {f"headline.{n.key}": n.value for n in picture.headline}
    for t in picture.tables:
        out[f"table.{t.key}"] = [r.cells for r in t.rows]
    return out


def diff(
    session: Session, *, reader: Principal, sitrep_id: str, a: int, b: int, settings: Settings
) -> list[FieldChange]:
    """Text changes as unified diffs, and figure changes as this reader sees them."""
    left = view(session, reader=reader, sitrep_id=sitrep_id, version=a, settings=settings)
    right = view(session, reader=reader, sitrep_id=sitrep_id, version=b, settings=settings)
    changes = []
    for key in TEXT_KEYS:
        old, new = left.version.text.get(key, ""), right.version.text.get(key, "")
        if old != new:
            lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"v{a}", f"v{b}", lineterm=""))
            changes.append(FieldChange(field=key, before=old, after=new, diff=lines))
    fa, fb = _flat(left.picture), _flat(right.picture)
    for key in sorted(set(fa) | set(fb)):
        if fa.get(key) != fb.get(key):
            changes.append(FieldChange(field=key, before=fa.get(key), after=fb.get(key)))
    return changes
