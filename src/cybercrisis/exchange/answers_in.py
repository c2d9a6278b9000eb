"""At the origin: answers from other nodes to this node's objects, applied once under our own policies (ADR 0013).

A node whose organisation acts on a replica of one of our objects (acknowledges our early warning) sends the act
here, signed with its node key, over `POST /federation/v1/answers` with the token of its account here. It is
applied when:

- it is addressed to this node (`to`), and its signature verifies with a key of its node, an enabled peer that this
  node pinned (`peer add`);
- that node speaks for the organisation: the peer row of the node names it, and the account that posts is of it
  (through a relay: the node is pinned through it for that organisation, and the account is the relay's);
- the object is this node's own (not a replica here);
- the act is one of `authority.ANSWERS` and the organisation may do it here, now: it runs as principal
  `via_node` of that organisation, with its communities here and only the act's permission (the asking node
  vouches for its user's role; this node decides what the organisation may do), through the read policy and the
  same service the API calls.

The act, its receipt (unique per node and key) and the audit entry commit together, so an answer delivered twice
is applied once; asked again, it returns the stored outcome. A refusal is an outcome too (with the reason, which
is our own text). What the act changed travels back as a new version of the object, like any other change.

A request addressed to another node (`to`) is a relay's business (ADR 0013 point 5): a hub keeps it, once per key,
when it comes from one of its peers about a replica it holds from that node, and its delivery job forwards the
signed request unchanged; asked again, the hub answers `relayed` until the origin has answered, then its outcome.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.principal import Principal
from cybercrisis.alerts import service as alerts
from cybercrisis.alerts.models import Alert
from cybercrisis.answers.models import APPLIED, QUEUED, REFUSED, Answer, AnswerReceipt
from cybercrisis.answers.service import DELIVER
from cybercrisis.assistance import offers
from cybercrisis.assistance.models import AssistanceRequest, Offer
from cybercrisis.assistance.schemas import OfferIn
from cybercrisis.audit import service as audit
from cybercrisis.comms import service as comms
from cybercrisis.comms.models import Communication, Verdict
from cybercrisis.config import Settings
from cybercrisis.crises import decisions, escalations
from cybercrisis.crises.models import Crisis, Escalation
from cybercrisis.crises.schemas import DecisionIn
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange import relays
from cybercrisis.exchange.importer import RELAYABLE
from cybercrisis.exchange.models import NodePin, Peer
from cybercrisis.exchange.stix_common import derived_id, ts
from cybercrisis.exchange.stix_communication import communication_object
from cybercrisis.exchange.stix_crisis import crisis_object
from cybercrisis.notify.wake import wake

T = TypeVar("T", Alert, Escalation, Crisis, AssistanceRequest, Offer, Communication)
PURPOSE = "answer"  # what an asking node signs
# Answers whose content is for the origin's organisation only (an offer: AMBER+STRICT between offerer and requester):
# sent to the origin directly, never kept or forwarded by a relay (ADR 0013 point 5).
BILATERAL = frozenset({"assistance.offer", "assistance.offer.withdraw"})
RELAYED = "relayed"  # a relay's reply: kept, to be forwarded to the origin; ask again for the outcome
REPLY = "answer-reply"  # what the origin signs back
APPLY = "exchange:answer:apply"
SIGNED = ("to", "key", "act", "object", "organisation", "user", "version_seen", "input")
_KEY = re.compile(r"^answer--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    key: str
    status: str  # applied | refused | relayed
    reason: str
    object: str
    modified: str | None  # the object's new version (`modified`) when applied


def signed_body(request: dict[str, Any]) -> dict[str, Any]:
    return {k: request.get(k) for k in SIGNED}


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def _check_shape(request: dict[str, Any]) -> None:
    if not isinstance(request.get("key"), str) or not _KEY.match(request["key"]):
        raise _bad("key", "key must be answer--<uuid4>, the asking node's idempotency key")
    if request.get("act") not in authority.ANSWERS:
        raise _bad("act", f"act must be one of {', '.join(sorted(authority.ANSWERS))}")
    for field in ("object", "organisation", "user"):
        value = request.get(field)
        if not isinstance(value, str) or not 0 < len(value) <= 120:
            raise _bad(field, f"{field} must be a text of 1 to 120 characters")
    if not isinstance(request.get("input"), dict):
        raise _bad("input", "input must be an object")


@dataclasses.dataclass(frozen=True, slots=True)
class Asked:
    """What an act needs to know besides its input: this node's settings, and which node asked under which key."""

    settings: Settings
    node: str
    key: str


