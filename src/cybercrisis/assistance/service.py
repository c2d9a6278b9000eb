"""Mutual assistance (Cyber Solidarity Act; CSIRTs Network): requests, offers, deployment to closure, and the
capability catalogue that requests are matched against (ADR 0007).

A Member State's national organisation asks for help, addressed to chosen organisations and communities and/or
the EU Cybersecurity Reserve. Reserve users are the Member States' CSIRTs and cyber crisis management authorities
and CERT-EU (Reg. (EU) 2025/38 Art. 14(3)); a Member State user's request reaches the contracting authority only
once its single point of contact has transmitted it (Art. 15(3)(a)), CERT-EU transmits its own (Art. 15(3)(b)).
Whoever may read the request offers; offers are bilateral (TLP:AMBER+STRICT, shared with the requester only), so
recipients never see competing offers. The requester accepts or declines offers, says when support ended, and
records the summary report (due CYBERCRISIS_RESERVE_SUMMARY_MONTHS later: the deployment's rule, see config.py).
Every change is audited; every notification goes through the outbox in the caller's transaction.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from cybercrisis import taxonomies
from cybercrisis.access import authority, sharing
from cybercrisis.access.models import Share
from cybercrisis.access.policy import ORG, read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.access.schemas import ShareWith
from cybercrisis.access.tlp import TLP
from cybercrisis.assistance.models import AssistanceRequest, Capability, Need, Offer, OfferState, RequestState, Urgency
from cybercrisis.assistance.schemas import CapabilityIn, CapabilityPatch, OfferIn, RequestIn
from cybercrisis.audit import service as audit
from cybercrisis.crises.models import Crisis
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import CommunityMembership, Organisation, OrgType
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.incidents.models import Incident
from cybercrisis.notify.service import notify_readers
from cybercrisis.pagination import Page, cursor_time, decode_cursor, encode_cursor

# The EU Cybersecurity Reserve (Cyber Solidarity Act) is administered by the Commission, with ENISA; a request to
# the Reserve reaches them. These are directory keys (deterministic organisation ids through org_id_for_key), so
# the same list holds on every node; only those present in this node's directory become recipients.
RESERVE_HANDLERS = ("ec-dg-connect", "enisa")
# The organisations that speak for a Member State (DOMAIN.md): they ask for assistance on its behalf.
NATIONAL_TYPES = frozenset(
    {OrgType.NATIONAL_CSIRT, OrgType.SPOC, OrgType.COMPETENT_AUTHORITY, OrgType.CRISIS_AUTHORITY}
)
# Reg. (EU) 2025/38 Art. 14(3)(a): the Member States' CSIRTs and cyber crisis management authorities; point (b):
# CERT-EU (directory key). Point (c), authorities of DEP-associated third countries, is not modelled here.
RESERVE_USER_TYPES = frozenset({OrgType.NATIONAL_CSIRT, OrgType.CRISIS_AUTHORITY})
CERT_EU = "cert-eu"
POTENTIAL_IMPACT = ["high", "medium", "low"]
IMPACT_ORDER = ["red", "yellow", "green", "white"]  # NIS taxonomy impact-severity, most severe first
ENTITY_TYPES = ["essential", "important"]
SPILLOVER = ["high", "medium", "low", "none"]
NEEDS = [n.value for n in Need]
# Offers stay possible while no offer was accepted; more can be accepted while support is under way.
DECIDABLE = (RequestState.OPEN.value, RequestState.IN_SUPPORT.value)
# Fallbacks for callers without settings. Both are the deployment's rules (Settings.reserve_summary_months,
# Settings.reserve_response_hours): the final text's periods were not verified here, see config.py.
SUMMARY_MONTHS = 1
RESPONSE_HOURS = 48
REMIND_BEFORE = timedelta(days=7)  # the deployment's (Settings.assistance_remind_days)
CLOCK_SKEW = timedelta(minutes=5)
MATCHES_LIMIT = 50

REQUEST_CREATE = "assistance:request:create"
REQUEST_WITHDRAW = "assistance:request:withdraw"
REQUEST_TRANSMIT = "assistance:request:transmit"
REQUEST_SUPPORT_ENDED = "assistance:request:support-ended"
REQUEST_SUMMARY = "assistance:request:summary"
OFFER_CREATE = "assistance:offer:create"
OFFER_ACCEPT = "assistance:offer:accept"
OFFER_DECLINE = "assistance:offer:decline"
OFFER_WITHDRAW = "assistance:offer:withdraw"
SUMMARY_DUE = "assistance:summary:due"
CAPABILITY_CREATE = "assistance:capability:create"
CAPABILITY_UPDATE = "assistance:capability:update"
CAPABILITY_DELETE = "assistance:capability:delete"


def _bad(field: str, message: str, **extra: Any) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message, **extra}])


def _choice(field: str, value: str, valid: Sequence[str]) -> str:
    if value not in valid:
        raise _bad(field, f"'{value}' is not valid for {field}; valid: {', '.join(valid)}", valid=list(valid))
    return value


def _aware(field: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise _bad(field, "give a time zone, e.g. 2026-11-28T08:00:00Z")
    return value


def months_after(t: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months later, clamped to the month's last day (31 January + 1 ->
    28/29 February): the summary report's period is counted in calendar months, not in days."""
    index = t.month - 1 + months
    year, month = t.year + index // 12, index % 12 + 1
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


