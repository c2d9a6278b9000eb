"""The NIS2 Art. 23 flows between authorities, as recorded, audited, tracked steps.

- Art. 23(6): "where appropriate, and in particular where the significant incident concerns two or more Member
  States, the CSIRT, the competent authority or the single point of contact shall inform, without undue delay, the
  other affected Member States and ENISA of the significant incident", preserving the entity's security and
  commercial interests and the confidentiality of the information provided. `inform_member_states`, `to_inform`.
- Art. 23(8): "at the request of the CSIRT or the competent authority, the single point of contact shall forward
  notifications as referred to in paragraph 1 to single points of contact of other affected Member States".
  `flows_forwarding`.
- Art. 23(9): "every three months, the single point of contact shall submit to ENISA a summary report, including
  anonymised and aggregated data on significant incidents, incidents, cyber threats and near misses notified in
  accordance with paragraph 1 of this Article and with Article 30". `flows_summary`.

Who may act is access/authority.py's ACTS table; who may be added as a reader is widening.py's table: the informer
(or, for a forwarding, the requesting authority on whose behalf the SPOC acts) must be allowed to widen the
incident to the recipients. Deployment's rules, not law, are marked as such where they appear.

This module holds what the three flows share (the relations of an authority to an incident, the Member States and
authorities named, sharing the incident with them), Art. 23(6) and the steps of one incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing, widening
from cybercrisis.access.policy import ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.countries import EU_MEMBER_STATES, normalise_country
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import Conflict, PermissionDenied
from cybercrisis.incidents.common import bad, get_incident
from cybercrisis.incidents.flow_models import (
    INFORM_TYPE,
    Forwarding,
    MemberStateInformation,
)
from cybercrisis.incidents.flow_schemas import InformIn
from cybercrisis.incidents.models import Incident, IncidentCountry, Significance

R = authority.Relation
# The authorities of a Member State that NIS2 Art. 23(6) names beside the SPOC: its CSIRT and competent authority.
CSIRT_OR_CA = frozenset({OrgType.NATIONAL_CSIRT.value, OrgType.COMPETENT_AUTHORITY.value})
# Who receives an Art. 23(6) information in another Member State: its SPOC and its national CSIRT(s). The Directive
# says "the other affected Member States"; addressing their SPOC and CSIRT is the deployment's rule.
RECEIVING_TYPES = (OrgType.SPOC.value, OrgType.NATIONAL_CSIRT.value)
# The steps are marked TLP:AMBER+STRICT (the recipient organisations only): authority-to-authority correspondence.
# The deployment's rule: NIS2 asks for confidentiality (Art. 23(6)) without naming a marking.
STEP_TLP = TLP.AMBER_STRICT
ENISA_KEY = "enisa"  # ENISA's directory key (directory/exchange.py org_id_for_key)


def organisation(session: Session, org_id: str | None) -> Organisation | None:
    return session.get(Organisation, org_id) if org_id else None


def incident_relations(session: Session, actor: Principal, incident: Incident) -> set[authority.Relation]:
    """The actor's organisation to an incident it reads: a CSIRT or competent authority of the incident's Member
    State (the recording organisation's country), or that Member State's SPOC."""
    if actor.org_id is None:
        return set()
    # Two columns of two organisations: not the rows with their memberships and levels.
    rows = session.execute(
        select(Organisation.id, Organisation.country, Organisation.type).where(
            Organisation.id.in_({actor.org_id, incident.owner_org_id})
        )
    )
    return relations_among(actor, incident, {r.id: (r.country, r.type) for r in rows})


def relations_among(
    actor: Principal, incident: Incident, orgs: Mapping[str, tuple[str | None, str]]
) -> set[authority.Relation]:
    """`incident_relations` from the (country, type) of the actor's and the recording organisation, which a caller
    that reads them anyway (the incident's page) hands over."""
    org, owner = orgs.get(actor.org_id or ""), orgs.get(incident.owner_org_id)
    if org is None or owner is None:
        return set()
    same_state = actor.org_id == incident.owner_org_id or (org[0] is not None and org[0] == owner[0])
    if not same_state:
        return set()
    if org[1] in CSIRT_OR_CA:
        return {R.NIS2_AUTHORITY}
    if org[1] == OrgType.SPOC:
        return {R.SPOC}
    return set()


def require_significant(incident: Incident, provision: str) -> None:
    if incident.significance != Significance.SIGNIFICANT:
        raise Conflict(
            f"the incident's significance is '{incident.significance}': {provision} concerns significant incidents "
            "(NIS2 Art. 23(3)); decide its significance first"
        )


def other_member_states(values: Sequence[str], *, field: str, own: str | None) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(values):
        code = normalise_country(value, field=f"{field}[{i}]")
        if code not in EU_MEMBER_STATES:
            raise bad(f"{field}[{i}]", f"{value} is not an EU Member State")
        if code == own:
            raise bad(f"{field}[{i}]", f"{code} is your own Member State: name the *other* affected Member States")
        if code not in out:
            out.append(code)
    return out


def authorities_in(session: Session, countries: Sequence[str], types: Sequence[str], *, field: str) -> list[str]:
    """The organisations of `types` in each of `countries`; every country must have one in the directory."""
    if not countries:
        return []
    rows = session.execute(
        select(Organisation.id, Organisation.country).where(
            Organisation.country.in_(sorted(countries)), Organisation.type.in_(list(types))
        )
    ).all()
    found = {r.country for r in rows}
    missing = [c for c in countries if c not in found]
    if missing:
        kinds = " or ".join(t.replace("-", " ") for t in types)
        raise bad(field, f"no {kinds} of {', '.join(missing)} in this node's directory")
    return sorted({r.id for r in rows})


def enisa_org_id(session: Session) -> str | None:
    """ENISA in the directory: by its directory key, else the EU body whose short name is ENISA."""
    by_key = org_id_for_key(ENISA_KEY)
    if session.get(Organisation, by_key) is not None:
        return by_key
    return session.scalars(
        select(Organisation.id).where(
            Organisation.type == OrgType.EU_BODY.value, func.lower(Organisation.short_name) == ENISA_KEY
        )
    ).first()


def not_reading(session: Session, incident: Incident, org_ids: Iterable[str]) -> list[str]:
    """Those organisations that do not read the incident now (as organisations)."""
    return [o for o in org_ids if not sharing.readable(session, sharing.org_reader(session, o), incident)]


def check_incident_widening(
    session: Session, *, org_id: str | None, incident: Incident, added: Sequence[str], on_behalf: str = ""
) -> None:
    """Refuse (403, naming why) when `org_id` may not let `added` read the incident (widening.refused_widening)."""
    if not added:
        return
    label = TLP(incident.tlp).label
    if incident.tlp == TLP.RED:
        raise PermissionDenied(
            f"the incident is {label}: it is read by named users only, never by organisations; its originator may "
            "change its marking, or inform without sharing the incident"
        )
    refused = widening.refused_widening(
        session, org_id=org_id, tlp=incident.tlp, owner_org_id=incident.owner_org_id, added=[(ORG, o) for o in added]
    )
    if refused:
        names = ", ".join(sorted(t for _, t in refused)[:5])
        raise PermissionDenied(
            f"only the originator widens who reads this incident ({label}){on_behalf}; these organisations may not "
            f"be added: {names}"
        )


def share_incident(
    session: Session,
    *,
    actor: Principal,
    incident: Incident,
    org_ids: Sequence[str],
    added_by: str | None,
    tag: str,
    summary: dict[str, Any],
) -> None:
    """Add organisations to the incident's share list (already checked) and record the step on the incident."""
    existing = {(s.kind, s.target) for s in sharing.shares_of(session, incident.id)}
    new = [o for o in org_ids if (ORG, o) not in existing]
    if new:
        sharing.write(session, object_id=incident.id, entries=[(ORG, o) for o in new], added_by=added_by)
    audit.record(session, actor=actor, tag=tag, object_id=incident.id, summary={**summary, "shared_with": new})


# --- Art. 23(6): informing other affected Member States and ENISA -------------------------------------------------


def inform_member_states(
    session: Session, *, actor: Principal, incident_id: str, data: InformIn
) -> MemberStateInformation:
    """Record that the actor's organisation informed other affected Member States and/or ENISA (NIS2 Art. 23(6))."""
    incident = get_incident(session, principal=actor, incident_id=incident_id)
    authority.authorize(
        actor,
        "incident.inform-member-states",
        incident_relations(session, actor, incident),
        held_at=incident.origin_node,
    )
    require_significant(incident, "NIS2 Art. 23(6)")
    org = organisation(session, actor.org_id)
    assert org is not None  # authorize found a relation, which needs the actor's organisation
    states = other_member_states(data.member_states, field="member_states", own=org.country)
    if not states and not data.enisa:
        raise bad("member_states", "name at least one other affected Member State, or inform ENISA")
    recipients = authorities_in(session, states, RECEIVING_TYPES, field="member_states")
    if data.enisa:
        enisa = enisa_org_id(session)
        if enisa is None:
            raise bad("enisa", f"ENISA (directory key '{ENISA_KEY}') is not in this node's directory")
        recipients = sorted({*recipients, enisa})
    newcomers = not_reading(session, incident, recipients) if data.share_incident else []
    check_incident_widening(session, org_id=actor.org_id, incident=incident, added=newcomers)
    # One event on the incident whether or not it is shared: the step shows on the incident's timeline.
    share_incident(
        session,
        actor=actor,
        incident=incident,
        org_ids=newcomers,
        added_by=actor.org_id,
        tag="incidents:incident:inform-member-states",
        summary={"member_states": states, "enisa": data.enisa},
    )
    now = utcnow()
    step = MemberStateInformation(
        id=new_id(INFORM_TYPE),
        owner_org_id=org.id,
        created_by_id=actor.user_id,
        tlp=STEP_TLP.value,
        exercise=incident.exercise,
        created_at=now,
        modified_at=now,
        incident_id=incident.id,
        member_states=states,
        enisa_informed=data.enisa,
        incident_shared=data.share_incident,
        recipient_org_ids=recipients,
        summary=data.summary,
        withheld_reason=data.withheld_reason,
        informed_at=now,
    )
    session.add(step)
    session.flush()
    # The step reaches its recipients and, when someone else informs, the organisation that recorded the incident.
    readers = sorted({*recipients, incident.owner_org_id} - {org.id})
    sharing.write(session, object_id=step.id, entries=[(ORG, o) for o in readers], added_by=org.id)
    audit.record(
        session,
        actor=actor,
        tag="incidents:nis2-information:create",
        object_id=step.id,
        summary={
            "incident": incident.id,
            "member_states": states,
            "enisa": data.enisa,
            "incident_shared": data.share_incident,
            "recipients": len(recipients),
            "withheld": bool(data.withheld_reason),
        },
    )
    _tell_informed(session, actor=actor, step=step, informer=org, org_ids=readers)
    return step


def _tell_informed(
    session: Session, *, actor: Principal, step: MemberStateInformation, informer: Organisation, org_ids: Sequence[str]
) -> None:
    """Tell the step's readers, with what the step itself carries (the incident's title only travels when the
    incident was shared with them)."""
    from cybercrisis.notify.service import notify_readers

    subject = f"[{TLP(step.tlp).label}] {informer.short_name} informs you of a significant incident (NIS2 Art. 23(6))"
    lines = [f"{informer.name} informs you of a significant incident under NIS2 Art. 23(6)."]
    if step.summary:
        lines.append(f"\n{step.summary}")
    if step.incident_shared:
        lines.append(f"\nThe incident is shared with you: {step.incident_id}")
    lines.append(f"\nRecord: {step.id}\nMarking: {TLP(step.tlp).label}")
    notify_readers(
        session,
        obj=step,
        event="incidents:nis2-information:create",
        org_ids=org_ids,
        subject=subject,
        body="\n".join(lines),
        payload={"information": step.id, "tlp": step.tlp},
        dedupe=f"inform:{step.id}",
        actor=actor,
    )


def to_inform(session: Session, *, principal: Principal, limit: int = 200) -> list[Incident]:
    """Significant incidents of the reader's Member State that concern two or more countries and have no Art. 23(6)
    step the reader can see, oldest awareness first. Exercise data is left out.

    "Concerns two or more Member States" (Art. 23(6)) is read here as two or more countries recorded on the
    incident: the deployment's rule, which the informer confirms by choosing the Member States to inform."""
    org = organisation(session, principal.org_id)
    if org is None:
        return []
    same_state = (
        Incident.owner_org_id.in_(select(Organisation.id).where(Organisation.country == org.country))
        if org.country
        else Incident.owner_org_id == org.id
    )
    countries = (
        select(func.count()).select_from(IncidentCountry).where(IncidentCountry.incident_id == Incident.id)
    ).scalar_subquery()
    informed = exists().where(
        MemberStateInformation.incident_id == Incident.id, read_filter(principal, MemberStateInformation)
    )
    query = (
        select(Incident)
        .where(
            read_filter(principal, Incident),
            same_state,
            Incident.significance == Significance.SIGNIFICANT.value,
            Incident.exercise.is_(False),
            countries >= 2,  # "two or more Member States"
            ~informed,
        )
        .order_by(Incident.aware_at, Incident.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def flows_of(
    session: Session, *, principal: Principal, incident_id: str
) -> tuple[list[MemberStateInformation], list[Forwarding]]:
    incident = get_incident(session, principal=principal, incident_id=incident_id)
    return flows_for(session, principal=principal, incident=incident)


def flows_for(
    session: Session, *, principal: Principal, incident: Incident
) -> tuple[list[MemberStateInformation], list[Forwarding]]:
    """The Art. 23(6) and 23(8) steps of an incident (which `principal` reads) that the reader may read.

    One statement for both, from the incident: an incident has a few of each, so their product stays small."""
    rows = session.execute(
        select(MemberStateInformation, Forwarding)
        .select_from(Incident)
        .outerjoin(
            MemberStateInformation,
            and_(MemberStateInformation.incident_id == Incident.id, read_filter(principal, MemberStateInformation)),
        )
        .outerjoin(Forwarding, and_(Forwarding.incident_id == Incident.id, read_filter(principal, Forwarding)))
        .where(Incident.id == incident.id)
    ).all()
    infos = {i.id: i for i, _ in rows if i is not None}
    fws = {f.id: f for _, f in rows if f is not None}
    return (
        sorted(infos.values(), key=lambda i: i.informed_at),
        sorted(fws.values(), key=lambda f: f.requested_at),
    )
