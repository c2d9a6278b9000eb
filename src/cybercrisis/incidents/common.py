"""What the incident modules share: loading through the access layer, the writer check, error shape."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.sql.base import ExecutableOption

from cybercrisis.access import authority
from cybercrisis.access.policy import read_filter
from cybercrisis.access.principal import Principal
from cybercrisis.errors import InvalidInput, NotFound
from cybercrisis.incidents.models import (
    Incident,
)

CLOCK_SKEW = timedelta(minutes=5)
# Fields each report kind may carry (NIS2 Art. 23(4)); anything else in a submission is refused.


def bad(field: str, message: str) -> InvalidInput:
    return InvalidInput(message, errors=[{"field": field, "message": message}])


# An incident with its countries and sectors in one statement, instead of the models' two selectin loads: every
# incident page and API answer needs them.
WITH_CHILDREN = (joinedload(Incident.country_rows), joinedload(Incident.sector_rows))
# The share list too, for the readers that show it (`GET /incidents/{id}`), and the significance decisions for the
# incident's page: a few rows each, joined rather than read in statements of their own.
WITH_SHARES = (*WITH_CHILDREN, joinedload(Incident.share_rows))
FOR_PAGE = (*WITH_SHARES, joinedload(Incident.decisions))


def get_incident(
    session: Session, *, principal: Principal, incident_id: str, load: Sequence[ExecutableOption] = WITH_CHILDREN
) -> Incident:
    """The incident if `principal` may read it, loaded once with its children (`load`: one of the option sets
    above); else NotFound, as for any object."""
    found = session.scalars(
        select(Incident).options(*load).where(Incident.id == incident_id, read_filter(principal, Incident))
    ).unique()
    incident = found.first()
    if incident is None:
        raise NotFound(f"no {incident_id.split('--', maxsplit=1)[0]} with id {incident_id}")  # as sharing.get_readable
    return incident


def relations(actor: Principal, incident: Incident) -> set[authority.Relation]:
    """The actor's organisation to an incident it reads: the recording CSIRT, the affected entity, or a recipient."""
    rel = authority.owned(actor, incident.owner_org_id)
    if actor.org_id is not None and actor.org_id == incident.entity_org_id:
        rel.add(authority.R.ENTITY)
    return rel


def check_writer(actor: Principal, incident: Incident, act: str = "incident.edit") -> None:
    authority.authorize(actor, act, relations(actor, incident), held_at=incident.origin_node)
