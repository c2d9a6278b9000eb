"""Users, API tokens, and turning credentials into a Principal (sign-in and web sessions: accounts/login.py)."""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cybercrisis.access import credentials
from cybercrisis.access.permissions import Permission, Role, permissions_for
from cybercrisis.access.principal import Principal
from cybercrisis.accounts import security
from cybercrisis.accounts.models import ApiToken, User, WebSession
from cybercrisis.audit import service as audit
from cybercrisis.db import new_id, utcnow
from cybercrisis.directory.models import CommunityMembership, Organisation
from cybercrisis.errors import Conflict, InvalidInput, NotFound, PermissionDenied

# The operator at the command line: may administer, but is not a user and so reads only TLP:CLEAR.
SYSTEM = Principal(user_id=None, org_id=None, permissions=frozenset(Permission), roles=("system",))


def _normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 320:
        raise InvalidInput(f"'{email}' is not an e-mail address", errors=[{"field": "email", "message": "invalid"}])
    return email


def _parse_roles(roles: list[str]) -> list[str]:
    valid = [r.value for r in Role]
    bad = [r for r in roles if r not in valid]
    if bad or not roles:
        msg = f"unknown role(s) {', '.join(bad)}" if bad else "at least one role is needed"
        raise InvalidInput(f"{msg}; valid: {', '.join(valid)}", errors=[{"field": "roles", "message": msg}])
    return sorted(set(roles), key=valid.index)


def find_org(session: Session, ref: str) -> Organisation:
    """An organisation by id or short name (case-insensitive)."""
    org = session.get(Organisation, ref) if "--" in ref else None
    if org is None:
        org = session.scalars(select(Organisation).where(Organisation.short_name.ilike(ref))).first()
    if org is None:
        raise NotFound(f"no organisation '{ref}'")
    return org


def create_user(
    session: Session,
    *,
    actor: Principal,
    org_ref: str,
    email: str,
    roles: list[str],
    password: str | None,
    display_name: str = "",
) -> tuple[User, str | None]:
    """Create a user; returns the generated password when none was given (shown once, never stored)."""
    org = find_org(session, org_ref)
    roles = _parse_roles(roles)
    credentials.check_user_change(actor, org_id=org.id, roles_before=[], roles_after=roles, creating=True)
    email = _normalise_email(email)
    if session.scalars(select(User.id).where(User.email == email)).first():
        raise Conflict(f"a user with e-mail {email} exists already")
    generated = None
    if password is None:
        password = generated = security.generate_password()
    if len(password) < security.MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"passwords need at least {security.MIN_PASSWORD_LENGTH} characters",
            errors=[{"field": "password", "message": "too short"}],
        )
    user = User(
        id=new_id("user"),
        email=email,
        display_name=display_name.strip(),
        org_id=org.id,
        roles=roles,
        password_hash=security.hash_password(password),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="accounts:user:create",
        object_id=user.id,
        summary={"org": org.id, "roles": roles},
    )
    return user, generated


def update_user(
    session: Session, *, actor: Principal, user_id: str, roles: list[str] | None, is_active: bool | None
) -> User:
    user = session.get(User, user_id)
    if user is None or not (actor.has(Permission.USER_WRITE_ANY) or actor.org_id == user.org_id):
        raise NotFound(f"no user with id {user_id}")
    new_roles = _parse_roles(roles) if roles is not None else user.roles
    credentials.check_user_change(actor, org_id=user.org_id, roles_before=user.roles, roles_after=new_roles)
    if user.id == actor.user_id and is_active is False:
        raise Conflict("you cannot deactivate yourself")
    changes: dict[str, object] = {}
    if roles is not None and new_roles != user.roles:
        changes["roles"] = [user.roles, new_roles]
        user.roles = new_roles
    if is_active is not None and is_active != user.is_active:
        changes["is_active"] = [user.is_active, is_active]
        user.is_active = is_active
        if not is_active:
            session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    if changes:
        user.modified_at = utcnow()
        audit.record(session, actor=actor, tag="accounts:user:update", object_id=user.id, summary=changes)
    return user


