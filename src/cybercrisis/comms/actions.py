"""What a reader may do with a communication: the one answer the pages show, from the authority policy the
services enforce (`access.authority`), so that a page never offers what the service would refuse."""

from __future__ import annotations

from cybercrisis.access import authority
from cybercrisis.access.principal import Principal
from cybercrisis.comms.checks import CLOSED
from cybercrisis.comms.models import CommKind, Communication


def relations(actor: Principal, c: Communication) -> set[authority.Relation]:
    """The actor's organisation to a communication it reads: owner, an approver (named), or a recipient."""
    rel = authority.owned(actor, c.owner_org_id)
    if actor.org_id is not None and actor.org_id in c.approvers:
        rel.add(authority.R.NAMED)
    return rel


def authorize(actor: Principal, act: str, c: Communication) -> None:
    """`act` on `c` under the authority policy: a communication held at another node takes answers only."""
    authority.authorize(actor, act, relations(actor, c), held_at=c.origin_node)


def allowed_actions(principal: Principal, c: Communication) -> frozenset[str]:
    """Of "edit", "verdict", "release" and "withdraw", those `principal` may take now (none once it is closed)."""
    if c.state in CLOSED:
        return frozenset()
    rel, held = relations(principal, c), c.origin_node
    acts: set[str] = set()
    if authority.allows(principal, "communication.edit", rel, held_at=held):
        acts.add("edit")
    # The verdict forms ask the approver organisations; an owner that is not among them approves by releasing.
    if authority.R.NAMED in rel and authority.allows(principal, "communication.verdict", rel, held_at=held):
        acts.add("verdict")
    if c.kind == CommKind.STATEMENT and authority.allows(principal, "communication.release", rel, held_at=held):
        acts.add("release")
    if authority.allows(principal, "communication.withdraw", rel, held_at=held):
        acts.add("withdraw")
    return frozenset(acts)
