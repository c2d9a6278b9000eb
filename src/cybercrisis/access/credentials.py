"""Acting as someone: who mints a token, with which scopes, and who manages which user (the authority policy).

A token is minted only by its own user, or by the server operator at the command line. Administrators revoke tokens
and disable users; they never obtain credentials. A token's scopes are a subset of the scopes of the credential that
creates it and of its user's roles, and they bound reads as well as writes (policy.READ_SCOPE). Nobody manages a
user who holds a permission they do not hold themselves. Acting for the organisation is in authority.py, widening
in widening.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cybercrisis.access.permissions import Permission, Role, permissions_for
from cybercrisis.access.principal import Principal
from cybercrisis.errors import InvalidInput, PermissionDenied


def outranks(actor: Principal, roles: Iterable[str]) -> bool:
    """Whether `actor` holds every permission that `roles` grant (the operator holds them all)."""
    return actor.is_operator or permissions_for(tuple(roles)) <= actor.permissions


def grantable_roles(actor: Principal) -> list[str]:
    """The roles `actor` may give: those whose permissions it holds itself."""
    return [r.value for r in Role if outranks(actor, [r.value])]


def check_token_issuer(actor: Principal, *, user_id: str) -> None:
    """Only a user mints their own tokens; the operator's CLI mints any. Admins revoke, never impersonate."""
    if actor.is_operator:
        return
    if actor.user_id != user_id:
        raise PermissionDenied(
            "a token is created by its own user only (the server operator can use `cybercrisis token create`); "
            "administrators revoke tokens and disable users, they do not obtain credentials"
        )
    actor.require(Permission.TOKEN_OWN)


def token_scopes(actor: Principal, *, user_roles: Iterable[str], requested: Sequence[str] | None) -> list[str]:
    """The scopes of a new token: at most what the creating credential holds and what the user's roles grant.

    Without `requested`, the token gets exactly that bound (a narrow token makes narrow tokens)."""
    bound = permissions_for(tuple(user_roles))
    if not actor.is_operator:
        bound &= actor.permissions
    allowed = {p.value for p in bound}
    if requested is None:
        return sorted(allowed)
    wanted = sorted(set(requested))
    known = {p.value for p in Permission}
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise InvalidInput(
            f"unknown scope(s): {', '.join(unknown)}; valid: {', '.join(sorted(known))}",
            errors=[{"field": "scopes", "message": "unknown scope"}],
        )
    beyond = [s for s in wanted if s not in allowed]
    if beyond:
        raise InvalidInput(
            f"a token cannot hold more than the credential that creates it and its user's roles: {', '.join(beyond)}",
            errors=[{"field": "scopes", "message": "beyond the creating credential or the user's roles"}],
        )
    return wanted


def check_user_change(
    actor: Principal, *, org_id: str, roles_before: Sequence[str], roles_after: Sequence[str], creating: bool = False
) -> None:
    """May `actor` create or change (roles, active) a user of `org_id` who holds `roles_before`, to `roles_after`?

    Platform admins manage every organisation, organisation admins their own; and nobody manages a user who holds
    a permission they lack, or grants one (an organisation admin cannot demote, disable or create a platform admin).
    Creating a user yields its first password, a credential: an administrator creates users of its own organisation
    only; the first user of another organisation is created by the operator (`cybercrisis user create`).
    """
    if creating and not actor.is_operator and actor.org_id != org_id:
        raise PermissionDenied(
            "you create users of your own organisation only: creating one yields its password; the operator "
            "creates another organisation's first user with `cybercrisis user create`"
        )
    if not actor.is_operator:
        if not actor.has(Permission.USER_WRITE_ANY):
            actor.require(Permission.USER_WRITE)
            if actor.org_id != org_id:
                raise PermissionDenied("organisation admins manage the users of their own organisation only")
        if not outranks(actor, roles_before):
            raise PermissionDenied(
                "this user holds permissions you do not hold: only someone who holds them all "
                "changes or disables this account"
            )
        beyond = [r for r in roles_after if not outranks(actor, [r])]
        if beyond:
            raise PermissionDenied(f"you cannot grant a role whose permissions you do not hold: {', '.join(beyond)}")


def may_manage_tokens_of(actor: Principal, *, org_id: str, roles: Sequence[str]) -> bool:
    """Whether `actor` sees and revokes the tokens of a user of `org_id` with `roles` (their own: always)."""
    if actor.is_operator:
        return True
    in_scope = actor.has(Permission.USER_WRITE_ANY) or (actor.has(Permission.TOKEN_MANAGE) and actor.org_id == org_id)
    return in_scope and outranks(actor, roles)
