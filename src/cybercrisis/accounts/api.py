"""Accounts API: who am I, users of my organisation, API tokens."""

from __future__ import annotations

from fastapi import APIRouter

from cybercrisis.accounts import service
from cybercrisis.accounts.models import ApiToken, User
from cybercrisis.accounts.schemas import (
    MeOut,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserCreated,
    UserIn,
    UserOut,
    UserPatch,
)
from cybercrisis.deps import DB, CurrentPrincipal
from cybercrisis.directory.api import org_out
from cybercrisis.directory.reading import organisation_cards
from cybercrisis.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["accounts"])


def user_out(u: User) -> UserOut:
    return UserOut(
        id=u.id,
        email=u.email,
        display_name=u.display_name,
        organisation=u.org_id,
        roles=u.roles,
        is_active=u.is_active,
    )


def token_out(t: ApiToken) -> TokenOut:
    return TokenOut(
        id=t.id,
        user=t.user_id,
        name=t.name,
        prefix=t.prefix,
        scopes=t.scopes,
        created_at=t.created_at,
        expires_at=t.expires_at,
        revoked_at=t.revoked_at,
    )


@router.get("/me", operation_id="get_me", response_model=MeOut)
def me(db: DB, principal: CurrentPrincipal) -> MeOut:
    user = db.get(User, principal.user_id)
    if user is None:
        raise NotFound("your account no longer exists")
    return MeOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        organisation=org_out(organisation_cards(db, [user.org_id])[user.org_id]),
        roles=user.roles,
        permissions=sorted(p.value for p in principal.permissions),
    )


@router.get("/users", operation_id="list_users", response_model=list[UserOut])
def list_users(db: DB, principal: CurrentPrincipal, organisation: str | None = None) -> list[UserOut]:
    return [user_out(u) for u in service.list_users(db, actor=principal, org_id=organisation)]


@router.post("/users", status_code=201, operation_id="create_user", response_model=UserCreated)
def create_user(body: UserIn, db: DB, principal: CurrentPrincipal) -> UserCreated:
    user, generated = service.create_user(
        db,
        actor=principal,
        org_ref=body.organisation or principal.org_id or "",
        email=body.email,
        roles=body.roles,
        password=body.password,
        display_name=body.display_name,
    )
    return UserCreated(**user_out(user).model_dump(), password=generated)


@router.patch("/users/{user_id}", operation_id="update_user", response_model=UserOut)
def update_user(user_id: str, body: UserPatch, db: DB, principal: CurrentPrincipal) -> UserOut:
    return user_out(
        service.update_user(db, actor=principal, user_id=user_id, roles=body.roles, is_active=body.is_active)
    )


@router.get("/tokens", operation_id="list_tokens", response_model=list[TokenOut])
def list_tokens(db: DB, principal: CurrentPrincipal) -> list[TokenOut]:
    return [token_out(t) for t in service.list_tokens(db, actor=principal)]


@router.post("/tokens", status_code=201, operation_id="create_token", response_model=TokenCreated)
def create_token(body: TokenIn, db: DB, principal: CurrentPrincipal) -> TokenCreated:
    text, token = service.create_token(
        db,
        actor=principal,
        user_ref=body.user or principal.user_id or "",
        name=body.name,
        scopes=body.scopes,
        expires_days=body.expires_days,
    )
    return TokenCreated(**token_out(token).model_dump(), token=text)


@router.delete("/tokens/{token_id}", operation_id="revoke_token", response_model=TokenOut)
def revoke_token(token_id: str, db: DB, principal: CurrentPrincipal) -> TokenOut:
    return token_out(service.revoke_token(db, actor=principal, token_id=token_id))
