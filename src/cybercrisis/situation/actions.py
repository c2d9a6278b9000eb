"""What a reader may do with a contribution or a situation report: the one answer the pages show and the services
enforce (through `access.authority`), so that a page never offers what the service would refuse."""

from __future__ import annotations

from cybercrisis.access import authority
from cybercrisis.access.principal import Principal
from cybercrisis.situation.models import Contribution, Sitrep, SitrepState, SitrepVersion


def allowed_actions(
    principal: Principal, obj: Contribution | Sitrep, version: SitrepVersion | None = None
) -> frozenset[str]:
    """The acts `principal` may take on a contribution ("edit", "submit"), or on a report as shown at `version`
    ("edit", "rebuild", "approve", "publish": only on its current version)."""
    relations = authority.owned(principal, obj.owner_org_id)
    if isinstance(obj, Contribution):
        return (
            frozenset({"edit", "submit"})
            if authority.allows(principal, "contribution.edit", relations, held_at=obj.origin_node)
            else frozenset()
        )
    if version is None or version.number != obj.current_version:
        return frozenset()
    acts: set[str] = set()
    held = obj.origin_node
    if authority.allows(principal, "sitrep.edit", relations, held_at=held):
        acts |= {"edit", "rebuild"}
    if authority.allows(principal, "sitrep.approve", relations, held_at=held):
        if version.state == SitrepState.DRAFT.value:
            acts.add("approve")
        elif version.state == SitrepState.APPROVED.value:
            acts.add("publish")
    return frozenset(acts)
