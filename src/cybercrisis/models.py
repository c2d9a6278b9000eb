"""Imports every model so that metadata (Alembic, tests) sees all tables."""

from cybercrisis.access.models import Share
from cybercrisis.accounts.models import ApiToken, LoginThrottle, User, WebSession
from cybercrisis.alerts.models import Alert, AlertRecipient
from cybercrisis.answers.models import Answer, AnswerReceipt
from cybercrisis.assistance.models import AssistanceRequest, Capability, Offer
from cybercrisis.audit.models import AuditEvent
from cybercrisis.comms.models import Communication, CommunicationApproval, CommunicationVersion, Publication
from cybercrisis.crises.assessment_models import ImpactAssessment
from cybercrisis.crises.models import Action, Crisis, CrisisIncident, Decision, Escalation, EscalationApproval
from cybercrisis.directory.models import (
    Community,
    CommunityMembership,
    Contact,
    Organisation,
    OrganisationLevel,
)
from cybercrisis.documents.models import Document
from cybercrisis.exchange.models import NodePin, Peer, PeerCursor, StixObject, TaxiiCollection, TaxiiStatus
from cybercrisis.handoffs.models import CustodyEntry, EvidenceFile, Handoff
from cybercrisis.incidents.flow_models import Forwarding, MemberStateInformation, QuarterlySummary
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
    "Action",
    "Alert",
    "AlertRecipient",
    "Answer",
    "AnswerReceipt",
    "ApiToken",
    "AssistanceRequest",
    "AuditEvent",
    "Capability",
    "ClosedPeriod",
    "Communication",
    "CommunicationApproval",
    "CommunicationVersion",
    "Community",
    "CommunityMembership",
    "Contact",
    "Contribution",
    "ContributionVersion",
    "Crisis",
    "CrisisIncident",
    "CustodyEntry",
    "Decision",
    "Document",
    "Escalation",
    "EscalationApproval",
    "EvidenceFile",
    "Forwarding",
    "Handoff",
    "ImpactAssessment",
    "Incident",
    "IncidentCountry",
    "IncidentSector",
    "JobLease",
    "LoginThrottle",
    "MemberStateInformation",
    "NodePin",
    "NotificationRoute",
    "Observable",
    "Offer",
    "Organisation",
    "OrganisationLevel",
    "OutboxMessage",
    "Peer",
    "PeerCursor",
    "Publication",
    "QuarterlySummary",
    "Report",
    "ReportSubmission",
    "Share",
    "Sighting",
    "Sitrep",
    "SitrepSource",
    "SitrepVersion",
    "StixObject",
    "TaxiiCollection",
    "TaxiiStatus",
    "User",
    "WebSession",
]
