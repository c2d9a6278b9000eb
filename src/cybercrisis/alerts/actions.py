"""What a reader may do with an alert: the acts of `access.authority.ACTS` its relation to it allows.

The pages offer the buttons these name and `service.acknowledge` refuses from the same relation, so a button is
offered exactly when its post would be allowed. Sending is not an act on an alert (`alert.send` needs no relation).
"""

from __future__ import annotations

from cybercrisis.access import authority
from cybercrisis.access.principal import Principal
from cybercrisis.alerts.models import Alert, AlertRecipient

# The acts on one alert.
ACTS = ("alert.acknowledge",)


def my_recipient(principal: Principal, alert: Alert) -> AlertRecipient | None:
    """The reader's organisation's row among the alert's recipients, if it is one."""
    return next((r for r in alert.recipients if r.org_id == principal.org_id), None)


def relations(principal: Principal, alert: Alert) -> set[authority.Relation]:
    # Acknowledging is an act of a user for its organisation: an organisation's probe or token without a user is not.
    # Another node asking for the organisation (an answer to our alert, ADR 0013) vouches for its user.
    acting = principal.user_id is not None or principal.via_node is not None
    named = my_recipient(principal, alert) is not None and acting
    return {authority.Relation.NAMED} if named else set()


def allowed_actions(principal: Principal, alert: Alert) -> frozenset[str]:
    """The acts `principal` may do on `alert`."""
    rel = relations(principal, alert)
    return frozenset(act for act in ACTS if authority.allows(principal, act, rel, held_at=alert.origin_node))
