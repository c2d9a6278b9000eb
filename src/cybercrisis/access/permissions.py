"""Permissions named `scope:resource:action` and the roles that bundle them."""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    # Reading, per domain: every role holds them all (TLP and share lists decide what is read); a token's scopes
    # may leave some out, and then that token reads no more of that domain than an anonymous reader (CLEAR).
    DIRECTORY_READ = "directory:organisation:read"
    DOCUMENT_READ = "directory:document:read"
    INCIDENT_READ = "incidents:incident:read"
    ALERT_READ = "alerts:alert:read"
    SITUATION_READ = "situation:report:read"
    CRISIS_READ = "crises:crisis:read"
    ASSISTANCE_READ = "assistance:request:read"
    COMMUNICATION_READ = "comms:communication:read"
    HANDOFF_READ = "handoffs:handoff:read"
    EXCHANGE_READ = "exchange:object:read"
    DIRECTORY_WRITE = "directory:organisation:write"
    DIRECTORY_IMPORT = "directory:organisation:import"
    CONTACT_WRITE = "directory:contact:write"
    DOCUMENT_WRITE = "directory:document:write"
    SHARING_PASS_ON = "access:share:pass-on"
    USER_READ = "accounts:user:read"
    USER_WRITE = "accounts:user:write"
    USER_WRITE_ANY = "accounts:user:write-any"
    TOKEN_OWN = "accounts:token:write-own"
    TOKEN_MANAGE = "accounts:token:manage"
    INCIDENT_WRITE = "incidents:incident:write"
    ALERT_SEND = "alerts:alert:send"
    ALERT_ACKNOWLEDGE = "alerts:alert:acknowledge"  # an act for the organisation: stops its reminders
    CONTRIBUTION_WRITE = "situation:contribution:write"
    SITREP_WRITE = "situation:sitrep:write"
    SITREP_APPROVE = "situation:sitrep:approve"
    CRISIS_WRITE = "crises:crisis:write"
    CRISIS_DECIDE = "crises:decision:write"
    ESCALATION_APPROVE = "crises:escalation:approve"
    ACTION_WRITE = "crises:action:write"
    ASSISTANCE_WRITE = "assistance:request:write"
    CAPABILITY_WRITE = "assistance:capability:write"
    COMMUNICATION_WRITE = "comms:communication:write"
    COMMUNICATION_APPROVE = "comms:communication:approve"
    HANDOFF_WRITE = "handoffs:handoff:write"
    EXCHANGE_IMPORT = "exchange:object:import"
    EXCHANGE_ADMIN = "exchange:collection:manage"  # TAXII collections an administrator defines (platform admins)
    AUDIT_READ = "audit:event:read"
    AUDIT_VERIFY = "audit:chain:verify"


class Role(StrEnum):
    VIEWER = "viewer"
    ANALYST = "analyst"
    COORDINATOR = "coordinator"
    ORG_ADMIN = "org-admin"
    PLATFORM_ADMIN = "platform-admin"


P = Permission
READ_SCOPES = frozenset(
    {
        P.DIRECTORY_READ,
        P.DOCUMENT_READ,
        P.INCIDENT_READ,
        P.ALERT_READ,
        P.SITUATION_READ,
        P.CRISIS_READ,
        P.ASSISTANCE_READ,
        P.COMMUNICATION_READ,
        P.HANDOFF_READ,
        P.EXCHANGE_READ,
    }
)
_VIEWER = READ_SCOPES | {P.TOKEN_OWN}
# Acting for the organisation (acknowledging, sending, recording) starts at analyst: a viewer only reads.
_ANALYST = _VIEWER | {
    P.DOCUMENT_WRITE,
    P.SHARING_PASS_ON,
    P.INCIDENT_WRITE,
    P.ALERT_SEND,
    P.ALERT_ACKNOWLEDGE,
    P.CONTRIBUTION_WRITE,
    P.ACTION_WRITE,
    P.ASSISTANCE_WRITE,
    P.CAPABILITY_WRITE,
    P.COMMUNICATION_WRITE,
    P.HANDOFF_WRITE,
    P.EXCHANGE_IMPORT,
}
# Deciding for an organisation (crises, escalations, decisions, approving statements) is a coordinator's job.
_DECIDE = {
    P.SITREP_WRITE,
    P.SITREP_APPROVE,
    P.CRISIS_WRITE,
    P.CRISIS_DECIDE,
    P.ESCALATION_APPROVE,
    P.COMMUNICATION_APPROVE,
}
_COORDINATOR = _ANALYST | _DECIDE | {P.USER_READ}
_ORG_ADMIN = (
    _ANALYST
    | _DECIDE
    | {
        P.CONTACT_WRITE,
        P.USER_READ,
        P.USER_WRITE,
        P.TOKEN_MANAGE,
        P.AUDIT_READ,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.ANALYST: frozenset(_ANALYST),
    Role.COORDINATOR: frozenset(_COORDINATOR),
    Role.ORG_ADMIN: frozenset(_ORG_ADMIN),
    # Platform admins run the node; they do NOT bypass TLP (the policy has no admin branch).
    Role.PLATFORM_ADMIN: frozenset(Permission),
}


def permissions_for(roles: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[Permission]:
    perms: set[Permission] = set()
    for name in roles:
        perms |= ROLE_PERMISSIONS.get(Role(name), frozenset())
    return frozenset(perms)
