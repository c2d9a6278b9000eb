"""A national contribution as one STIX object, for the node that holds it as a replica (ADR 0013 step 4).

STIX has no national contribution. One of ours travels as one `x-cybercrisis-contribution` object, a new SDO of our
extension (docs/exchange.md), with what the EU level reads from it: the Member State's status, outlook, sectors,
services disrupted, measures, needs and narrative for one reporting period. The hub's situation reports take it as a
source like a contribution made there (situation/sources.py), so that an operational report's figures come from
every Member State's own node.

- A contribution is its Member State's own object, made and changed on that State's node (subsidiarity): it travels
  once submitted (a draft stays on its node, ADR 0013), like an incident.
- Its id is derived from the contribution's own (`contribution_id`), its `modified` is the contribution's; it is
  marked and shared like the contribution. Users do not travel.
- It names its incidents only when every reader of the contribution may read them too (`stix_crisis.nameable`); a
  new list makes a new version and only the latest is kept (publish.py `LATEST_ONLY`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cybercrisis.exchange.stix_common import (
    CONTRIBUTION_EXTENSION_ID,
    CONTRIBUTION_TYPE,
    derived_id,
    marking_id,
    ts,
)
from cybercrisis.exchange.stix_crisis import nameable, no_nulls
from cybercrisis.situation.models import Contribution


def sdo_id(contribution_id: str) -> str:
    return derived_id(CONTRIBUTION_TYPE, contribution_id)


def contribution_object(session: Session, c: Contribution) -> dict[str, Any]:
    """The submitted contribution as one STIX object (see the module's text)."""
    out: dict[str, Any] = {
        "type": CONTRIBUTION_TYPE,
        "spec_version": "2.1",
        "id": sdo_id(c.id),
        "created": ts(c.created_at),
        "modified": ts(max(c.modified_at, c.created_at)),
        "created_by_ref": c.owner_org_id,
        "object_marking_refs": [marking_id(c.tlp)],
        "extensions": {CONTRIBUTION_EXTENSION_ID: {"extension_type": "new-sdo"}},
        "contribution_id": c.id,
        "contribution_version": c.version,
        "country": c.country,
        "period_start": ts(c.period_start),
        "period_end": ts(c.period_end),
        "submitted_at": ts(c.submitted_at) if c.submitted_at else None,
        "status": c.status,
        "outlook": c.outlook,
        "sectors": [{"sector": s["sector"], "impact": s["impact"]} for s in c.sectors],
        "services_disrupted": list(c.services_disrupted),
        "entities_affected": c.entities_affected,
        "measures": c.measures,
        "needs": c.needs,
        "assistance_requested": c.assistance_requested,
        "narrative": c.narrative,
        "incident_refs": nameable(session, c, list(c.incident_ids)),
    }
    if c.exercise:
        out["labels"] = ["exercise"]
    cleaned: dict[str, Any] = no_nulls(out)
    return cleaned
