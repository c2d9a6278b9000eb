"""What the incident modules share: loading through the access layer, the writer check, error shape."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from cybercrisis.access import authority, sharing
from cybercrisis.access.principal import Principal
from cybercrisis.errors import InvalidInput
from cybercrisis.incidents.models import (
    Incident,
)

CLOCK_SKEW = timedelta(minutes=5)
# Fields each report kind may carry (NIS2 Art. 23(4)); anything else in a submission is refused.


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def get_incident(session: Session, *, principal: Principal, incident_id: str) -> Incident:
    return sharing.get_readable(session, principal, Incident, incident_id)


def relations(actor: Principal, incident: Incident) -> set[authority.Relation]:
    """The actor's organisation to an incident it reads: the recording CSIRT, the affected entity, or a recipient."""
    rel = authority.owned(actor, incident.owner_org_id)
    if actor.org_id is not None and actor.org_id == incident.entity_org_id:
        rel.add(authority.R.ENTITY)
    return rel


def check_writer(actor: Principal, incident: Incident, act: str = "incident.edit") -> None:
    authority.authorize(actor, act, relations(actor, incident))