def list_users(session: Session, *, actor: Principal, org_id: str | None) -> list[User]:
    actor.require(Permission.USER_READ)
    org_id = org_id or actor.org_id
    if org_id != actor.org_id and not actor.has(Permission.USER_WRITE_ANY):
        raise PermissionDenied("you may list the users of your own organisation only")
    return list(session.scalars(select(User).where(User.org_id == org_id).order_by(User.email)))


# --- tokens -----------------------------------------------------------------------------------------


def create_token(
    session: Session,
    *,
    actor: Principal,
    user_ref: str,
    name: str = "",
    scopes: list[str] | None = None,
    expires_days: int,
) -> tuple[str, ApiToken]:
    """Issue a token for a user; returns the token text, shown once. Users mint their own; the operator any."""
    user = session.get(User, user_ref) if user_ref.startswith("user--") else None
    if user is None:
        user = session.scalars(select(User).where(User.email == user_ref.strip().lower())).first()
    # Refused before "not found": whether another user exists is none of the caller's business.
    credentials.check_token_issuer(actor, user_id=user.id if user else "")
    if user is None:
        raise NotFound(f"no user '{user_ref}'")
    if not 1 <= expires_days <= 3650:
        raise InvalidInput(
            "expires_days must be between 1 and 3650",
            errors=[{"field": "expires_days", "message": "out of range"}],
        )
    requested = credentials.token_scopes(actor, user_roles=user.roles, requested=scopes)
    text = security.new_api_token()
    token = ApiToken(
        id=new_id("api-token"),
        user_id=user.id,
        name=name.strip(),
        token_hash=security.digest(text),
        prefix=text[:10],
        scopes=requested,
        expires_at=utcnow() + timedelta(days=expires_days),
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        tag="accounts:token:create",
        object_id=token.id,
        summary={"user": user.id, "expires_at": token.expires_at.isoformat()},
    )
    return text, token


def _token_visible(actor: Principal, token: ApiToken) -> bool:
    return token.user_id == actor.user_id or credentials.may_manage_tokens_of(
        actor, org_id=token.user.org_id, roles=token.user.roles
    )


def list_tokens(session: Session, *, actor: Principal, user_id: str | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.created_at.desc())
    if user_id:
        query = query.where(ApiToken.user_id == user_id)
    elif actor.has(Permission.TOKEN_MANAGE) and actor.org_id:
        query = query.join(User, ApiToken.user_id == User.id).where(User.org_id == actor.org_id)
    else:
        query = query.where(ApiToken.user_id == actor.user_id)
    return [t for t in session.scalars(query) if _token_visible(actor, t)]


