"""Request dependencies: the one transaction per request, and who is asking."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from cybercrisis.access.principal import ANONYMOUS, Principal
from cybercrisis.accounts import service as accounts
from cybercrisis.db import begin_write, unit_of_work
from cybercrisis.errors import DomainError, NotAuthenticated, PermissionDenied

SESSION_COOKIE = "cc_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_db(request: Request) -> Iterator[Session]:
    """The request's transaction, and who asks, in one trip to the thread pool (see `optional_principal`).

    Commits when the handler returns, rolls back when it raises; before the response is sent. A write checks the
    credentials before it begins writing, which on SQLite takes the database's one write lock: bad credentials are
    refused at once instead of queueing behind other writers (and are refused even where the route would not ask).
    """
    write = request.method not in SAFE_METHODS
    with unit_of_work(request.app.state.sessionmaker, write=False) as session:
        try:
            request.state.principal_or_refusal = optional_principal(request, session)
        except DomainError as refusal:
            if write:
                raise
            request.state.principal_or_refusal = refusal
        if write:
            begin_write(session)
            if request.state.principal_or_refusal.is_authenticated:
                # Once more inside the writing transaction: a token revoked or a user deactivated while this request
                # waited for the write lock must not write (on SQLite the wait is for that very revocation).
                request.state._state.pop("web_session", None)
                request.state.principal_or_refusal = optional_principal(request, session)
        yield session


DB = Annotated[Session, Depends(get_db, scope="function")]


def _from_authorization(db: Session, header: str) -> Principal:
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    principal = None
    if scheme == "bearer" and value:
        principal = accounts.principal_from_token(db, value.strip())
    elif scheme == "basic" and value:
        # HTTP Basic: the user's e-mail and one of their API tokens as the password (TAXII clients use it).
        try:
            email, _, token = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            email, token = "", ""
        principal = accounts.principal_from_token(db, token) if token else None
        if principal is not None and principal.email != email.strip().lower():
            principal = None
    if principal is None:
        raise NotAuthenticated("the token is unknown, expired or revoked")
    return principal


def web_session(request: Request, db: Session) -> accounts.SignedIn | None:
    """The UI session of the cookie, with what pages show of its user (one SELECT, once per request)."""
    if "web_session" not in request.state._state:
        secret = request.cookies.get(SESSION_COOKIE)
        request.state.web_session = accounts.signed_in(db, secret) if secret else None
    row: accounts.SignedIn | None = request.state.web_session
    return row


def optional_principal(request: Request, db: Session) -> Principal:
    """Bearer/Basic credentials, else the UI session cookie, else anonymous."""
    header = request.headers.get("authorization")
    if header:
        return _from_authorization(db, header)
    row = web_session(request, db)
    if row is None:
        return ANONYMOUS
    # Cookie-authenticated API writes (from our own pages' scripts) must carry the CSRF token.
    unsafe_api = request.method not in SAFE_METHODS and request.url.path.startswith("/api/")
    if unsafe_api and not secrets.compare_digest(request.headers.get("x-csrf-token", ""), row.csrf_token):
        raise PermissionDenied("missing or wrong X-CSRF-Token header")
    return row.principal


async def asking_principal(request: Request, db: DB) -> Principal:
    """Who asks, as `get_db` found it; async: no I/O here, so no trip through the thread pool."""
    found: Principal | DomainError = request.state.principal_or_refusal
    if isinstance(found, DomainError):
        raise found
    return found


async def current_principal(principal: Annotated[Principal, Depends(asking_principal)]) -> Principal:
    if not principal.is_authenticated:
        raise NotAuthenticated("sign in, or send an API token as 'Authorization: Bearer <token>'")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal, Depends(asking_principal)]
