"""Asking for assistance: who may ask for a Member State, whom a request reaches (the Reserve, CSIRTs, crisis
authorities, communities), and the request itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.assistance.models import AssistanceRequest, RequestState, Urgency
from cybercrisis.assistance.schemas import RequestIn
from cybercrisis.assistance.service import (
    CERT_EU,
    ENTITY_TYPES,
    IMPACT_ORDER,
    NATIONAL_TYPES,
    POTENTIAL_IMPACT,
    REQUEST_CREATE,
    RESERVE_HANDLERS,
    RESERVE_USER_TYPES,
    RESPONSE_HOURS,
    SPILLOVER,
    bad,
    choice,
    needs_of,
    reserve_handlers,
)
from cybercrisis.audit import service as audit
from cybercrisis.crises.models import Crisis
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import CommunityMembership, Organisation, OrgType
from cybercrisis.errors import InvalidInput, NotFound, PermissionDenied
from cybercrisis.incidents.models import Incident
from cybercrisis.notify.service import notify_readers


def is_cert_eu(org: Organisation) -> bool:
    return org.id == org_id_for_key(CERT_EU)


def _requester(session: Session, actor: Principal, *, reserve: bool) -> Organisation:
    authority.authorize(actor, "assistance.request", ())
    org = session.get(Organisation, actor.org_id) if actor.org_id else None
    where = f"{org.short_name} ({org.type}, {org.country or 'no country'})" if org else "no organisation"
    if reserve:
        if org is not None and (is_cert_eu(org) or (org.type in RESERVE_USER_TYPES and org.country)):
            return org
        if org is not None and org.type == OrgType.SPOC:
            raise PermissionDenied(
                "the users of the EU Cybersecurity Reserve are the Member States' CSIRTs and cyber crisis management "
                "authorities and CERT-EU (Reg. (EU) 2025/38 Art. 14(3)); the single point of contact transmits their "
                "requests (Art. 15(3)(a)) but does not ask in its own name: let your CSIRT or crisis authority ask, "
                "then transmit the request"
            )
        raise PermissionDenied(
            "the users of the EU Cybersecurity Reserve are the Member States' CSIRTs and cyber crisis management "
            f"authorities and CERT-EU (Reg. (EU) 2025/38 Art. 14(3)); you act for {where}"
        )
    if org is None or org.type not in NATIONAL_TYPES or not org.country:
        raise PermissionDenied(
            "a Member State asks for assistance through its national CSIRT, SPOC, competent authority or crisis "
            f"authority; you act for {where}"
        )
    return org


def national_spocs(session: Session, country: str | None) -> list[str]:
    """The single points of contact of a Member State in this node's directory (NIS2 Art. 8(3))."""
    if not country:
        return []
    return list(
        session.scalars(
            select(Organisation.id)
            .where(Organisation.type == OrgType.SPOC.value, Organisation.country == country)
            .order_by(Organisation.id)
        )
    )


