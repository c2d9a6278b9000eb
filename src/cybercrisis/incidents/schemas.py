from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.schemas import Strict


class ObservableIn(Strict):
    type: str = Field(max_length=32)
    value: str = Field(min_length=1, max_length=2048)


class Facts(Strict):
    """Figures for the 2024/2690 thresholds; all optional."""

    financial_loss_eur: int | None = Field(default=None, ge=0)
    annual_turnover_eur: int | None = Field(default=None, ge=0)
    unavailability_minutes: int | None = Field(default=None, ge=0)
    limited_availability_minutes: int | None = Field(default=None, ge=0)
    users_affected: int | None = Field(default=None, ge=0)
    users_affected_percent: float | None = Field(default=None, ge=0, le=100)


class IncidentIn(Strict):
    title: str = Field(min_length=3, max_length=300)
    description: str = Field(default="", max_length=100_000)
    tlp: str
    pap: str = "amber"
    aware_at: datetime
    occurred_at: datetime | None = None
    countries: list[str] = Field(default_factory=list, max_length=60)
    sectors: list[str] = Field(default_factory=list, max_length=30)
    entity_name: str = Field(default="", max_length=300)
    entity: str | None = Field(default=None, description="the affected entity's organisation id, if in the directory")
    entity_type: str | None = Field(default=None, max_length=64)
    rsit_class: str | None = None
    rsit_type: str | None = None
    root_cause: str | None = None
    threat_severity: str | None = None
    impact_severity: str | None = None
    outlook: str | None = None
    suspected_malicious: bool = False
    cross_border: bool = False
    exceeds_national_capacity: bool = False
    tags: list[str] = Field(default_factory=list, max_length=100)
    observables: list[ObservableIn] = Field(default_factory=list, max_length=10_000)
    facts: Facts = Field(default_factory=Facts)
    share_with: ShareWith = Field(default_factory=ShareWith)


class IncidentPatch(Strict):
    version: int
    title: str | None = Field(default=None, min_length=3, max_length=300)
    description: str | None = Field(default=None, max_length=100_000)
    status: str | None = None
    countries: list[str] | None = Field(default=None, max_length=60)
    sectors: list[str] | None = Field(default=None, max_length=30)
    rsit_class: str | None = None
    rsit_type: str | None = None
    root_cause: str | None = None
    threat_severity: str | None = None
    impact_severity: str | None = None
    outlook: str | None = None
    suspected_malicious: bool | None = None
    cross_border: bool | None = None
    exceeds_national_capacity: bool | None = None
    pap: str | None = None
    tags: list[str] | None = Field(default=None, max_length=100)
    facts: Facts | None = None


class ReportIn(Strict):
    """One report submission; `content` holds the fields NIS2 asks for that kind of report."""

    kind: str
    submitted_at: datetime | None = Field(default=None, description="when it was received; default now")
    summary: str = Field(default="", max_length=50_000)
    suspected_malicious: bool | None = None
    cross_border: bool | None = None
    severity_and_impact: str | None = Field(default=None, max_length=50_000)
    indicators: list[ObservableIn] = Field(default_factory=list, max_length=10_000)
    root_cause: str | None = Field(default=None, max_length=10_000)
    mitigation_applied: str | None = Field(default=None, max_length=50_000)
    mitigation_ongoing: str | None = Field(default=None, max_length=50_000)
    cross_border_impact: str | None = Field(default=None, max_length=50_000)
    guidance: str | None = Field(default=None, max_length=50_000)
    law_enforcement_guidance: str | None = Field(default=None, max_length=50_000)


class IntermediateRequestIn(Strict):
    due_at: datetime


class ReportOut(BaseModel):
    id: str
    kind: str
    due_at: datetime | None
    requested_at: datetime | None
    submitted_at: datetime | None
    submitted_by: str | None
    status: str
    version: int
    content: dict[str, Any]


class ObservableOut(BaseModel):
    type: str
    value: str


class IncidentOut(BaseModel):
    id: str
    type: str = "incident"
    title: str
    description: str
    status: str
    tlp: str
    pap: str
    owner: str
    created_by: str | None
    created: datetime
    modified: datetime
    version: int
    aware_at: datetime
    occurred_at: datetime | None
    handled_at: datetime | None
    countries: list[str]
    sectors: list[str]
    entity_name: str
    entity: str | None
    entity_type: str | None
    rsit_class: str | None
    rsit_type: str | None
    root_cause: str | None
    threat_severity: str | None
    impact_severity: str | None
    outlook: str | None
    suspected_malicious: bool
    cross_border: bool
    exceeds_national_capacity: bool
    tags: list[str]
    facts: dict[str, Any]
    observables: list[ObservableOut]
    reports: list[ReportOut]
    share_with: ShareList
    assessment: dict[str, Any]


class IncidentSummary(BaseModel):
    id: str
    title: str
    status: str
    tlp: str
    owner: str
    countries: list[str]
    sectors: list[str]
    rsit_class: str | None
    impact_severity: str | None
    aware_at: datetime
    modified: datetime
    overdue_reports: int


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    next: str | None


class CorrelationOut(BaseModel):
    incident: str
    title: str
    owner: str
    countries: list[str]
    observables: list[str]


class ClusterOut(BaseModel):
    incidents: list[str]
    countries: list[str]
    cross_border: bool


class CorrelationsOut(BaseModel):
    items: list[CorrelationOut]
    cluster: ClusterOut


class DeadlineOut(BaseModel):
    incident: str
    incident_title: str
    owner: str
    report: str
    kind: str
    due_at: datetime | None
    status: str
