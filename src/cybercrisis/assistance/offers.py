"""Offers of assistance: made by other organisations, accepted or declined by the requester, withdrawn by their
author."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.policy import ORG
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.answers import service as answers
from cybercrisis.answers.models import Answer
from cybercrisis.assistance.models import AssistanceRequest, Capability, Offer, OfferState, RequestState
from cybercrisis.assistance.schemas import OfferIn
from cybercrisis.assistance.service import (
    DECIDABLE,
    NEEDS,
    OFFER_ACCEPT,
    OFFER_CREATE,
    OFFER_DECLINE,
    OFFER_WITHDRAW,
    aware,
    bad,
    choice,
    get_request,
    lock_request,
    org_name,
)
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.errors import Conflict, NotFound
from cybercrisis.exchange.models import Peer
from cybercrisis.notify.service import notify_readers


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
        raise bad("capability_id", f"no catalogue entry you may see with id {capability_id}") from None
    if cap.owner_org_id != actor.org_id:
        raise bad("capability_id", "offer from your own organisation's catalogue only")
    if cap.kind != kind:
        raise bad("capability_id", f"the catalogue entry is {cap.kind}, the offer {kind}")
    if not cap.active:
        raise bad("capability_id", "the catalogue entry is not active")
    return cap.id


def make_offer(
    session: Session, *, actor: Principal, request_id: str, data: OfferIn, offer_id: str | None = None
) -> Offer | Answer:
    """Offer help on a request the actor may read. The offer is TLP:AMBER+STRICT, shared with the requester only.

    On a request held at another node (ADR 0013) the offer is checked here as far as this node can, then sent to
    that node as an answer (returned), which makes it there under the id chosen here (`offer_id`, given by the
    origin's answer path); a catalogue entry named stays this node's (the origin does not hold the catalogue)."""
    act = "assistance.offer"
    req = lock_request(session, actor, request_id, answer=act)
    authority.authorize(actor, act, authority.owned(actor, req.owner_org_id), held_at=req.origin_node)
    assert actor.org_id is not None  # a recipient organisation: owned() gave none to an actor without one
    if req.state != RequestState.OPEN:
        raise Conflict(f"the request is {req.state}; offers are closed")
    capability = choice("capability", data.capability, NEEDS)
    if capability not in req.needs:
        raise bad(
            "capability", f"the request asks for {', '.join(req.needs)}; offer one of them", valid=list(req.needs)
        )
    available_from = aware("available_from", data.available_from)
    if req.origin_node is not None:
        return _send_offer(session, actor, req, data, capability, available_from)
    capability_id = _catalogue_entry(session, actor, data.capability_id, capability) if data.capability_id else None
    if offer_id is not None and session.get(Offer, offer_id) is not None:
        raise Conflict(f"an offer {offer_id} exists already")
    now = utcnow()
    offer = Offer(
        id=offer_id or new_id("assistance-offer"),
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
    who = org_name(session, actor.org_id)
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


def _check_direct(session: Session, node: str) -> None:
    """An offer, and what is sent about it, is AMBER+STRICT between offerer and requester: it goes to the
    requester's node directly, never through a hub (ADR 0013)."""
    direct = session.scalars(select(Peer.id).where(Peer.node_id == node, Peer.enabled.is_(True))).first()
    if direct is None:
        raise Conflict(
            f"an offer is TLP:AMBER+STRICT, for the requester only: it goes to the requester's node ({node}) "
            "directly, never through a hub, and that node is not a peer of this one: its operator and ours add "
            "each other (cybercrisis peer add), then offer again"
        )


def _send_offer(
    session: Session,
    actor: Principal,
    req: AssistanceRequest,
    data: OfferIn,
    capability: str,
    available_from: datetime,
) -> Answer:
    """An offer on a request held at another node: sent to that node, which makes it (ADR 0013). It is
    AMBER+STRICT, for the requester only, so it goes to the requester's node directly, never through a hub."""
    node = req.origin_node
    assert node is not None
    if data.capability_id:
        raise bad(
            "capability_id",
            "a catalogue entry is this node's: the requester's node, which makes the offer, does not hold it; "
            "offer without naming it",
        )
    _check_direct(session, node)
    sent = {
        "capability": capability,
        "people": data.people,
        "available_from": available_from.isoformat(),
        "conditions": data.conditions,
    }
    return answers.queue(
        session, actor=actor, act="assistance.offer", obj=req, data=sent, once=False, tlp=TLP.AMBER_STRICT.value
    )


def decide_offer(
    session: Session, *, actor: Principal, request_id: str, offer_id: str, accept: bool, comment: str = ""
) -> Offer:
    """The requester accepts or declines an offered offer. The first acceptance puts the request in support;
    several offers may be accepted (several teams may deploy)."""
    req = lock_request(session, actor, request_id)
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
    who = org_name(session, req.owner_org_id)
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


def withdraw_offer(session: Session, *, actor: Principal, request_id: str, offer_id: str) -> Offer | Answer:
    """The offering organisation withdraws its offer while it is still offered; the requester is told. An offer held
    at another node (made at the requester's node from this node's answer, ADR 0013) is withdrawn there: the answer
    is sent there directly, like the offer (returned)."""
    act = "assistance.offer.withdraw"
    req = lock_request(session, actor, request_id, answer=act)
    offer = _offer_of(session, actor, req, offer_id)
    authority.authorize(actor, act, authority.owned(actor, offer.owner_org_id), held_at=offer.origin_node)
    if offer.state != OfferState.OFFERED:
        raise Conflict(f"the offer is {offer.state}; only an offer still offered is withdrawn")
    if offer.origin_node is not None:
        _check_direct(session, offer.origin_node)
        return answers.queue(session, actor=actor, act=act, obj=offer, data={}, tlp=TLP.AMBER_STRICT.value)
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
    who = org_name(session, offer.owner_org_id)
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