def _recipients(
    session: Session, *, org: Organisation, data: RequestIn, marking: TLP
) -> tuple[dict[str, Any], list[tuple[str, str]], list[str]]:
    """Check the addressees; return the stored recipients, the share entries and the organisations to notify."""
    chosen = data.recipients
    orgs = sorted(set(chosen.organisations) - {org.id})  # the requester reads its own request anyway
    communities = sorted(set(chosen.communities))
    handlers: list[str] = []
    spocs: list[str] = []
    if chosen.reserve:
        handlers = reserve_handlers(session)
        if not handlers:
            raise bad(
                "recipients.reserve",
                "no administrator of the EU Cybersecurity Reserve (the Commission, "
                f"ENISA: directory keys {', '.join(RESERVE_HANDLERS)}) is in this node's directory",
            )
        if not is_cert_eu(org):
            # Art. 15(3)(a): the SPOC transmits; until then the contracting authority does not receive the request.
            spocs = national_spocs(session, org.country)
            if not spocs:
                raise bad(
                    "recipients.reserve",
                    f"no single point of contact of {org.country} is in this node's "
                    "directory to transmit the request (Reg. (EU) 2025/38 Art. 15(3)(a))",
                )
            handlers = []
    if not orgs and not communities and not handlers and not spocs:
        raise bad(
            "recipients",
            "address the request to at least one other organisation or community, or to the EU Cybersecurity Reserve",
        )
    if marking == TLP.AMBER_STRICT and communities:
        raise bad(
            "recipients.communities",
            "TLP:AMBER+STRICT reaches named organisations only: name the "
            "organisations, or mark the request TLP:AMBER to address communities",
        )
    try:
        entries = sharing.resolve(
            session,
            tlp=marking,
            share_with=ShareWith(organisations=sorted(set(orgs) | set(handlers) | set(spocs)), communities=communities),
            owner_org_id=org.id,
            author_id=None,
        )
    except InvalidInput as exc:  # name the field of this request's body, not the generic share list
        raise InvalidInput(
            exc.detail,
            errors=[{**e, "field": str(e.get("field", "")).replace("share_with.", "recipients.")} for e in exc.errors],
        ) from None
    members = (
        set(
            session.scalars(
                select(CommunityMembership.org_id).where(CommunityMembership.community_slug.in_(communities))
            )
        )
        if communities
        else set()
    )
    notify = sorted((set(orgs) | set(handlers) | set(spocs) | members) - {org.id})
    stored = {"organisations": orgs, "communities": communities, "reserve": chosen.reserve}
    return stored, entries, notify


def _crisis(session: Session, actor: Principal, crisis_id: str | None) -> str | None:
    if not crisis_id:
        return None
    try:
        return sharing.get_readable(session, actor, Crisis, crisis_id).id
    except NotFound:
        raise bad("crisis", f"no crisis you may see with id {crisis_id}") from None


