"""NIS2 Art. 23(8): "at the request of the CSIRT or the competent authority, the single point of contact shall forward
notifications as referred to in paragraph 1 to single points of contact of other affected Member States".

The SPOC acts on the requesting authority's behalf: the widening of the incident is checked as the requester's
(flows.py has what the flows share).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict
from cybercrisis.incidents import tasks
from cybercrisis.incidents.common import bad, get_incident
from cybercrisis.incidents.flow_models import (
    FORWARDING_TYPE,
    Forwarding,
    ForwardingStatus,
)
from cybercrisis.incidents.flow_schemas import ForwardingRequestIn
from cybercrisis.incidents.flows import (
    authorities_in,
    check_incident_widening,
    incident_relations,
    not_reading,
    organisation,
    other_member_states,
    require_significant,
    share_incident,
)

R = authority.Relation


def spoc_of(session: Session, country: str | None) -> str | None:
    """The single point of contact of a Member State (NIS2 Art. 8(3): one per Member State); the first by short
    name if the directory lists several."""
    if not country:
        return None
    return session.scalars(
        select(Organisation.id)
        .where(Organisation.country == country, Organisation.type == OrgType.SPOC.value)
        .order_by(Organisation.short_name)
    ).first()


def request_forwarding(
    session: Session, *, actor: Principal, incident_id: str, data: ForwardingRequestIn
) -> Forwarding:
    """A CSIRT or competent authority asks its SPOC to forward the notification (NIS2 Art. 23(8))."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    authority.authorize(
        actor, "incident.forwarding.request", incident_relations(session, actor, incident), held_at=incident.origin_node
    )
    require_significant(incident, "NIS2 Art. 23(8) (notifications under Art. 23(1))")
    org = organisation(session, actor.org_id)
    assert org is not None
    spoc = spoc_of(session, org.country)
    if spoc is None:
        raise bad(
            "member_states",
            f"no single point of contact of {org.country or 'your Member State'} in this node's directory",
        )
    states = other_member_states(data.member_states, field="member_states", own=org.country)
    targets = authorities_in(session, states, (OrgType.SPOC.value,), field="member_states")
    marking = sharing.parse_tlp(data.tlp)
    if marking == TLP.RED:
        raise bad(
            "tlp",
            "the request must reach your single point of contact's organisation: mark it TLP:AMBER+STRICT or wider",
        )
    # The SPOC acts on the requester's behalf: check now that the requester may let the targets read the incident,
    # and let its own SPOC read it (Art. 23(1), third subparagraph: SPOCs are provided with the information).
    check_incident_widening(
        session, org_id=org.id, incident=incident, added=not_reading(session, incident, [spoc, *targets])
    )
    share_incident(
        session,
        actor=actor,
        incident=incident,
        org_ids=not_reading(session, incident, [spoc]),
        added_by=org.id,
        tag="incidents:incident:forwarding-request",
        summary={"spoc": spoc, "member_states": states},
    )
    wanted = data.share_with.model_copy(update={"organisations": [*data.share_with.organisations, spoc]})
    entries = sharing.resolve(session, tlp=marking, share_with=wanted, owner_org_id=org.id, author_id=actor.user_id)
    now = utcnow()
    fw = Forwarding(
        id=new_id(FORWARDING_TYPE),
        owner_org_id=org.id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        exercise=incident.exercise,
        created_at=now,
        modified_at=now,
        incident_id=incident.id,
        status=ForwardingStatus.REQUESTED.value,
        spoc_org_id=spoc,
        member_states=states,
        note=data.note,
        requested_at=now,
        target_org_ids=[],
    )
    session.add(fw)
    session.flush()
    sharing.write(session, object_id=fw.id, entries=entries, added_by=org.id)
    audit.record(
        session,
        actor=actor,
        tag="incidents:nis2-forwarding:request",
        object_id=fw.id,
        summary={"incident": incident.id, "spoc": spoc, "member_states": states},
    )
    return fw


def forward(session: Session, *, actor: Principal, forwarding_id: str) -> Forwarding:
    """The SPOC named on a request forwards the notification to the SPOCs of the Member States named (Art. 23(8)):
    they become readers of the incident."""
    fw = sharing.get_readable(session, actor, Forwarding, forwarding_id)  # the act is on the request
    org = organisation(session, actor.org_id)
    is_spoc = org is not None and org.id == fw.spoc_org_id and org.type == OrgType.SPOC
    authority.authorize(actor, "incident.forwarding.forward", {R.SPOC} if is_spoc else set())
    incident = get_incident(session, principal=actor, incident_id=fw.incident_id)
    # The same rule again, now that the incident is known: one held at another node is not changed here (ADR 0013).
    authority.authorize(
        actor, "incident.forwarding.forward", {R.SPOC} if is_spoc else set(), held_at=incident.origin_node
    )
    if fw.status != ForwardingStatus.REQUESTED:
        raise Conflict(f"this request was {fw.status} already ({fw.forwarded_at:%Y-%m-%d %H:%M} UTC)")
    require_significant(incident, "NIS2 Art. 23(8) (notifications under Art. 23(1))")
    targets = authorities_in(session, fw.member_states, (OrgType.SPOC.value,), field="member_states")
    newcomers = not_reading(session, incident, targets)
    # The widening is the requesting authority's, on whose request the SPOC acts (checked again: the incident's
    # marking or share list may have changed since the request).
    check_incident_widening(
        session,
        org_id=fw.owner_org_id,
        incident=incident,
        added=newcomers,
        on_behalf=", and the requesting authority may not widen it so",
    )
    share_incident(
        session,
        actor=actor,
        incident=incident,
        org_ids=newcomers,
        added_by=fw.owner_org_id,
        tag="incidents:incident:forward",
        summary={"request": fw.id, "member_states": fw.member_states},
    )
    now = utcnow()
    fw.status = ForwardingStatus.FORWARDED.value
    fw.forwarded_at = now
    fw.forwarded_by_id = actor.user_id
    fw.target_org_ids = targets
    fw.modified_at = now
    audit.record(
        session,
        actor=actor,
        tag="incidents:nis2-forwarding:forward",
        object_id=fw.id,
        summary={"incident": incident.id, "targets": targets},
    )
    tasks.notify(
        session,
        incident=incident,
        event="incidents:nis2-forwarding:forward",
        org_ids=targets,
        text=f"The single point of contact of {org.short_name if org else 'another Member State'} forwards "
        "this notification to you (NIS2 Art. 23(8)).",
        dedupe=f"forward:{fw.id}",
        extra={"forwarding": fw.id},
        actor=actor,
    )
    return fw
