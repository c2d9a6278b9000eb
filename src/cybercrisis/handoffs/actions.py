"""What a reader may do with a hand-off: the one answer the pages show and the custody services check, from the
authority policy (`access.authority`), so that a page never offers what the service would refuse."""

from __future__ import annotations

from collections.abc import Set

from cybercrisis.access import authority
from cybercrisis.access.principal import Principal
from cybercrisis.errors import Conflict
from cybercrisis.handoffs.models import Handoff, HandoffState

_ACTS = {"file": "handoff.file", "receive": "handoff.receive", "transfer": "handoff.transfer", "note": "handoff.note"}


def _relations(
    principal: Principal, h: Handoff, *, holder: str | None, shared_orgs: Set[str]
) -> dict[str, set[authority.Relation]]:
    """Per action, how the principal's organisation stands to the hand-off: the sender (owner) adds files, the
    holder acknowledges and transfers, the sender and every organisation it was handed to (holders) add notes."""
    org = principal.org_id
    owner = authority.owned(principal, h.owner_org_id) & {authority.R.OWNER}
    holding = {authority.R.HOLDER} if org is not None and org == holder else set()
    holders = {authority.R.HOLDER} if org is not None and org in shared_orgs else set()
    return {"file": owner, "receive": holding, "transfer": holding, "note": owner | holders}


def allowed_actions(
    principal: Principal, h: Handoff, *, holder: str | None, sealed: bool, shared_orgs: Set[str]
) -> frozenset[str]:
    """Of "file", "receive", "transfer" and "note", those `principal` may take now. `holder` holds the package,
    `sealed` says whether receipt was acknowledged, `shared_orgs` are the organisations it was handed to."""
    if principal.org_id is None:
        return frozenset()
    state_allows = {
        "file": not sealed and h.state == HandoffState.HANDED_OVER,
        "receive": h.state == HandoffState.HANDED_OVER,
        "transfer": h.state == HandoffState.RECEIVED,
        "note": True,
    }
    rel = _relations(principal, h, holder=holder, shared_orgs=shared_orgs)
    return frozenset(a for a, act in _ACTS.items() if state_allows[a] and authority.allows(principal, act, rel[a]))


def require(
    principal: Principal,
    h: Handoff,
    action: str,
    *,
    holder: str | None,
    sealed: bool,
    shared_orgs: Set[str],
    conflict: str = "",
    refusal: str | None = None,
) -> None:
    """The service's guard: nothing when `action` is among `allowed_actions`. Otherwise the policy's refusal first
    (PermissionDenied, in `refusal`'s words when given), else the hand-off's state is why: Conflict(`conflict`)."""
    if action in allowed_actions(principal, h, holder=holder, sealed=sealed, shared_orgs=shared_orgs):
        return
    rel = _relations(principal, h, holder=holder, shared_orgs=shared_orgs)
    authority.authorize(principal, _ACTS[action], rel[action], refusal=refusal)
    raise Conflict(conflict)
