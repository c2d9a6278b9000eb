"""Account writes for the property test: tokens (acting as someone) and users (who manages whom)."""

from __future__ import annotations

from typing import Any

from httpx2 import Response

from tests.access.authority_acts import ADMINS, Ctx, Step, base
from tests.access.authority_rules import ROLES, UNAUTH, Actor, Expect, allow, forbid, role_permissions
from tests.access.authority_state import Snap
from tests.access.authority_world import Cred, Request

# --- accounts -----------------------------------------------------------------------------------------------------


def _scope_check(actor: Actor, user_roles: tuple[str, ...], requested: list[str] | None) -> tuple[bool, frozenset[str]]:
    bound = role_permissions(user_roles) & actor.perms
    return (requested is None or set(requested) <= bound), bound


def token_create(ctx: Ctx) -> Step:
    """A token is minted only by its own user, with at most the scopes of the creating credential and the roles."""
    page = ctx.num(0, 4) == 0
    cred, actor = ctx.who(page=page)
    everything = sorted(ROLES["platform-admin"])
    if page:
        exp = base(ctx, actor, None, "accounts:token:write-own") or allow("its own token")
        req = Request("POST", "/account/tokens", form={"name": "t", "expires_days": "5"})
        return Step("token.create (page)", req, cred, actor, exp)
    other = ctx.num(0, 3) == 0
    target = ctx.pick(ctx.reg.users) if other else actor.user_id
    scopes = None
    if ctx.flip():
        pool = sorted(actor.perms) if ctx.num(0, 3) else everything
        scopes = ctx.subset(pool or everything, 1, 6)
    body: dict[str, Any] = {"name": "t", "expires_days": 5, "scopes": scopes}
    if target != actor.user_id or ctx.flip():
        body["user"] = ctx.snap.users[target].email if ctx.flip() else target
    exp = base(ctx, actor, None, "accounts:token:write-own")
    user_roles = ctx.snap.users[target].roles
    within, bound = _scope_check(actor, user_roles, scopes)
    if exp is None:
        if target != actor.user_id:
            exp = forbid("a token is minted by its own user only")
        else:
            exp = allow("its own token", invalid=not within)

    def post(_before: Snap, after: Snap, r: Response) -> str | None:
        if r.status_code != 201:
            return None
        got = set(r.json()["scopes"])
        want = set(scopes) if scopes else set(bound)
        if got != want:
            return f"new token scopes {sorted(got)} != expected {sorted(want)}"
        ctx.reg.creds.setdefault(target, []).append(Cred(target, "token", r.json()["token"], r.json()["id"]))
        return None

    return Step("token.create", Request("POST", "/api/v1/tokens", json=body), cred, actor, exp, post=post)


def token_revoke(ctx: Ctx) -> Step | None:
    """Own tokens always; admins those of users whose permissions they hold (org admin: its organisation)."""
    token = ctx.pick(ctx.reg.tokens)
    if token is None or token not in ctx.snap.tokens:
        return None
    owner = ctx.snap.users[ctx.snap.tokens[token].user]
    page = ctx.num(0, 3) == 0
    cred, actor = ctx.who([owner.org], page=page, roles=ADMINS)
    if not actor.valid:
        exp = Expect(UNAUTH, "credential")
    elif owner.id == actor.user_id:
        exp = allow("its own token")
    else:
        outranks = role_permissions(owner.roles) <= actor.perms
        in_scope = "accounts:user:write-any" in actor.perms or (
            "accounts:token:manage" in actor.perms and actor.org == owner.org
        )
        exp = (
            allow("an admin who holds the user's permissions")
            if in_scope and outranks
            else Expect("deny", "not its token, not an admin who outranks its user")
        )
    if page:
        req = Request("POST", f"/account/tokens/{token}/revoke", form={})
    else:
        req = Request("DELETE", f"/api/v1/tokens/{token}")
    return Step("token.revoke" + (" (page)" if page else ""), req, cred, actor, exp, None)


def _user_change(ctx: Ctx, actor: Actor, org: str, before: tuple[str, ...], after: list[str]) -> Expect | None:
    """docs: org admins manage their own organisation's users, platform admins any; nobody manages a user who holds
    a permission they lack, or grants a role whose permissions they lack."""
    if "accounts:user:write-any" not in actor.perms:
        if "accounts:user:write" not in actor.perms:
            return Expect("deny", "lacks accounts:user:write")
        if actor.org != org:
            return Expect("deny", "another organisation's user")
    if not role_permissions(before) <= actor.perms:
        return Expect("deny", "the user holds permissions the actor lacks")
    if not role_permissions(tuple(after)) <= actor.perms:
        return Expect("deny", "grants a role whose permissions the actor lacks")
    return None


def user_create(ctx: Ctx) -> Step:
    page = ctx.num(0, 2) == 0
    cred, actor = ctx.who(page=page, roles=ADMINS)
    roles = ctx.subset(list(ROLES), 1, 2)
    org = actor.org if page or ctx.flip() else ctx.pick(ctx.org_ids())
    email = ctx.reg.fresh("new.user.") + "@example.org"
    if not actor.valid:
        exp = Expect(UNAUTH, "credential")
    else:
        # docs: a platform admin creates users in "its own organisation (creating a user yields its first password,
        # a credential)"; the same 403 for every organisation, so denying reveals nothing.
        exp = _user_change(ctx, actor, org, (), roles) or allow("manages users of this organisation")
        if exp.verdict == "allow" and actor.org != org:
            exp = Expect("deny", "creates users of its own organisation only")
    if page:
        req = Request("POST", "/admin/users", form={"email": email, "roles": roles, "password": "a long password 1"})
    else:
        req = Request(
            "POST",
            "/api/v1/users",
            json={"email": email, "organisation": org, "roles": roles, "password": "a long password 1"},
        )
    return Step("user.create" + (" (page)" if page else ""), req, cred, actor, exp)


def user_update(ctx: Ctx) -> Step | None:
    target = ctx.pick(ctx.reg.users)
    if target is None:
        return None
    user = ctx.snap.users[target]
    page = ctx.num(0, 2) == 0
    cred, actor = ctx.who([user.org], page=page, roles=ADMINS)
    roles = ctx.subset(list(ROLES), 1, 2)
    # Disabling is drawn rarely: every disabled user is one fewer actor for the rest of the run.
    active = ctx.num(0, 5) != 0
    if page:
        req = Request(
            "POST", f"/admin/users/{target}", form={"roles": roles, **({"is_active": "yes"} if active else {})}
        )
        new_roles, new_active = roles, active
    else:
        body: dict[str, Any] = {}
        if ctx.flip():
            body["roles"] = roles
        if ctx.flip() or not body:
            body["is_active"] = active
        req = Request("PATCH", f"/api/v1/users/{target}", json=body)
        new_roles, new_active = body.get("roles", list(user.roles)), body.get("is_active", user.active)
    if not actor.valid:
        exp = Expect(UNAUTH, "credential")
    else:
        exp = _user_change(ctx, actor, user.org, user.roles, new_roles) or allow(
            "manages this user", invalid=target == actor.user_id and not new_active
        )
    return Step("user.update" + (" (page)" if page else ""), req, cred, actor, exp, None)