def _ours(session: Session, actor: Principal, model: type[T], object_id: str) -> T:
    """The object an answer is about: this node's own (an answer about a replica here is its origin's business),
    readable by the answering organisation; anything else is not found, like for a reader here."""
    obj = sharing.get_readable(session, actor, model, object_id)
    if obj.origin_node is not None:
        raise NotFound(f"no {object_id.split('--', 1)[0]} with id {object_id}")
    return obj


def _acknowledge(session: Session, actor: Principal, object_id: str, _data: dict[str, Any], _asked: Asked) -> str:
    alert = _ours(session, actor, Alert, object_id)
    alerts.acknowledge(session, actor=actor, alert=alert)
    session.flush()
    session.refresh(alert)
    return ts(max(alert.modified_at, alert.created_at))


def _answer_escalation(session: Session, actor: Principal, object_id: str, data: dict[str, Any], asked: Asked) -> str:
    """An organisation agrees to (or refuses) a proposed move of one of our crises, under our escalation model."""
    esc = _ours(session, actor, Escalation, object_id)
    agree, comment = data.get("agree"), data.get("comment", "")
    if not isinstance(agree, bool):
        raise _bad("input.agree", "input.agree must be true or false")
    if not isinstance(comment, str) or len(comment) > 10_000:
        raise _bad("input.comment", "input.comment must be a text of at most 10,000 characters")
    escalations.answer_escalation(
        session,
        actor=actor,
        crisis_id=esc.crisis_id,
        escalation_id=esc.id,
        agree=agree,
        comment=comment,
        settings=asked.settings,
    )
    session.flush()
    crisis = session.get(Crisis, esc.crisis_id)
    assert crisis is not None
    return str(crisis_object(session, crisis)["modified"])  # the new version of the crisis's object


def _decide(session: Session, actor: Principal, object_id: str, data: dict[str, Any], asked: Asked) -> str:
    """An organisation records a decision in one of our crises, at a level where it decides under our model."""
    crisis = _ours(session, actor, Crisis, object_id)
    try:
        body = DecisionIn.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc) from None
    decisions.record_decision(session, actor=actor, crisis_id=crisis.id, data=body, settings=asked.settings)
    session.flush()
    return str(crisis_object(session, crisis)["modified"])


