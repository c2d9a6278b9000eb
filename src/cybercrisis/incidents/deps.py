"""`CurrentIncident`: the incident of the path, loaded once through the read policy (404 when unreadable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.incidents.common import FOR_PAGE, WITH_SHARES, get_incident
from cybercrisis.incidents.models import Incident
from cybercrisis.web.pagedeps import PagePrincipal


def current_incident(incident_id: str, db: DB, principal: CurrentPrincipal) -> Incident:
    # With its share list: the readers of one incident show it, and a join costs less than a statement of its own.
    return get_incident(db, principal=principal, incident_id=incident_id, load=WITH_SHARES)


def page_incident(incident_id: str, db: DB, principal: PagePrincipal) -> Incident:
    """The same for a page: a reader who is not signed in is sent to the login page first."""
    return get_incident(db, principal=principal, incident_id=incident_id, load=FOR_PAGE)


CurrentIncident = Annotated[Incident, Depends(current_incident)]
PageIncident = Annotated[Incident, Depends(page_incident)]
