"""Pages. Thin: parse the form, call a service, render. Forms carry the session's CSRF token."""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cybercrisis.access.principal import Principal
from cybercrisis.accounts import service as accounts
from cybercrisis.deps import DB, SESSION_COOKIE, optional_principal, web_session
from cybercrisis.errors import NotAuthenticated, PermissionDenied
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "cc_login_csrf"


class LoginRequired(NotAuthenticated):
    """Raised by page dependencies; the app turns it into a redirect to the login page."""


def page_principal(request: Request, principal: Annotated[Principal, Depends(optional_principal)]) -> Principal:
    if not principal.is_authenticated:
        raise LoginRequired(request.url.path)
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]


def check_csrf(request: Request, db: DB, token: str) -> None:
    ws = web_session(request, db)
    if ws is None or not secrets.compare_digest(token or "", ws.csrf_token):
        raise PermissionDenied("the form expired or did not come from this site: reload the page and try again")


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None, error: str | None = None) -> Response:  # noqa: A002
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": _safe_next(next), "error": error, "login_csrf": token})
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.settings.cookie_secure, path="/login")
    return response


@router.post("/login")
def login(
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
    result = accounts.authenticate(db, email=email, password=password, client=client,
                                   max_failures=s.login_max_failures, lock_minutes=s.login_lock_minutes)
    if result.user is None:
        # The failure count must be kept: commit it, then answer (no exception, which would roll back).
        message = (
            f"Too many failed attempts. Try again after {result.locked_until:%H:%M} UTC."
            if result.locked_until else "Wrong e-mail or password."
        )
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", {"next": _safe_next(next), "error": message, "login_csrf": token,
                                                  "email": email},
                          status=429 if result.locked_until else 401)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=s.cookie_secure,
                            path="/login")
        return response
    secret, _ = accounts.create_web_session(db, user=result.user, hours=s.session_hours)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", secure=s.cookie_secure,
                        max_age=s.session_hours * 3600)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, db: DB, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(request, db, csrf_token)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        accounts.end_web_session(db, secret=secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def login_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
