"""Pages. Thin: parse the form, call a service, render. Forms carry the session's CSRF token.

This module signs users in and out and shows the overview; each section has its own module, included here.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cybercrisis.access.permissions import Permission
from cybercrisis.accounts import service as accounts
from cybercrisis.deps import DB, SESSION_COOKIE
from cybercrisis.directory import service as directory
from cybercrisis.documents import service as documents
from cybercrisis.errors import PermissionDenied
from cybercrisis.web import (
    account_views,
    admin_views,
    alert_page,
    alert_views,
    assistance_views,
    comms_views,
    contribution_views,
    crisis_governance,
    crisis_views,
    directory_views,
    document_views,
    handoff_views,
    incident_flows,
    incident_page,
    incident_views,
    queries,
    sitrep_views,
    situation_views,
)
from cybercrisis.web.pagedeps import (
    LoginRequired,
    PagePrincipal,
    check_csrf,
    login_redirect,
    page_principal,
    see_other,
)
from cybercrisis.web.render import render

# Re-exported: app.py and later domains import these from here.
__all__ = ["LoginRequired", "PagePrincipal", "check_csrf", "login_redirect", "page_principal", "router"]

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "cc_login_csrf"


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(*, request: Request, next: str | None = None, error: str | None = None) -> Response:  # noqa: A002
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": _safe_next(next), "error": error, "login_csrf": token})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
        path="/login",
    )
    return response


@router.post("/login")
def login(
    *,
    request: Request,
    db: DB,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=500)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",  # noqa: A002
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not secrets.compare_digest(cookie, csrf_token):
        raise PermissionDenied("the login form expired: reload the page and sign in again")
    s = request.app.state.settings
    client = request.client.host if request.client else "unknown"
    result = accounts.authenticate(
        db,
        email=email,
        password=password,
        client=client,
        max_failures=s.login_max_failures,
        lock_minutes=s.login_lock_minutes,
    )
    if result.user is None:
        # The failure count must be kept: commit it, then answer (no exception, which would roll back).
        message = (
            f"Too many failed attempts. Try again after {result.locked_until:%H:%M} UTC."
            if result.locked_until
            else "Wrong e-mail or password."
        )
        token = secrets.token_urlsafe(24)
        response = render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": message, "login_csrf": token, "email": email},
            status=429 if result.locked_until else 401,
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=s.cookie_secure, path="/login"
        )
        return response
    secret, _ = accounts.create_web_session(db, user=result.user, hours=s.session_hours)
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=s.cookie_secure,
        max_age=s.session_hours * 3600,
    )
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return redirect


@router.post("/logout")
def logout(*, request: Request, db: DB, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(request, db, csrf_token)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.end_web_session(db, secret=secret)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
def overview(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    org = directory.get_organisation(db, principal=principal, org_id=principal.org_id or "")
    latest = documents.list_documents(db, principal=principal, limit=5)
    return render(
        request,
        "overview.html",
        {
            "org": org,
            "type_counts": queries.org_type_counts(db),
            "latest": latest.items,
            "owners": queries.org_refs(db, (d.owner_org_id for d in latest.items)),
            "can_write_documents": principal.has(Permission.DOCUMENT_WRITE),
        },
    )


# incident_views before incident_page (alert_views before alert_page): /incidents/new and /alerts/new must not
# be taken for an id.
_SECTIONS = (
    directory_views,
    document_views,
    incident_views,
    incident_page,
    incident_flows,
    alert_views,
    alert_page,
    admin_views,
    account_views,
    situation_views,
    contribution_views,
    sitrep_views,
    crisis_views,
    crisis_governance,
    assistance_views,
    comms_views,
    handoff_views,
)
for _section in _SECTIONS:
    router.include_router(_section.router)
