"""`CurrentHandoff`: load a readable hand-off once (404 when the reader may not see it), for the API and the pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.handoffs import service
from cybercrisis.handoffs.models import Handoff


def current_handoff(handoff_id: str, db: DB, principal: CurrentPrincipal) -> Handoff:
    return service.get(db, principal, handoff_id)


CurrentHandoff = Annotated[Handoff, Depends(current_handoff)]
