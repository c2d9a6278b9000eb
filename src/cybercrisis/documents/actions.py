"""What a reader may do with a document: the acts of `access.authority.ACTS` its relation to it allows.

The page offers the forms these name; `service` refuses editing, sharing and deleting from the same relations.
Passing on is refused by the service from `sharing.org_relations` (whether the organisation itself reads it, not
only a user named on it) and by `widening.check_widening` (to whom), which need the database.
"""

from __future__ import annotations

from cybercrisis.access import authority
from cybercrisis.access.principal import Principal
from cybercrisis.access.tlp import TLP
from cybercrisis.documents.models import Document

# The acts on one document.
ACTS = ("document.edit", "document.share", "document.delete", "document.pass-on")


def relations(principal: Principal, document: Document) -> set[authority.Relation]:
    """Its owner, or a recipient (the reader reads it)."""
    return authority.owned(principal, document.owner_org_id)


def allowed_actions(principal: Principal, document: Document) -> frozenset[str]:
    """The acts `principal` may do on `document`."""
    rel = relations(principal, document)
    acts = {act for act in ACTS if authority.allows(principal, act, rel)}
    # Passing on is a recipient's way to widen TLP:AMBER to its own constituents (`widening.check_widening`); the
    # originator changes the recipients instead, and other markings have nothing to pass on to constituents.
    if document.tlp != TLP.AMBER.value or authority.Relation.OWNER in rel:
        acts.discard("document.pass-on")
    return frozenset(acts)