def _invalid(exc: ValidationError) -> InvalidInput:
    """The first problem of an act's input, named by its field."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "input"
    return _bad(f"input.{where}", f"input.{where}: {first['msg']}")


def offer_id(node: str, key: str) -> str:
    """The id of an offer made here from another node's answer: derived from that node and its answer's key, so that
    no node chooses an id here (nor learns whether one is taken), and the asking node can tell which it is."""
    return derived_id("assistance-offer", f"{node}|{key}")


def _offer(session: Session, actor: Principal, object_id: str, data: dict[str, Any], asked: Asked) -> str:
    """An organisation offers help on one of our requests for assistance: the offer is made here, TLP:AMBER+STRICT
    between it and the requester, as if it had offered here."""
    req = _ours(session, actor, AssistanceRequest, object_id)
    fields = {k: data[k] for k in ("capability", "people", "available_from", "conditions") if k in data}
    try:
        body = OfferIn.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc) from None
    offers.make_offer(session, actor=actor, request_id=req.id, data=body, offer_id=offer_id(asked.node, asked.key))
    return ts(max(req.modified_at, req.created_at))


def _verdict(session: Session, actor: Principal, object_id: str, data: dict[str, Any], _asked: Asked) -> str:
    """An approving organisation approves one of our communications, or asks for changes, on the version it read."""
    c = _ours(session, actor, Communication, object_id)
    version, verdict, comment = data.get("version"), data.get("verdict"), data.get("comment", "")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _bad("input.version", "input.version must be the number of the version the verdict is on")
    if verdict not in {v.value for v in Verdict}:
        raise _bad("input.verdict", "input.verdict must be approve or changes")
    if not isinstance(comment, str) or len(comment) > 10_000:
        raise _bad("input.comment", "input.comment must be a text of at most 10,000 characters")
    # An approver at another node confirmed lagging translations there (service.give_verdict asked it to).
    confirm = data.get("confirm_stale_translations") is True
    comms.give_verdict(
        session,
        actor=actor,
        communication_id=c.id,
        version=version,
        verdict=Verdict(verdict),
        comment=comment,
        confirm_stale=confirm,
    )
    session.flush()
    session.refresh(c)
    return str(communication_object(session, c)["modified"])  # the new version of the communication's object


def _withdraw_offer(session: Session, actor: Principal, object_id: str, _data: dict[str, Any], _asked: Asked) -> str:
    """The offering organisation withdraws an offer it made here (from its node's answer) while still offered."""
    offer = _ours(session, actor, Offer, object_id)
    offers.withdraw_offer(session, actor=actor, request_id=offer.request_id, offer_id=offer.id)
    session.flush()
    session.refresh(offer)
    return ts(max(offer.modified_at, offer.created_at))


Act = Callable[[Session, Principal, str, dict[str, Any], Asked], str]
ACTS: dict[str, Act] = {
    "alert.acknowledge": _acknowledge,
    "crisis.escalation.answer": _answer_escalation,
    "crisis.decide": _decide,
    "assistance.offer": _offer,
    "assistance.offer.withdraw": _withdraw_offer,
    "communication.verdict": _verdict,
}
# What each act is about, for a relay's check.
OBJECTS: dict[str, type[Any]] = {
    "alert.acknowledge": Alert,
    "crisis.escalation.answer": Escalation,
    "crisis.decide": Crisis,
    "assistance.offer": AssistanceRequest,
    "assistance.offer.withdraw": Offer,
    "communication.verdict": Communication,
}


def _speaker(session: Session, principal: Principal, request: dict[str, Any], *, relaying: bool) -> str:
    """The asking node, once its signature and its right to speak for the organisation are checked.

    Directly, the asking node is an enabled peer whose row names the organisation, and the posting account is of
    that organisation. Through a relay (the origin, not `relaying`), the asking node is pinned through that relay
    (`node pin --speaks-for`), and the posting account is of the relay's organisation, which forwards the asking
    node's signed request unchanged: the signature, not the account, says who asks."""
    block = request.get("signature")
    node_id = block.get("node") if isinstance(block, dict) else None
    peer = session.scalars(select(Peer).where(Peer.node_id == node_id)).first() if isinstance(node_id, str) else None
    pin = None if peer is not None or relaying else relays.pinned(session).get(str(node_id))
    if peer is not None and peer.enabled:
        keys = {str(k["id"]): str(k["public_key"]) for k in peer.keys}
        speaks_for, poster = peer.organisation_id, request["organisation"]
    elif pin is not None:
        row = session.get(NodePin, pin.node_id)
        keys = dict(row.keys) if row is not None else {}
        speaks_for, poster = pin.organisation_id, pin.relay_organisation_id
    else:
        raise PermissionDenied(
            "answers are taken only from an enabled peer node that this node pinned (peer add), or from a node pinned "
            "through a relay (node pin)"
        )
    problem = nodes.verify_message(PURPOSE, signed_body(request), block, {str(node_id): keys})
    if problem is not None:
        raise PermissionDenied(problem)
    if principal.org_id is None or principal.org_id != poster:
        raise PermissionDenied(
            f"node {node_id} answers here for the organisation it speaks for ({speaks_for}), not for "
            f"{request['organisation']}: that organisation answers on its own node, or on one that speaks for it"
        )
    if speaks_for != request["organisation"]:
        raise PermissionDenied(f"node {node_id} does not speak for organisation {request['organisation']} here")
    return str(node_id)


def _relay(session: Session, request: dict[str, Any], asking: str) -> Outcome | dict[str, Any]:
    """At a relay: keep the asking node's signed request, once, for the delivery job to forward to the origin
    (`to`) unchanged; asked again, `relayed` until the origin has answered, then the origin's own signed reply, as
    received (so the asking node checks it with the origin's key: a relay cannot invent an outcome)."""
    key, origin = request["key"], request["to"]
    if request["act"] in BILATERAL:
        raise PermissionDenied(
            f"{request['act']} carries TLP:AMBER+STRICT content for the requester only: it goes to node {origin} "
            "directly (bilateral peering), never through a relay"
        )
    refused = PermissionDenied(f"this node relays no answer about {request['object']} to node {origin}")
    held = session.get(Answer, key)
    if held is not None:
        if held.relayed_for != asking:
            raise refused
        reply = (held.signature or {}).get("reply")
        if reply is not None:
            return dict(reply)
        return Outcome(key, RELAYED, "", held.object_id, None)
    asker = session.scalars(select(Peer).where(Peer.node_id == asking)).first()
    target = session.scalars(select(Peer).where(Peer.node_id == origin, Peer.enabled.is_(True))).first()
    if asker is None or not asker.relay or target is None:
        raise PermissionDenied("this node relays answers only between peers it relays for (peer add --relay)")
    # Only about what this node passed on to the asking organisation: held from that origin, first hand, CLEAR to
    # AMBER, readable by it here. Anything else gets the same refusal, whether it exists here or not.
    replica: Any = session.get(OBJECTS[request["act"]], request["object"])  # one of OBJECTS' shareable kinds
    reader = sharing.org_reader(session, request["organisation"])
    if (
        replica is None
        or replica.origin_node != origin
        or replica.tlp not in RELAYABLE
        or not sharing.readable(session, reader, replica)
    ):
        raise refused
    session.add(
        Answer(
            id=key,
            act=request["act"],
            object_id=request["object"],
            origin_node=origin,
            owner_org_id=request["organisation"],
            user_ref=request["user"],
            tlp=replica.tlp,
            exercise=replica.exercise,
            input={},
            state=QUEUED,
            relayed_for=asking,
            signature={"body": signed_body(request), "block": request["signature"]},
        )
    )
    wake(session, DELIVER)  # forwarded within a second
    audit.record(
        session,
        actor=None,
        tag="exchange:answer:relay",
        object_id=request["object"],
        summary={"node": asking, "to": origin, "answer": key, "act": request["act"]},
    )
    session.flush()
    return Outcome(key, RELAYED, "", request["object"], None)


def apply_answer(
    session: Session, *, principal: Principal, request: dict[str, Any], local: nodes.Node, settings: Settings
) -> Outcome | dict[str, Any]:
    """Apply one answer from another node, once (see the module's text); raises InvalidInput for a malformed
    request and PermissionDenied when the node or the account may not ask; a refusal of the act is an Outcome."""
    _check_shape(request)
    relaying = request["to"] != local.id
    node_id = _speaker(session, principal, request, relaying=relaying)
    if relaying:
        return _relay(session, request, node_id)
    key = request["key"]
    done = session.get(AnswerReceipt, (node_id, key))
    if done is not None:
        return Outcome(done.key, done.state, done.reason, done.object_id, None)
    rule = authority.ACTS[request["act"]]
    base = sharing.org_reader(session, request["organisation"])
    actor = dataclasses.replace(
        base,
        user_id=None,
        permissions=frozenset({rule.permission, authority.DOMAIN_READ[request["act"].split(".", 1)[0]]}),
        via_node=node_id,
    )
    modified: str | None = None
    try:
        with session.begin_nested():
            asked = Asked(settings=settings, node=node_id, key=key)
            modified = ACTS[request["act"]](session, actor, request["object"], request["input"], asked)
        state, reason = APPLIED, ""
    except NotFound:
        state, reason = REFUSED, f"no object {request['object']} held here that this organisation may read"
    except (PermissionDenied, InvalidInput, Conflict) as exc:
        state, reason = REFUSED, exc.detail
    session.add(
        AnswerReceipt(
            node_id=node_id,
            key=key,
            act=request["act"],
            object_id=request["object"],
            org_id=request["organisation"],
            user_ref=request["user"],
            state=state,
            reason=reason,
        )
    )
    audit.record(
        session,
        actor=actor,
        tag=APPLY,
        object_id=request["object"],
        summary={"node": node_id, "answer": key, "act": request["act"], "state": state, "user": request["user"]},
    )
    session.flush()
    return Outcome(key, state, reason, request["object"], modified)


def reply(outcome: Outcome, local: nodes.Node) -> dict[str, Any]:
    """The signed reply the asking node records."""
    body = dataclasses.asdict(outcome)
    return body | {"signature": local.sign_message(REPLY, body)}
