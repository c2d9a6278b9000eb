"""`CurrentRequest`: load a readable request for assistance once (404 when the reader may not see it), for the API
and the pages alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cybercrisis.assistance import service
from cybercrisis.assistance.models import AssistanceRequest
from cybercrisis.deps import DB, CurrentPrincipal


def current_request(request_id: str, db: DB, principal: CurrentPrincipal) -> AssistanceRequest:
    return service.get_request(db, principal, request_id)


CurrentRequest = Annotated[AssistanceRequest, Depends(current_request)]