def _incidents(session: Session, actor: Principal, ids: Sequence[str]) -> list[str]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = set(session.scalars(select(Incident.id).where(Incident.id.in_(wanted), read_filter(actor, Incident))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise bad("incidents", f"no incident you may see with id {', '.join(missing)}")
    return wanted


def _incident_impact(session: Session, incident_ids: Sequence[str]) -> str | None:
    """The most severe impact severity among the linked incidents (NIS taxonomy), if any states one."""
    if not incident_ids:
        return None
    found = set(session.scalars(select(Incident.impact_severity).where(Incident.id.in_(incident_ids))))
    return next((v for v in IMPACT_ORDER if v in found), None)


def _impact(session: Session, data: RequestIn, incident_ids: Sequence[str]) -> str:
    """The incident's impact severity: as stated, else the linked incidents' (Reg. (EU) 2025/38 Art. 16 weighs the
    severity of the incident among its prioritisation criteria)."""
    valid = taxonomies.predicate_values("nis", "impact-severity")
    if data.impact is not None:
        return choice("impact", data.impact, valid)
    derived = _incident_impact(session, incident_ids)
    if derived is None:
        raise bad(
            "impact",
            f"give the incident's impact severity, or link an incident that states one; valid: {', '.join(valid)}",
            valid=list(valid),
        )
    return derived


def create_request(
    session: Session, *, actor: Principal, data: RequestIn, response_hours: int = RESPONSE_HOURS
) -> AssistanceRequest:
    """Ask for assistance on behalf of the actor's Member State; everything is checked before anything is written.

    A request to the Reserve states the measures already taken (Reg. (EU) 2025/38 Art. 15(2): a precondition of
    support) and the affected entity; a CERT-EU request is transmitted at once (Art. 15(3)(b)), a Member State
    user's waits for its SPOC (Art. 15(3)(a), see transmit_request)."""
    org = _requester(session, actor, reserve=data.recipients.reserve)
    needs = needs_of(data.needs)
    urgency = choice("urgency", data.urgency, [u.value for u in Urgency])
    entity_type = choice("entity_type", data.entity_type, ENTITY_TYPES)
    # Not assessed is stored as "" (the ranking places an unstated value after every stated one).
    severities = taxonomies.predicate_values("nis", "nature-severity")
    severity = choice("severity", data.severity, severities) if data.severity else ""
    spillover = choice("spillover", data.spillover, SPILLOVER) if data.spillover else ""
    potential = choice("potential_impact", data.potential_impact, POTENTIAL_IMPACT) if data.potential_impact else None
    if data.recipients.reserve:
        if not data.measures_taken.strip():
            raise bad(
                "measures_taken",
                "state the measures already taken to mitigate the incident: Reserve support "
                "requires them (Reg. (EU) 2025/38 Art. 15(2))",
            )
        if not data.affected_entity.strip():
            raise bad(
                "affected_entity",
                "name the affected entity: a request for Reserve support includes it (Reg. (EU) 2025/38 Art. 15)",
            )
    marking = sharing.parse_tlp(data.tlp)
    if marking == TLP.RED:
        raise bad("tlp", "a request must reach its recipients; use AMBER+STRICT to name them")
    recipients, entries, notify = _recipients(session, org=org, data=data, marking=marking)
    crisis_id = _crisis(session, actor, data.crisis)
    incident_ids = _incidents(session, actor, data.incidents)
    impact = _impact(session, data, incident_ids)
    now = utcnow()
    self_transmitted = data.recipients.reserve and is_cert_eu(org)
    req = AssistanceRequest(
        id=new_id("assistance-request"),
        owner_org_id=org.id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        exercise=data.exercise,
        country=org.country,
        crisis_id=crisis_id,
        incident_ids=incident_ids,
        needs=needs,
        description=data.description,
        affected_entity=data.affected_entity,
        entity_type=entity_type,
        impact=impact,
        severity=severity,
        spillover=spillover,
        measures_taken=data.measures_taken,
        other_support=data.other_support,
        urgency=urgency,
        recipients=recipients,
        state=RequestState.OPEN.value,
        created_at=now,
        modified_at=now,
        potential_impact=potential,
    )
    if self_transmitted:
        req.transmitted_by_org_id, req.transmitted_by_id, req.transmitted_at = org.id, actor.user_id, now
        req.response_due_at = now + timedelta(hours=response_hours)
    session.add(req)
    session.flush()
    sharing.write(session, object_id=req.id, entries=entries, added_by=org.id)
    audit.record(
        session,
        actor=actor,
        tag=REQUEST_CREATE,
        object_id=req.id,
        summary={
            "country": org.country,
            "needs": needs,
            "urgency": urgency,
            "tlp": marking.value,
            "reserve": recipients["reserve"],
            "recipients": len(entries),
            "crisis": crisis_id,
            "incidents": len(incident_ids),
            "impact": impact,
            "transmitted": bool(req.transmitted_at),
        },
    )
    announce(session, req, notify, actor=actor)
    return req


def announce(session: Session, req: AssistanceRequest, org_ids: list[str], *, actor: Principal | None = None) -> None:
    """Tell the organisations among `org_ids` that may read the request, through their routes on this node: when it
    is made, and when it arrives here from its origin node (a replica, ADR 0013). Once per request."""
    # Every notified organisation is a recipient and may read the request: a short summary is fine.
    org = session.get(Organisation, req.owner_org_id)
    name, country = (org.short_name, org.country) if org is not None else (req.owner_org_id, req.country)
    marking = TLP(req.tlp)
    needs, reserve = list(req.needs), bool((req.recipients or {}).get("reserve"))
    subject = f"[{marking.label}] Assistance requested by {name} ({country}): {', '.join(needs)} ({req.urgency})"
    body = (
        f"{name} ({country}) asks for assistance.\n\nNeeds: {', '.join(needs)}\nUrgency: {req.urgency}\n"
        f"Incident impact severity: {req.impact}; entity type: {req.entity_type}\n"
        f"{'Addressed to the EU Cybersecurity Reserve.' if reserve else ''}\n"
        f"Request: {req.id}\nMarking: {marking.label}\n"
    )
    notify_readers(
        session,
        obj=req,
        event=REQUEST_CREATE,
        org_ids=org_ids,
        subject=subject,
        body=body,
        payload={
            "request": req.id,
            "needs": needs,
            "urgency": req.urgency,
            "country": country,
            "tlp": marking.value,
            "reserve": reserve,
        },
        dedupe=f"{REQUEST_CREATE}:{req.id}",
        actor=actor,
    )
