"""`CurrentCrisis` (API) and `PageCrisis` (pages): the crisis of the path, loaded once, 404 when unreadable."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cybercrisis.crises import service
from cybercrisis.crises.models import Crisis
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.web.pagedeps import PagePrincipal


def current_crisis(crisis_id: str, db: DB, principal: CurrentPrincipal) -> Crisis:
    return service.get(db, principal, crisis_id)


def page_crisis(crisis_id: str, db: DB, principal: PagePrincipal) -> Crisis:
    """As `current_crisis`, for a signed-in page (an anonymous reader is sent to the login page first)."""
    return service.get(db, principal, crisis_id)


CurrentCrisis = Annotated[Crisis, Depends(current_crisis)]
PageCrisis = Annotated[Crisis, Depends(page_crisis)]