def one_month_after(t: datetime) -> datetime:
    return months_after(t, 1)


def needs_of(values: Sequence[str], *, field: str = "needs") -> list[str]:
    """Valid, distinct needs in the order given; at least one."""
    if not values:
        raise _bad(field, f"name at least one need; valid: {', '.join(NEEDS)}", valid=NEEDS)
    bad = [v for v in values if v not in NEEDS]
    if bad:
        raise _bad(field, f"not a need: {', '.join(bad)}; valid: {', '.join(NEEDS)}", valid=NEEDS)
    return list(dict.fromkeys(values))


def reserve_handlers(session: Session) -> list[str]:
    """The ids of the Reserve's administrators present in this node's directory."""
    ids = [org_id_for_key(key) for key in RESERVE_HANDLERS]
    found = set(session.scalars(select(Organisation.id).where(Organisation.id.in_(ids))))
    return [i for i in ids if i in found]


def org_names(session: Session, org_ids: Sequence[str]) -> dict[str, str]:
    """Short names of organisations, in one query."""
    wanted = sorted(set(org_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Organisation.id, Organisation.short_name).where(Organisation.id.in_(wanted)))
    return {row.id: row.short_name for row in rows}


def _name(session: Session, org_id: str) -> str:
    return org_names(session, [org_id]).get(org_id, org_id)


