"""`CurrentAlert`: the alert of the path, loaded once through the read policy (404 when unreadable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from cybercrisis.alerts.models import Alert
from cybercrisis.alerts.service import get_alert
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.web.pagedeps import PagePrincipal


def current_alert(alert_id: str, db: DB, principal: CurrentPrincipal) -> Alert:
    return get_alert(db, principal=principal, alert_id=alert_id)


def page_alert(alert_id: str, db: DB, principal: PagePrincipal) -> Alert:
    """The same for a page: a reader who is not signed in is sent to the login page first."""
    return get_alert(db, principal=principal, alert_id=alert_id)


CurrentAlert = Annotated[Alert, Depends(current_alert)]
PageAlert = Annotated[Alert, Depends(page_alert)]
