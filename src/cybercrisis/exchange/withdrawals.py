"""Revocation travels (ADR 0013 point 2): when the origin narrows who may read one of its objects, the nodes holding
it as a replica narrow it too.

A narrowed share list re-serves the object's versions with the new list (exchange/copies.py `reserve`), which
reaches only the peers whose organisations still read it: a node whose organisations lost access would never hear
of it, and would go on showing its old replica. So the origin also stores a *withdrawal*, an
`x-cybercrisis-withdrawal` object of our extension that names the object (`object_ref`) and the recipients it was
withdrawn from (`withdrawn_from`), and nothing of the object's content:

- At the origin (`store`, called where publish.py re-serves a copy whose list changed): one withdrawal per
  narrowing, with a random id (no node can take its id first). Its audience is everyone who read the object
  through its list before, so the ordinary push, pull and relay filters bring it to every node that may hold a
  replica, hub included, and never to anyone else. It is TLP:AMBER, signed by the origin like any version.
- At a receiving node (`apply`, from exchange/replica_apply.py): a withdrawal signed by the replica's own origin,
  for the replica's owner, removes those recipients from the replica, its crisis objects, and the copies in the
  store that derive from it. The read policy does the rest: the organisations that lost access no longer read it,
  here or through this node's TAXII server, and a hub no longer relays it to them.

Widening again needs nothing special: the re-served versions carry the new list, and a receiver follows it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from cybercrisis.access.models import Share
from cybercrisis.access.tlp import TLP
from cybercrisis.exchange import copies
from cybercrisis.exchange import node as nodes
from cybercrisis.exchange.import_plan import Received
from cybercrisis.exchange.models import StixObject
from cybercrisis.exchange.stix_common import (
    WITHDRAWAL_EXTENSION_ID,
    WITHDRAWAL_TYPE,
    chunks,
    derived_id,
    marking_id,
    ts,
)

log = logging.getLogger(__name__)

WITHDRAW = "exchange:replica:withdraw"
# The objects that have replicas.
_KINDS = (
    "incident--",
    "alert--",
    "crisis--",
    "assistance-request--",
    "assistance-offer--",
    "contribution--",
    "communication--",
    "sitrep--",
)


# --- at the origin -----------------------------------------------------------------------------------------------


def store(
    session: Session,
    *,
    key: str,
    before: Iterable[Mapping[str, str]],
    after: Iterable[Mapping[str, str]],
    owner: str,
    exercise: bool,
    now: datetime,
) -> bool:
    """Store a new version of the withdrawal of our object `key` when its share list lost recipients (`before` ->
    `after`); returns whether it did."""
    if not key.startswith(_KINDS):
        return False
    old = {(e["kind"], e["target"]) for e in before if e.get("kind") in nodes.SHARE_KINDS}
    removed = sorted(old - {(e["kind"], e["target"]) for e in after})
    if not removed:
        return False
    wid = f"{WITHDRAWAL_TYPE}--{uuid.uuid4()}"
    session.add_all(Share(object_id=wid, kind=k, target=t, added_by_org_id=owner) for k, t in sorted(old))
    session.flush()
    data = {
        "type": WITHDRAWAL_TYPE,
        "spec_version": "2.1",
        "id": wid,
        "created": ts(now),
        "modified": ts(now),
        "created_by_ref": owner,
        "object_marking_refs": [marking_id(TLP.AMBER)],
        "extensions": {WITHDRAWAL_EXTENSION_ID: {"extension_type": "new-sdo"}},
        "object_ref": key,
        "withdrawn_from": [{"kind": k, "target": t} for k, t in removed],
    }
    row = {
        "id": wid,
        "modified": now,
        "type": WITHDRAWAL_TYPE,
        "spec_version": "2.1",
        "custom": True,
        "revoked": False,
        "data": data,
        "tlp": TLP.AMBER.value,
        "owner_org_id": owner,
        "created_by_id": None,
        "exercise": exercise,
        "origin": f"{copies.LOCAL}withdrawal:{key}",
        "share_id": wid,
        "latest": True,
        "origin_node": None,
        "signature": None,
        "signed": False,
        "shares": nodes.canonical_shares(old),
        "added_at": now,
    }
    session.execute(insert(StixObject.__table__), [row])  # type: ignore[arg-type]
    return True


# --- at a node holding a replica ---------------------------------------------------------------------------------


def apply(session: Session, obj: Mapping[str, Any], rec: Received, *, modified: datetime | None) -> str | None:
    """Remove the recipients a withdrawal names from the replica it names (see the module's text); returns the
    replica's id when something was withdrawn. A withdrawal older than the version held (`modified`: the
    withdrawal's) is history: the origin widened again since, and the version held carries that list."""
    from cybercrisis.alerts.models import Alert
    from cybercrisis.assistance.models import AssistanceRequest, Offer
    from cybercrisis.comms.models import Communication
    from cybercrisis.crises.models import Action, Crisis, Decision, Escalation
    from cybercrisis.exchange.stix_assistance import offer_sdo_id
    from cybercrisis.exchange.stix_assistance import sdo_id as request_sdo_id
    from cybercrisis.exchange.stix_communication import sdo_id as communication_sdo_id
    from cybercrisis.exchange.stix_contribution import sdo_id as contribution_sdo_id
    from cybercrisis.exchange.stix_crisis import sdo_id
    from cybercrisis.exchange.stix_sitrep import sdo_id as sitrep_sdo_id
    from cybercrisis.incidents.models import Incident
    from cybercrisis.situation.models import Contribution, Sitrep

    node, target = rec.block["node"], obj.get("object_ref")
    if not isinstance(target, str) or not target.startswith(_KINDS) or len(target) > 120:
        log.warning("withdrawal %s from node %s names no object that has replicas", obj.get("id"), node)
        return None
    model: Any = {
        "incident--": Incident,
        "alert--": Alert,
        "crisis--": Crisis,
        "assistance-request--": AssistanceRequest,
        "assistance-offer--": Offer,
        "contribution--": Contribution,
        "communication--": Communication,
        "sitrep--": Sitrep,
    }[target.split("--", 1)[0] + "--"]
    replica = session.get(model, target)
    if replica is None or replica.origin_node != node or replica.owner_org_id != rec.block["owner"]:
        return None  # not held here, or not that node's: only an object's origin withdraws it
    if modified is None or (replica.received_version is not None and replica.received_version > modified):
        return None
    removed = [
        (e["kind"], e["target"])
        for e in obj.get("withdrawn_from") or []
        if isinstance(e, dict) and e.get("kind") in nodes.SHARE_KINDS and isinstance(e.get("target"), str)
    ]
    if not removed:
        return None
    whole = {
        AssistanceRequest: request_sdo_id,
        Offer: offer_sdo_id,
        Contribution: contribution_sdo_id,
        Communication: communication_sdo_id,
        Sitrep: sitrep_sdo_id,
    }
    keys = {target}
    if model is Crisis:
        keys.add(sdo_id(target))
        for child in (Escalation, Decision, Action):
            keys.update(session.scalars(select(child.id).where(child.crisis_id == target)))
    elif model is Alert:
        keys.add(derived_id("report", target))
    elif model in whole:
        keys.add(whole[model](target))  # its one object of our extension
    else:
        keys |= _derived_keys(session, node, target)
    for kind, who in removed:
        for chunk in chunks(sorted(keys)):
            session.execute(delete(Share).where(Share.object_id.in_(chunk), Share.kind == kind, Share.target == who))
    session.flush()
    return target


def _derived_keys(session: Session, node: str, object_id: str) -> set[str]:
    """The share keys of the copies received from `node` that derive from its object `object_id` (an incident's
    relationships, notes and observables): those signed with that object's copy tag."""
    tag = nodes.copy_tag(node, object_id)
    keys = {copies.received_key(node, tag)}
    for key, block in session.execute(
        select(StixObject.share_id, StixObject.signature).where(StixObject.origin_node == node)
    ):
        if isinstance(block, dict) and block.get("copy") == tag:
            keys.add(key)
    return keys
