"""`CurrentCommunication`: load a readable communication once (404 when the reader may not see it), for the API and
the pages alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cybercrisis.comms import reading
from cybercrisis.comms.models import Communication
from cybercrisis.deps import DB, CurrentPrincipal


def current_communication(communication_id: str, db: DB, principal: CurrentPrincipal) -> Communication:
    return reading.get(db, principal, communication_id)


CurrentCommunication = Annotated[Communication, Depends(current_communication)]