# --- requests -----------------------------------------------------------------------------------------------


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
            raise _bad(
                "recipients.reserve",
                "no administrator of the EU Cybersecurity Reserve (the Commission, "
                f"ENISA: directory keys {', '.join(RESERVE_HANDLERS)}) is in this node's directory",
            )
        if not is_cert_eu(org):
            # Art. 15(3)(a): the SPOC transmits; until then the contracting authority does not receive the request.
            spocs = national_spocs(session, org.country)
            if not spocs:
                raise _bad(
                    "recipients.reserve",
                    f"no single point of contact of {org.country} is in this node's "
                    "directory to transmit the request (Reg. (EU) 2025/38 Art. 15(3)(a))",
                )
            handlers = []
    if not orgs and not communities and not handlers and not spocs:
        raise _bad(
            "recipients",
            "address the request to at least one other organisation or community, or to the EU Cybersecurity Reserve",
        )
    if marking == TLP.AMBER_STRICT and communities:
        raise _bad(
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
        raise _bad("crisis", f"no crisis you may see with id {crisis_id}") from None


def _incidents(session: Session, actor: Principal, ids: Sequence[str]) -> list[str]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    found = set(session.scalars(select(Incident.id).where(Incident.id.in_(wanted), read_filter(actor, Incident))))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise _bad("incidents", f"no incident you may see with id {', '.join(missing)}")
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
        return _choice("impact", data.impact, valid)
    derived = _incident_impact(session, incident_ids)
    if derived is None:
        raise _bad(
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
    urgency = _choice("urgency", data.urgency, [u.value for u in Urgency])
    entity_type = _choice("entity_type", data.entity_type, ENTITY_TYPES)
    severity = _choice("severity", data.severity, taxonomies.predicate_values("nis", "nature-severity"))
    spillover = _choice("spillover", data.spillover, SPILLOVER)
    potential = _choice("potential_impact", data.potential_impact, POTENTIAL_IMPACT) if data.potential_impact else None
    if data.recipients.reserve:
        if not data.measures_taken.strip():
            raise _bad(
                "measures_taken",
                "state the measures already taken to mitigate the incident: Reserve support "
                "requires them (Reg. (EU) 2025/38 Art. 15(2))",
            )
        if not data.affected_entity.strip():
            raise _bad(
                "affected_entity",
                "name the affected entity: a request for Reserve support includes it (Reg. (EU) 2025/38 Art. 15)",
            )
    marking = sharing.parse_tlp(data.tlp)
    if marking == TLP.RED:
        raise _bad("tlp", "a request must reach its recipients; use AMBER+STRICT to name them")
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
    # Every notified organisation is a recipient and may read the request: a short summary is fine.
    subject = (
        f"[{marking.label}] Assistance requested by {org.short_name} ({org.country}): {', '.join(needs)} ({urgency})"
    )
    body = (
        f"{org.short_name} ({org.country}) asks for assistance.\n\nNeeds: {', '.join(needs)}\nUrgency: {urgency}\n"
        f"Incident impact severity: {impact}; entity type: {entity_type}\n"
        f"{'Addressed to the EU Cybersecurity Reserve.' if recipients['reserve'] else ''}\n"
        f"Request: {req.id}\nMarking: {marking.label}\n"
    )
    notify_readers(
        session,
        obj=req,
        event=REQUEST_CREATE,
        org_ids=notify,
        subject=subject,
        body=body,
        payload={
            "request": req.id,
            "needs": needs,
            "urgency": urgency,
            "country": org.country,
            "tlp": marking.value,
            "reserve": recipients["reserve"],
        },
        dedupe=f"{REQUEST_CREATE}:{req.id}",
        actor=actor,
    )
    return req


def get_request(session: Session, actor: Principal, request_id: str) -> AssistanceRequest:
    return sharing.get_readable(session, actor, AssistanceRequest, request_id)


def _lock(session: Session, actor: Principal, request_id: str) -> AssistanceRequest:
    """The request, readable by the actor, held until commit (PostgreSQL: FOR UPDATE; SQLite: BEGIN IMMEDIATE) so
    that concurrent offers, decisions and state changes see each other's writes (ADR 0007)."""
    req = session.scalars(
        select(AssistanceRequest)
        .where(AssistanceRequest.id == request_id, read_filter(actor, AssistanceRequest))
        .with_for_update(of=AssistanceRequest)
        .execution_options(populate_existing=True)
    ).first()
    if req is None:
        raise NotFound(f"no assistance-request with id {request_id}")
    return req


def _as_requester(session: Session, actor: Principal, request_id: str) -> AssistanceRequest:
    req = _lock(session, actor, request_id)
    authority.authorize(actor, "assistance.request.manage", authority.owned(actor, req.owner_org_id))
    return req


def list_requests(
    session: Session,
    *,
    reader: Principal,
    state: str | None = None,
    crisis: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[AssistanceRequest]:
    """Requests the reader may see, newest first, in keyset pages."""
    q = select(AssistanceRequest).where(read_filter(reader, AssistanceRequest))
    if state:
        q = q.where(AssistanceRequest.state == _choice("state", state, [s.value for s in RequestState]))
    if crisis:
        q = q.where(AssistanceRequest.crisis_id == crisis)
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(
            tuple_(AssistanceRequest.created_at, AssistanceRequest.id) < tuple_(cursor_time(after[0]), after[1])
        )
    rows = list(
        session.scalars(q.order_by(AssistanceRequest.created_at.desc(), AssistanceRequest.id.desc()).limit(limit + 1))
    )
    nxt = encode_cursor([rows[limit - 1].created_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    return Page(items=rows[:limit], next=nxt)


def reserve_queue(session: Session, *, reader: Principal, limit: int = 500) -> list[AssistanceRequest]:
    """Open or in-support requests addressed to the Reserve that the reader may see (to be ranked)."""
    return list(
        session.scalars(
            select(AssistanceRequest)
            .where(
                read_filter(reader, AssistanceRequest),
                AssistanceRequest.state.in_(DECIDABLE),
                AssistanceRequest.recipients["reserve"].as_boolean().is_(True),
                AssistanceRequest.transmitted_at.is_not(None),  # Art. 15(3): assessed once transmitted
            )
            .order_by(AssistanceRequest.created_at, AssistanceRequest.id)
            .limit(limit)
        )
    )


def visible_offers(session: Session, reader: Principal, request_ids: Sequence[str]) -> dict[str, list[Offer]]:
    """The offers of several requests that the reader may see (requester: all; offerer: its own), in one query."""
    out: dict[str, list[Offer]] = {i: [] for i in request_ids}
    if request_ids:
        for o in session.scalars(
            select(Offer)
            .where(Offer.request_id.in_(sorted(set(request_ids))), read_filter(reader, Offer))
            .order_by(Offer.created_at, Offer.id)
        ):
            out[o.request_id].append(o)
    return out


def matches(session: Session, reader: Principal, req: AssistanceRequest) -> list[Capability]:
    """Active catalogue entries the reader may see whose kind the request needs: shortest notice, most people."""
    return list(
        session.scalars(
            select(Capability)
            .where(read_filter(reader, Capability), Capability.kind.in_(req.needs), Capability.active.is_(True))
            .order_by(Capability.notice_hours, Capability.people.desc(), Capability.id)
            .limit(MATCHES_LIMIT)
        )
    )


def transmit_request(
    session: Session, *, actor: Principal, request_id: str, response_hours: int = RESPONSE_HOURS
) -> AssistanceRequest:
    """The requester's single point of contact transmits a Reserve request to the contracting authority (Reg. (EU)
    2025/38 Art. 15(3)(a)): the Reserve's administrators then read it and are told; the response is due within
    `response_hours` of the transmission (the deployment's target, Settings.reserve_response_hours)."""
    req = _lock(session, actor, request_id)
    authority.authorize(actor, "assistance.request.transmit", authority.owned(actor, req.owner_org_id))
    org = session.get(Organisation, actor.org_id) if actor.org_id else None
    if org is None or org.type != OrgType.SPOC or not req.country or org.country != req.country:
        where = f"{org.short_name} ({org.type}, {org.country or 'no country'})" if org else "no organisation"
        raise PermissionDenied(
            f"only a single point of contact of {req.country or 'the requester'}'s Member State transmits this "
            f"request (Reg. (EU) 2025/38 Art. 15(3)(a)); you act for {where}"
        )
    if not req.recipients.get("reserve"):
        raise Conflict("the request is not addressed to the EU Cybersecurity Reserve; there is nothing to transmit")
    if req.transmitted_at is not None:
        raise Conflict(f"the request was transmitted on {req.transmitted_at.isoformat()}")
    if req.state != RequestState.OPEN:
        raise Conflict(f"the request is {req.state}; only an open request is transmitted")
    handlers = reserve_handlers(session)
    if not handlers:
        raise _bad("recipients.reserve", "no administrator of the EU Cybersecurity Reserve is in this node's directory")
    now = utcnow()
    req.transmitted_by_org_id, req.transmitted_by_id, req.transmitted_at = org.id, actor.user_id, now
    req.response_due_at = now + timedelta(hours=response_hours)
    req.modified_at = now
    session.flush()
    # Widening to the contracting authority is the Act's own route (Art. 15(3)), not a choice of the SPOC.
    sharing.write(session, object_id=req.id, entries=[(ORG, h) for h in handlers], added_by=org.id)
    audit.record(
        session,
        actor=actor,
        tag=REQUEST_TRANSMIT,
        object_id=req.id,
        summary={
            "transmitted_by": org.id,
            "country": org.country,
            "to": handlers,
            "response_due_at": req.response_due_at.isoformat(),
        },
    )
    who, requester = org.short_name, _name(session, req.owner_org_id)
    notify_readers(
        session,
        obj=req,
        event=REQUEST_TRANSMIT,
        org_ids=handlers,
        subject=f"[{TLP(req.tlp).label}] Request for Reserve support from {requester} ({req.country}), "
        f"transmitted by {who}",
        body=(
            f"{who} transmitted {requester}'s request for EU Cybersecurity Reserve support "
            "(Reg. (EU) 2025/38 Art. 15(3)(a)).\nA response is expected by "
            f"{req.response_due_at.isoformat()} (this deployment's target).\nRequest: {req.id}\n"
        ),
        payload={"request": req.id, "transmitted_by": org.id, "response_due_at": req.response_due_at.isoformat()},
        dedupe=f"{REQUEST_TRANSMIT}:{req.id}",
        actor=actor,
    )
    return req


def withdraw_request(session: Session, *, actor: Principal, request_id: str) -> AssistanceRequest:
    """The requester withdraws an open request; pending offers are withdrawn with it and their offerers told."""
    req = _as_requester(session, actor, request_id)
    if req.state != RequestState.OPEN:
        raise Conflict(f"the request is {req.state}; only an open request is withdrawn")
    now = utcnow()
    pending = list(
        session.scalars(select(Offer).where(Offer.request_id == req.id, Offer.state == OfferState.OFFERED.value))
    )
    req.state = RequestState.WITHDRAWN.value
    req.modified_at = now
    for o in pending:
        o.state = OfferState.WITHDRAWN.value
        o.modified_at = now
    session.flush()
    # The request's event says nothing about offers: other recipients do not learn that there were any.
    audit.record(session, actor=actor, tag=REQUEST_WITHDRAW, object_id=req.id, summary={"state": req.state})
    for o in pending:
        audit.record(
            session,
            actor=actor,
            tag=OFFER_WITHDRAW,
            object_id=o.id,
            summary={"request": req.id, "state": o.state, "reason": "request-withdrawn"},
        )
    who = _name(session, req.owner_org_id)
    for o in pending:
        # About the offer too, which the offerer reads whatever became of its access to the request.
        notify_readers(
            session,
            obj=o,
            event=REQUEST_WITHDRAW,
            org_ids=[o.owner_org_id],
            subject=f"[{TLP(req.tlp).label}] {who} withdrew its request for assistance",
            body=f"{who} withdrew request {req.id}; your offer {o.id} ({o.capability}) is withdrawn with it.\n",
            object_id=req.id,
            payload={"request": req.id, "offer": o.id, "state": req.state},
            dedupe=f"{REQUEST_WITHDRAW}:{req.id}:{o.id}",
            actor=actor,
        )
    return req


def end_support(
    session: Session,
    *,
    actor: Principal,
    request_id: str,
    ended_at: datetime | None = None,
    summary_months: int = SUMMARY_MONTHS,
) -> AssistanceRequest:
    """Support has ended: the summary report is due `summary_months` calendar months later (the deployment's rule,
    Settings.reserve_summary_months)."""
    req = _as_requester(session, actor, request_id)
    if req.state != RequestState.IN_SUPPORT:
        raise Conflict(f"the request is {req.state}; support ends only while the request is in support")
    now = utcnow()
    ended = _aware("ended_at", ended_at) if ended_at is not None else now
    if ended > now + CLOCK_SKEW:
        raise _bad("ended_at", "support cannot end in the future")
    if req.support_started_at is not None and ended < req.support_started_at:
        raise _bad("ended_at", f"support started at {req.support_started_at.isoformat()}; it cannot end before")
    req.state = RequestState.SUPPORT_ENDED.value
    req.support_ended_at = ended
    req.summary_due_at = months_after(ended, summary_months)
    req.modified_at = now
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=REQUEST_SUPPORT_ENDED,
        object_id=req.id,
        summary={
            "state": req.state,
            "ended_at": ended.isoformat(),
            "summary_months": summary_months,
            "summary_due_at": req.summary_due_at.isoformat(),
        },
    )
    return req


def record_summary(session: Session, *, actor: Principal, request_id: str, report: str) -> AssistanceRequest:
    """The requester records the summary report; the request is closed."""
    req = _as_requester(session, actor, request_id)
    if req.state != RequestState.SUPPORT_ENDED:
        raise Conflict(f"the request is {req.state}; the summary report is recorded after support ended")
    text = report.strip()
    if not text:
        raise _bad("report", "the summary report is empty")
    now = utcnow()
    req.state = RequestState.CLOSED.value
    req.summary_report = text
    req.summary_at = now
    req.modified_at = now
    session.flush()
    audit.record(
        session, actor=actor, tag=REQUEST_SUMMARY, object_id=req.id, summary={"state": req.state, "chars": len(text)}
    )
    return req


# --- offers -------------------------------------------------------------------------------------------------


def _offer_of(session: Session, actor: Principal, req: AssistanceRequest, offer_id: str) -> Offer:
    """An offer of this request that the actor may see; anything else is not found."""
    offer = sharing.get_readable(session, actor, Offer, offer_id)
    if offer.request_id != req.id:
        raise NotFound(f"no assistance-offer with id {offer_id}")
    return offer


def get_offer(session: Session, actor: Principal, request_id: str, offer_id: str) -> Offer:
    return _offer_of(session, actor, get_request(session, actor, request_id), offer_id)


def _catalogue_entry(session: Session, actor: Principal, capability_id: str, kind: str) -> str:
    try:
        cap = sharing.get_readable(session, actor, Capability, capability_id)
    except NotFound:
        raise _bad("capability_id", f"no catalogue entry you may see with id {capability_id}") from None
    if cap.owner_org_id != actor.org_id:
        raise _bad("capability_id", "offer from your own organisation's catalogue only")
    if cap.kind != kind:
        raise _bad("capability_id", f"the catalogue entry is {cap.kind}, the offer {kind}")
    if not cap.active:
        raise _bad("capability_id", "the catalogue entry is not active")
    return cap.id


def make_offer(session: Session, *, actor: Principal, request_id: str, data: OfferIn) -> Offer:
    """Offer help on a request the actor may read. The offer is TLP:AMBER+STRICT, shared with the requester only."""
    req = _lock(session, actor, request_id)
    authority.authorize(actor, "assistance.offer", authority.owned(actor, req.owner_org_id))
    assert actor.org_id is not None  # a recipient organisation: owned() gave none to an actor without one
    if req.state != RequestState.OPEN:
        raise Conflict(f"the request is {req.state}; offers are closed")
    capability = _choice("capability", data.capability, NEEDS)
    if capability not in req.needs:
        raise _bad(
            "capability", f"the request asks for {', '.join(req.needs)}; offer one of them", valid=list(req.needs)
        )
    available_from = _aware("available_from", data.available_from)
    capability_id = _catalogue_entry(session, actor, data.capability_id, capability) if data.capability_id else None
    now = utcnow()
    offer = Offer(
        id=new_id("assistance-offer"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=TLP.AMBER_STRICT.value,
        exercise=req.exercise,
        request_id=req.id,
        capability=capability,
        capability_id=capability_id,
        people=data.people,
        available_from=available_from,
        conditions=data.conditions,
        state=OfferState.OFFERED.value,
        created_at=now,
        modified_at=now,
    )
    session.add(offer)
    session.flush()
    # Bilateral: the offerer (owner) and the requester read it; other recipients do not see competing offers.
    sharing.write(session, object_id=offer.id, entries=[(ORG, req.owner_org_id)], added_by=actor.org_id)
    audit.record(
        session,
        actor=actor,
        tag=OFFER_CREATE,
        object_id=offer.id,
        summary={"request": req.id, "capability": capability, "people": data.people, "catalogue_entry": capability_id},
    )
    who = _name(session, actor.org_id)
    notify_readers(
        session,
        obj=offer,
        actor=actor,
        event=OFFER_CREATE,
        org_ids=[req.owner_org_id],
        subject=f"[{TLP.AMBER_STRICT.label}] {who} offers {capability} ({data.people} people)",
        body=(
            f"{who} offers {capability}: {data.people} people from {available_from.isoformat()}.\n\n"
            f"Request: {req.id}\nOffer: {offer.id}\nMarking: {TLP.AMBER_STRICT.label}\n"
        ),
        payload={
            "request": req.id,
            "offer": offer.id,
            "capability": capability,
            "people": data.people,
            "offerer": actor.org_id,
        },
        dedupe=f"{OFFER_CREATE}:{offer.id}",
    )
    return offer


def decide_offer(
    session: Session, *, actor: Principal, request_id: str, offer_id: str, accept: bool, comment: str = ""
) -> Offer:
    """The requester accepts or declines an offered offer. The first acceptance puts the request in support;
    several offers may be accepted (several teams may deploy)."""
    req = _lock(session, actor, request_id)
    offer = _offer_of(session, actor, req, offer_id)
    authority.authorize(actor, "assistance.offer.decide", authority.owned(actor, req.owner_org_id))
    if offer.state != OfferState.OFFERED:
        raise Conflict(f"the offer is {offer.state}; only an offer still offered is accepted or declined")
    if req.state not in DECIDABLE:
        raise Conflict(f"the request is {req.state}; offers are decided while it is open or in support")
    now = utcnow()
    offer.state = (OfferState.ACCEPTED if accept else OfferState.DECLINED).value
    offer.decided_at = offer.modified_at = now
    offer.decided_by_id = actor.user_id
    offer.decision_comment = comment.strip()
    if accept and req.state == RequestState.OPEN:
        req.state = RequestState.IN_SUPPORT.value
        req.support_started_at = req.modified_at = now
    session.flush()
    tag = OFFER_ACCEPT if accept else OFFER_DECLINE
    audit.record(
        session,
        actor=actor,
        tag=tag,
        object_id=offer.id,
        summary={"request": req.id, "state": offer.state, "request_state": req.state},
    )
    who = _name(session, req.owner_org_id)
    verb = "accepted" if accept else "declined"
    notify_readers(
        session,
        obj=offer,
        actor=actor,
        event=tag,
        org_ids=[offer.owner_org_id],
        subject=f"[{TLP(offer.tlp).label}] {who} {verb} your offer of {offer.capability}",
        body=(
            f"{who} {verb} your offer {offer.id} ({offer.capability}, {offer.people} people).\n"
            + (f"Comment: {offer.decision_comment}\n" if offer.decision_comment else "")
            + f"\nRequest: {req.id}\nMarking: {TLP(offer.tlp).label}\n"
        ),
        payload={"request": req.id, "offer": offer.id, "state": offer.state},
        dedupe=f"{tag}:{offer.id}",
    )
    return offer


def withdraw_offer(session: Session, *, actor: Principal, request_id: str, offer_id: str) -> Offer:
    """The offering organisation withdraws its offer while it is still offered; the requester is told."""
    req = _lock(session, actor, request_id)
    offer = _offer_of(session, actor, req, offer_id)
    authority.authorize(actor, "assistance.offer.withdraw", authority.owned(actor, offer.owner_org_id))
    if offer.state != OfferState.OFFERED:
        raise Conflict(f"the offer is {offer.state}; only an offer still offered is withdrawn")
    offer.state = OfferState.WITHDRAWN.value
    offer.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=OFFER_WITHDRAW,
        object_id=offer.id,
        summary={"request": req.id, "state": offer.state, "reason": "offerer"},
    )
    who = _name(session, offer.owner_org_id)
    notify_readers(
        session,
        obj=offer,
        actor=actor,
        event=OFFER_WITHDRAW,
        org_ids=[req.owner_org_id],
        subject=f"[{TLP(offer.tlp).label}] {who} withdrew its offer of {offer.capability}",
        body=f"{who} withdrew offer {offer.id} on request {req.id}.\n",
        payload={"request": req.id, "offer": offer.id, "state": offer.state},
        dedupe=f"{OFFER_WITHDRAW}:{offer.id}",
    )
    return offer


# --- the capability catalogue -------------------------------------------------------------------------------


def get_capability(session: Session, actor: Principal, capability_id: str) -> Capability:
    return sharing.get_readable(session, actor, Capability, capability_id)


def create_capability(session: Session, *, actor: Principal, data: CapabilityIn) -> Capability:
    """Publish a catalogue entry: what the organisation can offer, how many people, at what notice."""
    authority.authorize(actor, "capability.create", ())
    if actor.org_id is None:
        raise PermissionDenied("a catalogue entry belongs to an organisation; you act for none")
    kind = _choice("kind", data.kind, NEEDS)
    if not data.title:
        raise _bad("title", "give the entry a title")
    marking = sharing.parse_tlp(data.tlp)
    entries = sharing.resolve(
        session, tlp=marking, share_with=data.share_with, owner_org_id=actor.org_id, author_id=actor.user_id
    )
    now = utcnow()
    cap = Capability(
        id=new_id("capability"),
        owner_org_id=actor.org_id,
        created_by_id=actor.user_id,
        tlp=marking.value,
        kind=kind,
        title=data.title,
        description=data.description,
        notice_hours=data.notice_hours,
        people=data.people,
        active=True,
        created_at=now,
        modified_at=now,
    )
    session.add(cap)
    session.flush()
    sharing.write(session, object_id=cap.id, entries=entries, added_by=actor.org_id)
    audit.record(
        session,
        actor=actor,
        tag=CAPABILITY_CREATE,
        object_id=cap.id,
        summary={"kind": kind, "tlp": marking.value, "recipients": len(entries)},
    )
    return cap


def _own_capability(session: Session, actor: Principal, capability_id: str) -> Capability:
    cap = get_capability(session, actor, capability_id)
    authority.authorize(actor, "capability.manage", authority.owned(actor, cap.owner_org_id))
    return cap


def update_capability(session: Session, *, actor: Principal, capability_id: str, patch: CapabilityPatch) -> Capability:
    cap = _own_capability(session, actor, capability_id)
    if cap.version != patch.version:
        raise Conflict(
            f"the entry changed since you read it (version {patch.version}, now {cap.version}): "
            "reload and apply your change again"
        )
    changes = patch.model_dump(exclude_unset=True, exclude={"version"})
    for key, value in changes.items():
        if value is None:
            raise _bad(key, f"{key} cannot be null; leave it out to keep it")
    if "kind" in changes:
        _choice("kind", changes["kind"], NEEDS)
    changed = sorted(k for k, v in changes.items() if getattr(cap, k) != v)
    if not changed:
        return cap  # nothing changed: no new version
    for key in changed:
        setattr(cap, key, changes[key])
    cap.modified_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag=CAPABILITY_UPDATE,
        object_id=cap.id,
        summary={"fields": changed, "version": cap.version, "active": cap.active},
    )
    return cap


def delete_capability(session: Session, *, actor: Principal, capability_id: str) -> None:
    """Remove a catalogue entry and its share list; offers made from it keep its id as a reference."""
    cap = _own_capability(session, actor, capability_id)
    summary = {"kind": cap.kind, "version": cap.version}
    session.execute(delete(Share).where(Share.object_id == cap.id))
    session.delete(cap)
    session.flush()
    audit.record(session, actor=actor, tag=CAPABILITY_DELETE, object_id=capability_id, summary=summary)


def list_capabilities(
    session: Session,
    *,
    reader: Principal,
    kind: str | None = None,
    active: bool | None = None,
    owner: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[Capability]:
    """Catalogue entries the reader may see, newest first, in keyset pages."""
    q = select(Capability).where(read_filter(reader, Capability))
    if kind:
        q = q.where(Capability.kind == _choice("kind", kind, NEEDS))
    if active is not None:
        q = q.where(Capability.active.is_(active))
    if owner:
        q = q.where(Capability.owner_org_id == owner)
    after = decode_cursor(cursor, 2)
    if after:
        q = q.where(tuple_(Capability.created_at, Capability.id) < tuple_(cursor_time(after[0]), after[1]))
    rows = list(session.scalars(q.order_by(Capability.created_at.desc(), Capability.id.desc()).limit(limit + 1)))
    nxt = encode_cursor([rows[limit - 1].created_at.isoformat(), rows[limit - 1].id]) if len(rows) > limit else None
    return Page(items=rows[:limit], next=nxt)
