"""A national contribution held at another node, rebuilt from its origin's signed `x-cybercrisis-contribution` object
(ADR 0013 step 4; exchange/stix_contribution.py).

Each version replaces the replica's fields and is kept as a version of it here (`contribution_versions`, numbered as
its origin numbered it), so that the hub reads its history and diffs as for a contribution made there. A
contribution that is this node's own, or another node's, is never overwritten. Its incidents are kept when held
here. The hub's situation reports read it through the access layer like any other (situation/sources.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.db import utcnow
from cybercrisis.exchange.import_plan import Received
from cybercrisis.exchange.replica_crisis import (
    MAX_CHILDREN,
    held,
    list_of,
    parse_time,
    prune,
    set_shares,
    signed_entries,
    stamp,
    text,
)
from cybercrisis.exchange.stix_contribution import sdo_id
from cybercrisis.incidents.models import Incident
from cybercrisis.situation.contributions import content_of
from cybercrisis.situation.models import Contribution, ContributionState, ContributionVersion

log = logging.getLogger(__name__)


def apply(session: Session, obj: Mapping[str, Any], rec: Received) -> bool:
    """Bring the replica of the contribution this object carries up to date; False when it is not applied."""
    node = rec.block["node"]
    cid = obj.get("contribution_id")
    if (
        not isinstance(cid, str)
        or not cid.startswith("contribution--")
        or len(cid) > 120
        or obj.get("id") != sdo_id(cid)
    ):
        log.warning("contribution object %s from node %s does not carry its own contribution", obj.get("id"), node)
        return False
    start, end = parse_time(obj.get("period_start")), parse_time(obj.get("period_end"))
    country = obj.get("country")
    if start is None or end is None or end <= start or not (isinstance(country, str) and len(country) == 2):
        log.warning("contribution %s from node %s has no period or country: not replicated", cid, node)
        return False
    modified = parse_time(obj.get("modified")) or utcnow()
    existing, done = held(session, Contribution, cid, obj, rec, modified)
    if done is not None:
        return bool(done)
    c = existing or Contribution(id=cid)
    c.country = country.upper()
    c.period_start, c.period_end = start, end
    c.state = ContributionState.SUBMITTED.value  # only submitted contributions travel
    c.submitted_at = parse_time(obj.get("submitted_at")) or modified
    _fill(session, c, obj)
    stamp(session, c, existing, obj, rec, modified)
    _version(session, c, obj, modified)
    set_shares(session, [cid], signed_entries(rec))
    prune(session, obj, node, modified)
    return True


def _fill(session: Session, c: Contribution, obj: Mapping[str, Any]) -> None:
    """The contribution's own fields; a value of the wrong shape is dropped, never a reason to stop the page."""
    c.status = text(obj.get("status"), 32, c.status or "unknown")
    c.outlook = text(obj.get("outlook"), 16, c.outlook or "stable")
    sectors = taxonomies.nis2_sectors()
    c.sectors = [
        {"sector": s["sector"], "impact": s["impact"][:16]}
        for s in list_of(obj.get("sectors"))[:50]
        if isinstance(s, dict) and s.get("sector") in sectors and isinstance(s.get("impact"), str)
    ]
    c.services_disrupted = [v[:300] for v in list_of(obj.get("services_disrupted")) if isinstance(v, str)][:100]
    affected = obj.get("entities_affected")
    valid = isinstance(affected, int) and not isinstance(affected, bool) and 0 <= affected <= 10_000_000
    c.entities_affected = affected if valid else None
    c.measures = text(obj.get("measures"), 20_000)
    c.needs = text(obj.get("needs"), 20_000)
    c.assistance_requested = obj.get("assistance_requested") is True
    c.narrative = text(obj.get("narrative"), 50_000)
    wanted = [i for i in list_of(obj.get("incident_refs")) if isinstance(i, str)][:MAX_CHILDREN]
    held = set(session.scalars(select(Incident.id).where(Incident.id.in_(wanted)))) if wanted else set()
    c.incident_ids = [i for i in wanted if i in held]


def _version(session: Session, c: Contribution, obj: Mapping[str, Any], modified: datetime) -> None:
    """This version, kept under its origin's number (the next one here when the number is missing or taken), made
    when its origin made it. Only submitted versions travel, so the numbers held here may have gaps."""
    query = select(ContributionVersion.version).where(ContributionVersion.contribution_id == c.id)
    numbers = set(session.scalars(query))
    given = obj.get("contribution_version")
    ok = isinstance(given, int) and not isinstance(given, bool) and 0 < given < 1_000_000 and given not in numbers
    number = given if ok else max(numbers, default=0) + 1
    session.add(
        ContributionVersion(
            contribution_id=c.id, version=number, created_at=modified, created_by_id=None, content=content_of(c)
        )
    )
    session.flush()
