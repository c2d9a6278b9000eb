"""What a reader may do with an incident: the acts of `access.authority.ACTS` its relations to it allow.

The page offers the forms these name; the services refuse the same acts through `common.check_writer` and
`authority.authorize`, from the same relations, so a form is offered exactly when its post would be allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

from cybercrisis.access import authority
from cybercrisis.access.principal import Principal
from cybercrisis.directory.models import OrgType
from cybercrisis.incidents.common import relations
from cybercrisis.incidents.flow_models import Forwarding, ForwardingStatus
from cybercrisis.incidents.models import Incident

# The acts on one incident (its creation and the quarterly summary are not acts on an incident).
ACTS = (
    "incident.edit",
    "incident.report",
    "incident.feedback",
    "incident.request-intermediate",
    "incident.decide-significance",
    "incident.share",
    "incident.inform-member-states",
    "incident.forwarding.request",
)


def allowed_actions(
    principal: Principal, incident: Incident, *, nis2: Iterable[authority.Relation] = ()
) -> frozenset[str]:
    """The acts `principal` may do on `incident`; `nis2`: its NIS2 relations (`flows.incident_relations`), which
    only the cross-border steps need and which cost a look-up of two organisations."""
    rel = relations(principal, incident) | set(nis2)
    return frozenset(act for act in ACTS if authority.allows(principal, act, rel, held_at=incident.origin_node))


def may_forward(principal: Principal, forwarding: Forwarding, org_type: str | None) -> bool:
    """Whether `principal`, whose organisation is of `org_type`, may forward this requested notification now."""
    spoc = principal.org_id == forwarding.spoc_org_id and org_type == OrgType.SPOC
    return forwarding.status == ForwardingStatus.REQUESTED and authority.allows(
        principal, "incident.forwarding.forward", {authority.Relation.SPOC} if spoc else set()
    )
