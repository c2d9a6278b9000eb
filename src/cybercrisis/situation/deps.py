"""`CurrentContribution` and `CurrentSitrep`: load a readable object once (404 when the reader may not see it), for
the API and the pages alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.situation import contributions, sitreps
from cybercrisis.situation.models import Contribution, Sitrep


def current_contribution(contribution_id: str, db: DB, principal: CurrentPrincipal) -> Contribution:
    return contributions.get(db, principal, contribution_id)


def current_sitrep(sitrep_id: str, db: DB, principal: CurrentPrincipal) -> Sitrep:
    return sitreps.get(db, principal, sitrep_id)


CurrentContribution = Annotated[Contribution, Depends(current_contribution)]
CurrentSitrep = Annotated[Sitrep, Depends(current_sitrep)]
