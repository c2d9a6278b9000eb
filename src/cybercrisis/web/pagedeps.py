"""What every page needs: the signed-in principal (or a redirect to the login page) and the CSRF check."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse

from cybercrisis.access.principal import Principal
from cybercrisis.alerts.service import count_pending
from cybercrisis.deps import DB, optional_principal, web_session
from cybercrisis.errors import NotAuthenticated, PermissionDenied
from cybercrisis.web.render import Viewer


class LoginRequired(NotAuthenticated):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""


def page_principal(request: Request, db: DB, principal: Annotated[Principal, Depends(optional_principal)]) -> Principal:
    if not principal.is_authenticated:
        raise LoginRequired(request.url.path)
    request.state.principal = principal
    ws = web_session(request, db)
    if ws is not None:
        user = ws.user
        request.state.viewer = Viewer(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            org_id=user.org_id,
            org_short_name=user.organisation.short_name,
            org_name=user.organisation.name,
            csrf_token=ws.csrf_token,
            pending_alerts=count_pending(db, principal=principal),
        )
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]


def check_csrf(request: Request, db: DB, token: str) -> None:
    ws = web_session(request, db)
    if ws is None or not secrets.compare_digest(token or "", ws.csrf_token):
        raise PermissionDenied("the form expired or did not come from this site: reload the page and try again")


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get: a successful form post answers 303 to the page that shows the result."""
    return RedirectResponse(url, status_code=303)


def login_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


# Secrets shown once (a new token, a generated password) must not be kept by caches or the back button.
NO_STORE = {"Cache-Control": "no-store"}
