"""Administration pages: the users of the reader's organisation, and the audit log with chain verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from cybercrisis.access import credentials
from cybercrisis.access.permissions import Permission, Role
from cybercrisis.access.principal import Principal
from cybercrisis.accounts import service as accounts
from cybercrisis.audit import service as audit
from cybercrisis.audit.service import VerifyResult
from cybercrisis.deps import DB
from cybercrisis.errors import Conflict, InvalidInput
from cybercrisis.web import queries
from cybercrisis.web.forms import FormState
from cybercrisis.web.pagedeps import CSRF, NO_STORE, PagePrincipal, see_other
from cybercrisis.web.render import ROLE_LABELS, render

router = APIRouter(include_in_schema=False, dependencies=[CSRF])
Csrf = Annotated[str, Form(max_length=100)]
Roles = Annotated[list[str] | None, Form()]


def _grantable_roles(principal: Principal) -> list[str]:
    # Offer only the roles whose permissions this admin holds: the service refuses the others.
    return credentials.grantable_roles(principal)


def _users_page(
    request: Request,
    db: Session,
    principal: Principal,
    *,
    form: FormState | None = None,
    created: dict[str, Any] | None = None,
    row_error: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    users = accounts.list_users(db, actor=principal, org_id=None)
    return render(
        request,
        "admin_users.html",
        {
            "users": users,
            "can_write": principal.has(Permission.USER_WRITE),
            "roles": _grantable_roles(principal),
            "role_options": [(r, ROLE_LABELS.get(r, r)) for r in _grantable_roles(principal)],
            "form": form or FormState(values={"roles": [Role.ANALYST.value]}),
            "created": created,
            "row_error": row_error,
        },
        status=status,
        headers=NO_STORE if created else None,
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    return _users_page(request, db, principal)


@router.post("/admin/users")
def create_user(
    *,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    email: Annotated[str, Form(max_length=320)] = "",
    display_name: Annotated[str, Form(max_length=200)] = "",
    roles: Roles = None,
    password: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    principal.require(Permission.USER_WRITE)
    values = {"email": email, "display_name": display_name, "roles": roles or []}
    try:
        user, generated = accounts.create_user(
            db,
            actor=principal,
            org_ref=principal.org_id or "",
            email=email,
            roles=roles or [],
            password=password or None,
            display_name=display_name,
        )
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        form = FormState.failed(exc, values)
        if isinstance(exc, Conflict):
            form.errors["email"] = exc.detail
        return _users_page(request, db, principal, form=form, status=exc.status)
    if generated is None:
        return see_other("/admin/users")
    # The generated password exists only in this response: show it once instead of redirecting.
    return _users_page(request, db, principal, created={"email": user.email, "password": generated})


@router.post("/admin/users/{user_id}")
def update_user(
    *,
    user_id: str,
    request: Request,
    db: DB,
    principal: PagePrincipal,
    csrf_token: Csrf = "",
    roles: Roles = None,
    is_active: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        accounts.update_user(db, actor=principal, user_id=user_id, roles=roles or [], is_active=bool(is_active))
    except (InvalidInput, Conflict) as exc:
        db.rollback()
        return _users_page(request, db, principal, row_error=(user_id, exc.detail), status=exc.status)
    return see_other("/admin/users")


def _audit_page(request: Request, db: Session, principal: Principal, *, result: VerifyResult | None = None) -> Response:
    events = queries.recent_audit_events(db, principal=principal)
    orgs = queries.org_refs(db, (e.actor_org_id or "" for e in events))
    emails = queries.user_emails(db, (e.actor_user_id or "" for e in events))
    rows = [
        {
            "event": e,
            "org": orgs.get(e.actor_org_id or ""),
            "user": emails.get(e.actor_user_id or ""),
            "summary": e.summary,
        }
        for e in events
    ]
    return render(
        request,
        "admin_audit.html",
        {
            "rows": rows,
            "org_names": queries.org_names_in(db, (e.summary for e in events)),
            "all_orgs": principal.has(Permission.AUDIT_VERIFY),
            "can_verify": principal.has(Permission.AUDIT_VERIFY),
            "result": result,
        },
    )


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(*, request: Request, db: DB, principal: PagePrincipal) -> Response:
    return _audit_page(request, db, principal)


@router.post("/admin/audit/verify", response_class=HTMLResponse)
def verify_chain(*, request: Request, db: DB, principal: PagePrincipal, csrf_token: Csrf = "") -> Response:
    """Verifying changes nothing, so the result is shown in the response rather than after a redirect."""
    principal.require(Permission.AUDIT_VERIFY)
    result = audit.verify(db)
    return _audit_page(request, db, principal, result=result)
