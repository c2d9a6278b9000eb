"""What every page needs: the signed-in principal (or a redirect to the login page) and the CSRF check."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from cybercrisis.access.principal import Principal
from cybercrisis.deps import DB, SAFE_METHODS, asking_principal, web_session
from cybercrisis.errors import DomainError, NotAuthenticated, PermissionDenied
from cybercrisis.web.badge import AlertBadge
from cybercrisis.web.forms import FormState
from cybercrisis.web.render import Viewer, render


class LoginRequired(NotAuthenticated):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""


async def page_principal(
    request: Request, db: DB, principal: Annotated[Principal, Depends(asking_principal)]
) -> Principal:
    """The signed-in reader, and the page chrome's `Viewer`.

    Async: what it needs is usually at hand (the session row `get_db` read, the badge count from its cache), so a
    page view does not take a trip through the thread pool for it; only a miss goes there to query.
    """
    if not principal.is_authenticated:
        raise LoginRequired(request.url.path)
    request.state.principal = principal
    state = request.state._state
    ws = state["web_session"] if "web_session" in state else await to_thread.run_sync(web_session, request, db)
    if ws is not None:
        badge: AlertBadge = request.app.state.alert_badge
        pending = badge.cached(principal)
        if pending is None:
            pending = await to_thread.run_sync(badge.count, db, principal)
        who = ws.principal
        request.state.viewer = Viewer(
            user_id=who.user_id or "",
            email=who.email or "",
            display_name=ws.display_name,
            org_id=who.org_id or "",
            org_short_name=ws.org_short_name,
            org_name=ws.org_name,
            csrf_token=ws.csrf_token,
            pending_alerts=pending,
            time_zone=ws.time_zone,
        )
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]


def check_csrf(request: Request, db: DB, token: str) -> None:
    ws = web_session(request, db)
    if ws is None or not secrets.compare_digest(token or "", ws.csrf_token):
        raise PermissionDenied(_CSRF_REFUSED)


_CSRF_REFUSED = "the form expired or did not come from this site: reload the page and try again"


async def require_csrf(request: Request, principal: Annotated[Principal, Depends(page_principal)]) -> None:
    """A router dependency: every form post of a signed-in page carries the session's CSRF token.

    Declared once per page router (`APIRouter(dependencies=[CSRF])`) instead of one call per handler, so that
    no handler can forget it. `page_principal` (shared with the handler's own `PagePrincipal`, which FastAPI
    resolves once per request) has loaded the session row.
    """
    if request.method in SAFE_METHODS:
        return
    ws = request.state._state.get("web_session")
    form = await request.form()  # Starlette keeps the parsed form: the handler's Form() fields read the same one
    token = form.get("csrf_token")
    if ws is None or not isinstance(token, str) or not secrets.compare_digest(token, ws.csrf_token):
        raise PermissionDenied(_CSRF_REFUSED)


CSRF = Depends(require_csrf)


def refused(
    request: Request,
    template: str,
    context: dict[str, Any],
    exc: DomainError,
    values: dict[str, Any],
    *,
    form_key: str = "form",
    aliases: Mapping[str, str] | None = None,
    fallback: str = "",
    nested: bool = False,
) -> Response:
    """The one answer to a refused form post: the same page again, 422, every complaint next to its field."""
    form = FormState.failed(exc, values, aliases=aliases, fallback=fallback, nested=nested)
    return render(request, template, {**context, form_key: form}, status=422)


def see_other(url: str) -> RedirectResponse:
    """Post/redirect/get: a successful form post answers 303 to the page that shows the result."""
    return RedirectResponse(url, status_code=303)


def login_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)


# Secrets shown once (a new token, a generated password) must not be kept by caches or the back button.
NO_STORE = {"Cache-Control": "no-store"}
