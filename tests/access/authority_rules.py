"""The rules of docs/architecture.md ("The access model", "The authority policy"), written again for the tests.

Nothing here imports cybercrisis.access: the property test in test_authority_property.py compares the product with
this second, independent reading of the documentation. Names of permissions are the documented strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.access.test_policy import oracle  # the read rules, written once for the tests

# --- permissions and roles ------------------------------------------------------------------------------------

READS = frozenset(
    {
        "directory:organisation:read",
        "directory:document:read",
        "incidents:incident:read",
        "alerts:alert:read",
        "situation:report:read",
        "crises:crisis:read",
        "assistance:request:read",
        "comms:communication:read",
        "handoffs:handoff:read",
        "exchange:object:read",
    }
)
# "a viewer only reads; acknowledging, sending and recording start at analyst; deciding, approving and agreeing at
# coordinator"; organisation admins manage their organisation's users and tokens; a platform admin holds every
# permission (and still reads by TLP only).
VIEWER = READS | {"accounts:token:write-own"}
ANALYST = VIEWER | {
    "directory:document:write",
    "access:share:pass-on",
    "incidents:incident:write",
    "alerts:alert:send",
    "alerts:alert:acknowledge",
    "situation:contribution:write",
    "crises:action:write",
    "assistance:request:write",
    "assistance:capability:write",
    "comms:communication:write",
    "handoffs:handoff:write",
    "exchange:object:import",
}
DECIDE = {
    "situation:sitrep:write",
    "situation:sitrep:approve",
    "crises:crisis:write",
    "crises:decision:write",
    "crises:escalation:approve",
    "comms:communication:approve",
}
COORDINATOR = ANALYST | DECIDE | {"accounts:user:read"}
ORG_ADMIN = (
    ANALYST
    | DECIDE
    | {
        "directory:contact:write",
        "accounts:user:read",
        "accounts:user:write",
        "accounts:token:manage",
        "audit:event:read",
    }
)
ALL = (
    COORDINATOR
    | ORG_ADMIN
    | {
        "directory:organisation:write",
        "directory:organisation:import",
        "accounts:user:write-any",
        "exchange:collection:manage",
        "audit:chain:verify",
    }
)
ROLES: dict[str, frozenset[str]] = {
    "viewer": frozenset(VIEWER),
    "analyst": frozenset(ANALYST),
    "coordinator": frozenset(COORDINATOR),
    "org-admin": frozenset(ORG_ADMIN),
    "platform-admin": frozenset(ALL),
}
# The read permission of each domain, by table of shareable objects.
READ_SCOPE = {
    "contacts": "directory:organisation:read",
    "documents": "directory:document:read",
    "incidents": "incidents:incident:read",
    "alerts": "alerts:alert:read",
    "contributions": "situation:report:read",
    "sitreps": "situation:report:read",
    "crises": "crises:crisis:read",
    "escalations": "crises:crisis:read",
    "decisions": "crises:crisis:read",
    "actions": "crises:crisis:read",
    "assistance_requests": "assistance:request:read",
    "assistance_offers": "assistance:request:read",
    "capabilities": "assistance:request:read",
    "communications": "comms:communication:read",
    "publications": "comms:communication:read",
    "handoffs": "handoffs:handoff:read",
}
TLPS = ["clear", "green", "amber", "amber+strict", "red"]
RANK = {t: i for i, t in enumerate(TLPS)}


def role_permissions(roles: tuple[str, ...] | list[str]) -> frozenset[str]:
    out: set[str] = set()
    for r in roles:
        out |= ROLES[r]
    return frozenset(out)


# --- the state the rules look at ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Obj:
    """A shareable object as stored: marking, owner and share list."""

    id: str
    table: str
    tlp: str
    owner: str
    orgs: frozenset[str]
    comms: frozenset[str]
    users: frozenset[str]

    def entries(self) -> frozenset[tuple[str, str]]:
        return frozenset(
            {("organisation", o) for o in self.orgs}
            | {("community", c) for c in self.comms}
            | {("user", u) for u in self.users}
        )


@dataclass(frozen=True)
class Org:
    id: str
    short: str
    type: str
    country: str | None
    parent: str | None
    communities: frozenset[str]


@dataclass(frozen=True)
class Actor:
    """Who asks: a user through a session (every permission of its roles) or through a token (narrowed)."""

    user_id: str
    org: str
    roles: tuple[str, ...]
    scopes: frozenset[str] | None  # None: a web session
    active: bool = True
    revoked: bool = False
    perms: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        perms = role_permissions(self.roles)
        object.__setattr__(self, "perms", perms if self.scopes is None else perms & self.scopes)

    @property
    def valid(self) -> bool:
        return self.active and not self.revoked

    def may_read_domain(self, table: str) -> bool:
        return self.scopes is None or READ_SCOPE[table] in self.scopes


# --- reading ----------------------------------------------------------------------------------------------------


def reads(user_id: str | None, org: Org | None, obj: Obj) -> bool:
    return oracle(
        user=user_id,
        org=org.id if org else None,
        communities=org.communities if org else frozenset(),
        tlp=obj.tlp,
        owner=obj.owner,
        orgs=obj.orgs,
        comms=obj.comms,
        users=obj.users,
    )


def org_reads(org: Org, obj: Obj) -> bool:
    """Whether an organisation reads `obj` as an organisation: any of its users not named on it individually."""
    return reads("user--nobody-named", org, obj)


def actor_reads(actor: Actor, org: Org, obj: Obj) -> bool:
    """The read policy plus the token's read scopes: a token without a domain's read scope reads CLEAR only there."""
    if obj.tlp != "clear" and not actor.may_read_domain(obj.table):
        return False
    return reads(actor.user_id, org, obj)


# --- widening ---------------------------------------------------------------------------------------------------


def recipient_may_add(orgs: dict[str, Org], adder: str, tlp: str, entry: tuple[str, str]) -> bool:
    """The widening table, "a recipient organisation may add" column."""
    kind, target = entry
    if tlp == "clear":
        return True
    mine = orgs[adder].communities
    if tlp == "green":
        if kind == "community":
            return target in mine
        if kind == "organisation":
            return target in orgs and bool(orgs[target].communities & mine)
        return False
    if tlp == "amber":
        return kind == "organisation" and target in orgs and orgs[target].parent == adder
    return False  # AMBER+STRICT and RED: nobody but the originator


def may_add(orgs: dict[str, Org], adder: str | None, owner: str, tlp: str, entry: tuple[str, str]) -> bool:
    """The widening table: the originator adds whoever the TLP admits; a recipient what its column says."""
    if adder is None:
        return False
    return adder == owner or recipient_may_add(orgs, adder, tlp, entry)


def share_list_fits(tlp: str, orgs: list[str], comms: list[str]) -> bool:
    """What a TLP admits at all: no communities on AMBER+STRICT, named users only on RED."""
    if tlp == "red":
        return not orgs and not comms
    if tlp == "amber+strict":
        return not comms
    return True


# --- an expected outcome ------------------------------------------------------------------------------------------

ALLOW, FORBID, HIDDEN, DENY, REFUSE, EITHER, UNAUTH = "allow", "forbid", "hidden", "deny", "refuse", "either", "unauth"


@dataclass(frozen=True)
class Expect:
    """What the rules say about one write.

    allow: may be done (the answer may still be 409/422 for state or validation, never 403/404);
    forbid: readable, not allowed: 403 (409/422 too when `invalid`: another rule also refuses it);
    hidden: the actor may not read the object: 404 (422 too when `invalid`: the body is wrong whatever the object);
    deny: refused as 403 or 404: users and tokens the actor may not manage are not its to see; and an actor that
          lacks the act's permission gets the same 403 for every id, so refusing before reading reveals nothing;
    refuse: the request is outside what the act is (e.g. passing on to a non-constituent): 403, 409 or 422;
    either: the documentation does not settle it; recorded, not asserted;
    unauth: the credential no longer works (revoked token, disabled user).
    """

    verdict: str
    why: str
    invalid: bool = False


def allow(why: str, *, invalid: bool = False) -> Expect:
    return Expect(ALLOW, why, invalid)


def forbid(why: str, *, invalid: bool = False) -> Expect:
    return Expect(FORBID, why, invalid)


def hidden(why: str, *, invalid: bool = False) -> Expect:
    return Expect(HIDDEN, why, invalid)
