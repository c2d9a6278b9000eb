"""Imports every model so that metadata (Alembic, tests) sees all tables."""

from cybercrisis.access.models import Share
from cybercrisis.accounts.models import ApiToken, LoginThrottle, User, WebSession
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.audit.models import AuditEvent
from cybercrisis.directory.models import (
    Community,
    CommunityMembership,
    Contact,
    Organisation,
    OrganisationLevel,
)
from cybercrisis.documents.models import Document
from cybercrisis.incidents.models import (
    Incident,
    IncidentCountry,
    IncidentSector,
    Observable,
    Report,
    ReportSubmission,
    Sighting,
)
from cybercrisis.notify.models import JobLease, NotificationRoute, OutboxMessage
from cybercrisis.situation.models import (
    ClosedPeriod,
    Contribution,
    ContributionVersion,
    Sitrep,
    SitrepSource,
    SitrepVersion,
)

__all__ = [
    "Alert",
    "AlertRecipient",
    "ApiToken",
    "AuditEvent",
    "ClosedPeriod",
    "Community",
    "CommunityMembership",
    "Contact",
    "Contribution",
    "ContributionVersion",
    "Document",
    "Incident",
    "IncidentCountry",
    "IncidentSector",
    "JobLease",
    "LoginThrottle",
    "NotificationRoute",
    "Observable",
    "Organisation",
    "OrganisationLevel",
    "OutboxMessage",
    "Report",
    "ReportSubmission",
    "Share",
    "Sighting",
    "Sitrep",
    "SitrepSource",
    "SitrepVersion",
    "User",
    "WebSession",
]
