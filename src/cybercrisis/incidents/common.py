"""What the incident modules share: loading through the access layer, the writer check, error shape."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from cybercrisis.access import sharing
from cybercrisis.access.permissions import Permission
from cybercrisis.access.principal import Principal
from cybercrisis.errors import InvalidInput, PermissionDenied
from cybercrisis.incidents.models import (
    Incident,
)

CLOCK_SKEW = timedelta(minutes=5)
# Fields each report kind may carry (NIS2 Art. 23(4)); anything else in a submission is refused.


def _bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


def get_incident(session: Session, *, principal: Principal, incident_id: str) -> Incident:
    return sharing.get_readable(session, principal, Incident, incident_id)


def check_writer(actor: Principal, incident: Incident) -> None:
    actor.require(Permission.INCIDENT_WRITE)
    if actor.org_id not in (incident.owner_org_id, incident.entity_org_id):
        raise PermissionDenied("only the owning organisation (or the affected entity) changes this incident")
