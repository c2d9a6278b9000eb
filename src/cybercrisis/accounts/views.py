"""Signing in and out, and the reader's own account: API tokens, shown once when created."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.accounts import login as signing_in
from cybercrisis.accounts import service as accounts
from cybercrisis.deps import DB, SESSION_COOKIE
from cybercrisis.errors import InvalidInput, PermissionDenied
from cybercrisis.web.forms import FormState
from cybercrisis.web.pagedeps import CSRF, NO_STORE, PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
# Signing in comes before a session exists: the login form has its own CSRF cookie, and logging out checks the
# session's token itself so that a post without a session is refused (403) rather than sent to the login page.
sign_in_router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "cc_login_csrf"


def _tokens_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    form: FormState | None = None,
    created: str | None = None,
    zone_form: FormState | None = None,
    zone_saved: bool = False,
    status: int = 200,
) -> Response:
    default_days = request.app.state.settings.token_default_days
    return render(
        request,
        "account_tokens.html",
        {
            "tokens": accounts.list_tokens(db, actor=principal, user_id=principal.user_id),
            "form": form or FormState(values={"expires_days": default_days}),
            "created": created,
            "zone_form": zone_form or FormState(),
            "time_zones": accounts.time_zones(),
            "zone_saved": zone_saved,
        },
        status=status,
        headers=NO_STORE if created else None,
    )


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(*, request: Request, db: DB, principal: PagePrincipal, saved: str = "") -> Response:
    return _tokens_page(request, db, principal, zone_saved=saved == "time-zone")


@router.post("/account/time-zone")
def set_time_zone(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    time_zone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        accounts.set_time_zone(db, actor=principal, zone=time_zone)
    except InvalidInput as exc:
        db.rollback()
        form = FormState.failed(exc, {"time_zone": time_zone})
        return _tokens_page(request, db, principal, zone_form=form, status=422)
    return see_other("/account/tokens?saved=time-zone#time-zone")


@router.post("/account/tokens")
def create_token(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    expires_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    values = {"name": name, "expires_days": expires_days}
    try:
        days = int(expires_days) if expires_days.strip().isdigit() else 0
        text, _ = accounts.create_token(
            db, actor=principal, user_ref=principal.user_id or "", name=name, expires_days=days
        )
    except InvalidInput as exc:
        db.rollback()
        return _tokens_page(request, db, principal, form=FormState.failed(exc, values), status=422)
    # The token exists in clear only in this response: show it once instead of redirecting.
    return _tokens_page(request, db, principal, created=text)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    *,
    token_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    accounts.revoke_token(db, actor=principal, token_id=token_id)
    return see_other("/account/tokens")


def _safe_next(value: str | None) -> str:
    return value if value and value.startswith("/") and not value.startswith("//") else "/"


@sign_in_router.get("/login", response_class=HTMLResponse)
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


@sign_in_router.post("/login")
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
    result = signing_in.authenticate(
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
    secret, _ = signing_in.create_web_session(db, user=result.user, hours=s.session_hours)
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


@sign_in_router.post("/logout")
def logout(*, request: Request, db: DB, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(request, db, csrf_token)
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        signing_in.end_web_session(db, secret=secret)
    response = see_other("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response
