"""The reader's own account: API tokens, shown once when created."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access.principal import Principal
from cybercrisis.accounts import service as accounts
from cybercrisis.deps import DB
from cybercrisis.errors import InvalidInput
from cybercrisis.web.forms import FormState
from cybercrisis.web.pagedeps import NO_STORE, PagePrincipal, check_csrf, see_other
from cybercrisis.web.render import render

router = APIRouter()


def _tokens_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    form: FormState | None = None,
    created: str | None = None,
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
        },
        status=status,
        headers=NO_STORE if created else None,
    )


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens_page(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    return _tokens_page(request, db, principal)


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
    check_csrf(request, db, csrf_token)
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
    check_csrf(request, db, csrf_token)
    accounts.revoke_token(db, actor=principal, token_id=token_id)
    return see_other("/account/tokens")
