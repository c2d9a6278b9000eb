"""Who is asking: a user acting through a session or an API token, or an anonymous reader."""

from __future__ import annotations

from dataclasses import dataclass, field

from cybercrisis.access.permissions import Permission
from cybercrisis.errors import PermissionDenied


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str | None
    org_id: str | None
    communities: frozenset[str] = field(default_factory=frozenset)
    permissions: frozenset[Permission] = field(default_factory=frozenset)
    roles: tuple[str, ...] = ()
    token_id: str | None = None
    email: str | None = None
    # Set when another node asks for this organisation (an answer to one of our objects, ADR 0013): the act is the
    # organisation's, vouched for by that node; no user of ours stands behind it.
    via_node: str | None = None

    @property
    def is_authenticated(self) -> bool:
        """A user, or an organisation answering through another node (no user of ours, ADR 0013)."""
        return self.user_id is not None or self.via_node is not None

    @property
    def is_operator(self) -> bool:
        """The server operator at the command line (accounts.service.SYSTEM): administers, reads CLEAR only."""
        return self.user_id is None and "system" in self.roles

    def has(self, permission: Permission) -> bool:
        return permission in self.permissions

    def may_read(self, scope: Permission) -> bool:
        """Whether this principal reads the domain `scope` names beyond CLEAR: always, unless it acts through an
        API token whose scopes leave that domain out (a session, or a probe for an organisation, reads all)."""
        return self.token_id is None or scope in self.permissions

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise PermissionDenied(f"this action needs the permission {permission.value}")


ANONYMOUS = Principal(user_id=None, org_id=None)
