"""Imports every model so that metadata (Alembic, tests) sees all tables."""

from cybercrisis.access.models import Share
from cybercrisis.accounts.models import ApiToken, LoginThrottle, User, WebSession
from cybercrisis.audit.models import AuditEvent
from cybercrisis.directory.models import (
    Community,
    CommunityMembership,
    Contact,
    Organisation,
    OrganisationLevel,
)
from cybercrisis.documents.models import Document

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Community",
    "CommunityMembership",
    "Contact",
    "Document",
    "LoginThrottle",
    "Organisation",
    "OrganisationLevel",
    "Share",
    "User",
    "WebSession",
]
