"""Mutual assistance (Cyber Solidarity Act; CSIRTs Network; ADR 0007): the rules shared by its modules, reading
requests (the list, the Reserve queue, their offers and matching catalogue entries) and what a reader may do.

Asking is in `requesting`, a request's life after that in `lifecycle`, offers in `offers`, the capability
catalogue in `catalogue`.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from cybercrisis.access import authority, replicas, sharing
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.assistance.models import AssistanceRequest, Capability, Need, Offer, OfferState, RequestState
from cybercrisis.directory.exchange import org_id_for_key
from cybercrisis.directory.models import Organisation, OrgType
from cybercrisis.errors import InvalidInput, NotFound
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


def bad(field: str, message: str, **extra: Any) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message, **extra}])


def choice(field: str, value: str, valid: Sequence[str]) -> str:
    if value not in valid:
        raise bad(field, f"'{value}' is not valid for {field}; valid: {', '.join(valid)}", valid=list(valid))
    return value


def aware(field: str, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise bad(field, "give a time zone, e.g. 2026-11-28T08:00:00Z")
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
        raise bad(field, f"name at least one need; valid: {', '.join(NEEDS)}", valid=NEEDS)
    unknown = [v for v in values if v not in NEEDS]
    if unknown:
        raise bad(field, f"not a need: {', '.join(unknown)}; valid: {', '.join(NEEDS)}", valid=NEEDS)
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


def org_name(session: Session, org_id: str) -> str:
    return org_names(session, [org_id]).get(org_id, org_id)


def get_request(session: Session, actor: Principal, request_id: str) -> AssistanceRequest:
    return sharing.get_readable(session, actor, AssistanceRequest, request_id)


def lock_request(
    session: Session, actor: Principal, request_id: str, *, answer: str | None = None
) -> AssistanceRequest:
    """The request, readable by the actor, held until commit (PostgreSQL: FOR UPDATE; SQLite: BEGIN IMMEDIATE) so
    that concurrent offers, decisions and state changes see each other's writes (ADR 0007).

    A request held at another node (ADR 0013) takes only `answer`, an act its origin applies (authority.ANSWERS:
    an offer); every other change is refused here, with the node that decides."""
    req = session.scalars(
        select(AssistanceRequest)
        .where(AssistanceRequest.id == request_id, read_filter(actor, AssistanceRequest))
        .with_for_update(of=AssistanceRequest)
        .execution_options(populate_existing=True)
    ).first()
    if req is None:
        raise NotFound(f"no assistance-request with id {request_id}")
    if req.origin_node is not None and answer not in authority.ANSWERS:
        raise replicas.refusal(req.origin_node)
    return req


def as_requester(session: Session, actor: Principal, request_id: str) -> AssistanceRequest:
    req = lock_request(session, actor, request_id)
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
        q = q.where(AssistanceRequest.state == choice("state", state, [s.value for s in RequestState]))
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


# --- what the reader may do ----------------------------------------------------------------------------------


def allowed_actions(
    principal: Principal, req: AssistanceRequest, *, acting: Organisation | None = None
) -> frozenset[str]:
    """What the reader may do to a request as it stands, by the authority policy (`access/authority.py`) and the
    request's state: what the pages offer; the services refuse the rest with the policy's reasons.

    `acting` is the reader's organisation, needed only for transmitting a Reserve request (its SPOC does)."""
    rel = authority.owned(principal, req.owner_org_id)
    state = req.state
    acts: set[str] = set()
    held = req.origin_node  # held at another node: only answers (an offer), sent there
    if state == RequestState.OPEN and authority.allows(principal, "assistance.offer", rel, held_at=held):
        acts.add("assistance.offer")
    if authority.allows(principal, "assistance.request.manage", rel, held_at=held):
        acts.add("assistance.request.manage")  # the requester, whatever the state
        by_state = {
            RequestState.OPEN.value: "assistance.request.withdraw",
            RequestState.IN_SUPPORT.value: "assistance.request.end-support",
            RequestState.SUPPORT_ENDED.value: "assistance.request.summary",
        }
        if state in by_state:
            acts.add(by_state[state])
        if state in DECIDABLE:
            acts.add("assistance.offer.decide")
    # Reg. (EU) 2025/38 Art. 15(3)(a): an SPOC of the requester's Member State transmits an open Reserve request once.
    if (
        acting is not None
        and acting.type == OrgType.SPOC
        and bool(req.country)
        and acting.country == req.country
        and bool((req.recipients or {}).get("reserve"))
        and req.transmitted_at is None
        and state == RequestState.OPEN
        and authority.allows(principal, "assistance.request.transmit", rel, held_at=held)
    ):
        acts.add("assistance.request.transmit")
    return frozenset(acts)


def offer_actions(principal: Principal, offer: Offer, request_acts: frozenset[str]) -> frozenset[str]:
    """What the reader may do to one offer of a request it reads: the requester decides while the request takes
    decisions (`request_acts`, from `allowed_actions`); the offering organisation withdraws it. Only while offered."""
    if offer.state != OfferState.OFFERED:
        return frozenset()
    acts = {"assistance.offer.decide"} & request_acts
    rel = authority.owned(principal, offer.owner_org_id)
    if authority.allows(principal, "assistance.offer.withdraw", rel, held_at=offer.origin_node):
        acts.add("assistance.offer.withdraw")
    return frozenset(acts)