def revoke_token(session: Session, *, actor: Principal, token_id: str) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or not _token_visible(actor, token):
        raise NotFound(f"no token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(session, actor=actor, tag="accounts:token:revoke", object_id=token.id)
    return token


# --- principals -------------------------------------------------------------------------------------


def _principal(
    *,
    user_id: str,
    email: str,
    roles: list[str],
    org_id: str,
    communities: frozenset[str],
    token_id: str | None = None,
    scopes: list[str] | None = None,
) -> Principal:
    perms = permissions_for(roles)
    if scopes is not None:
        perms = perms & frozenset(Permission(s) for s in scopes if s in Permission._value2member_map_)
    return Principal(
        user_id=user_id,
        org_id=org_id,
        communities=communities,
        permissions=perms,
        roles=tuple(roles),
        token_id=token_id,
        email=email,
    )


def principal_for(session: Session, user: User, *, token: ApiToken | None = None) -> Principal:
    communities = session.scalars(
        select(CommunityMembership.community_slug).where(CommunityMembership.org_id == user.org_id)
    )
    return _principal(
        user_id=user.id,
        email=user.email,
        roles=user.roles,
        org_id=user.org_id,
        communities=frozenset(communities),
        token_id=token.id if token else None,
        scopes=token.scopes if token else None,
    )


# Credentials are checked on every request: one SELECT each, the user's columns and the organisation's communities
# joined in (one row per community; none is a row with NULL). Nothing is cached, so that a revoked token, a signed-out
# session or a deactivated user stops working with the next request.


def principal_from_token(session: Session, text: str) -> Principal | None:
    rows = session.execute(
        select(
            ApiToken.id,
            ApiToken.scopes,
            ApiToken.expires_at,
            ApiToken.revoked_at,
            User.id.label("user_id"),
            User.email,
            User.roles,
            User.org_id,
            User.is_active,
            CommunityMembership.community_slug,
        )
        .join(User, User.id == ApiToken.user_id)
        .outerjoin(CommunityMembership, CommunityMembership.org_id == User.org_id)
        .where(ApiToken.token_hash == security.digest(text))
    ).all()
    if not rows:
        return None
    row = rows[0]
    if row.revoked_at is not None or row.expires_at <= utcnow() or not row.is_active:
        return None
    return _principal(
        user_id=row.user_id,
        email=row.email,
        roles=row.roles,
        org_id=row.org_id,
        communities=frozenset(r.community_slug for r in rows if r.community_slug),
        token_id=row.id,
        scopes=row.scopes,
    )


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live UI session with what every page shows of its user: plain values, usable after the session closed."""

    principal: Principal
    csrf_token: str
    display_name: str
    org_name: str
    org_short_name: str
    time_zone: str = ""


def signed_in(session: Session, secret: str) -> SignedIn | None:
    """The UI session whose cookie carries `secret`, if it is live and its user active."""
    rows = session.execute(
        select(
            WebSession.csrf_token,
            WebSession.expires_at,
            User.id.label("user_id"),
            User.email,
            User.display_name,
            User.roles,
            User.org_id,
            User.is_active,
            User.time_zone,
            Organisation.name.label("org_name"),
            Organisation.short_name.label("org_short_name"),
            CommunityMembership.community_slug,
        )
        .join(User, User.id == WebSession.user_id)
        .join(Organisation, Organisation.id == User.org_id)
        .outerjoin(CommunityMembership, CommunityMembership.org_id == User.org_id)
        .where(WebSession.id_hash == security.digest(secret))
    ).all()
    if not rows:
        return None
    row = rows[0]
    if row.expires_at <= utcnow() or not row.is_active:
        return None
    principal = _principal(
        user_id=row.user_id,
        email=row.email,
        roles=row.roles,
        org_id=row.org_id,
        communities=frozenset(r.community_slug for r in rows if r.community_slug),
    )
    return SignedIn(
        principal=principal,
        csrf_token=row.csrf_token,
        display_name=row.display_name,
        org_name=row.org_name,
        org_short_name=row.org_short_name,
        time_zone=row.time_zone,
    )


def set_time_zone(session: Session, *, actor: Principal, zone: str) -> str:
    """The reader's own time zone for pages (an IANA name, or "" for UTC); audited like every change."""
    zone = zone.strip()
    if zone and zone not in _zones():
        raise InvalidInput(
            f"'{zone[:64]}' is not a time zone; choose one of the list (e.g. Europe/Brussels), or UTC",
            errors=[{"field": "time_zone", "message": "choose a time zone of the list"}],
        )
    user = session.get(User, actor.user_id) if actor.user_id else None
    if user is None:
        raise PermissionDenied("only a signed-in user has a time zone")
    before = user.time_zone
    if before != zone:
        user.time_zone = zone
        user.modified_at = utcnow()
        audit.record(
            session,
            actor=actor,
            tag="accounts:user:time-zone",
            object_id=user.id,
            summary={"time_zone": [before or "UTC", zone or "UTC"]},
        )
    return zone


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zones() -> list[str]:
    """The zones a user may choose, Europe's first (the platform's users are mostly there), then the others."""
    zones = sorted(_zones())
    return [z for z in zones if z.startswith("Europe/")] + [z for z in zones if not z.startswith("Europe/")]
