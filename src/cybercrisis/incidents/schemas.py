from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.incidents.facts import Facts
from cybercrisis.schemas import HeldAt, Strict


class ObservableIn(Strict):
    type: str = Field(max_length=32)
    value: str = Field(min_length=1, max_length=2048)


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
    entity_type: str | None = Field(
        default=None,
        max_length=64,
        description="the kind of provider where the law gives it its own rules (e.g. qualified-trust-service-provider, "
        "dns-service-provider; Reg. (EU) 2024/2690 Art. 5-14), else empty. The values essential and important, "
        "accepted here before `entity_category` existed, are taken as `entity_category`.",
        examples=["qualified-trust-service-provider"],
    )
    entity_category: Literal["essential", "important"] | None = Field(
        default=None,
        description="the entity's NIS2 category (Art. 3): essential or important; a separate fact from its type "
        "(a qualified trust service provider is essential whatever its size, Art. 3(1)(b))",
        examples=["essential"],
    )
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
    significance: Literal["reported", "significant", "not-significant", "near-miss", "outside-nis2"] = Field(
        default="reported",
        description="the NIS2 significance decided at recording, if already known (e.g. the entity's early warning "
        "says so, NIS2 Art. 23(3)); `reported` leaves it to a later decision (POST .../significance). NIS2 Art. 23(4) "
        "deadlines run only for a `significant` incident that is not exercise data.",
        examples=["significant"],
    )
    significance_reason: str | None = Field(
        default=None,
        max_length=5_000,
        description="why, when `significance` is not `reported` (required then)",
        examples=["complete unavailability of the TLD for 2 hours (Reg. (EU) 2024/2690 Art. 6)"],
    )
    apparent_root_cause: str | None = Field(
        default=None,
        max_length=300,
        description="the apparent root cause as the analyst confirms it; incidents of the same entity with the same "
        "one are candidates for recurrence (Reg. (EU) 2024/2690 Art. 4)",
        examples=["CVE-2024-3400 exploited on the VPN gateway"],
    )


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
    apparent_root_cause: str | None = Field(default=None, max_length=300)


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


class SignificanceFindingOut(BaseModel):
    """One rule of the assessment, fired or not, with the facts it read and its legal basis."""

    rule: str = Field(examples=["completely-unavailable-over-30-minutes"])
    fired: bool
    effect: Literal["significant", "large-scale", "cross-border", "not-counted", "none"] = Field(
        description="what the rule suggests when it fires: a significant incident, a large-scale incident, a "
        "possible cross-border impact, an interruption not counted (Art. 3(2)), or nothing (information)"
    )
    fact: str = Field(examples=["unavailability_minutes = 45"], description="the facts the rule read, as recorded")
    explanation: str = Field(description="the rule, close to the wording of its article")
    basis: str = Field(
        examples=["Reg. (EU) 2024/2690 Art. 7(a)", "NIS2 Art. 6(7)", "deployment rule (CYBERCRISIS_SIGNIFICANCE_...)"],
        description="the legal basis, or 'deployment rule' for a rule of this deployment's own",
    )
    source: Literal["law", "deployment"] = Field(description="'deployment' marks a rule that no legal act sets")


class SignificanceAssessmentOut(BaseModel):
    """The rules' suggestion; a person decides significance (the incident's `significance`)."""

    significant: bool = Field(description="the same as suggestion == 'significant' (kept for older clients)")
    suggestion: Literal["significant", "not-significant"] = Field(
        description="what the rules suggest, law and deployment rules together (see each finding's source)"
    )
    large_scale: bool = Field(description="a rule of NIS2 Art. 6(7) fired")
    cross_border: bool
    suggest_escalation: bool
    criteria: str = Field(
        examples=["Reg. (EU) 2024/2690 Art. 3 to 14", "NIS2 Art. 23(3)"],
        description="whose criteria apply: the Implementing Regulation for the entity types of its Art. 1, else "
        "NIS2 Art. 23(3), which sets no figures",
    )
    findings: list[SignificanceFindingOut]


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
    entity_category: str | None = Field(description="essential | important (NIS2 Art. 3), or null if not known")
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
    assessment: SignificanceAssessmentOut
    significance: str = Field(
        description="reported | significant | not-significant | near-miss | outside-nis2 (see GET .../significance)",
        examples=["significant"],
    )
    apparent_root_cause: str | None = None
    held_at: HeldAt | None = Field(
        default=None, description="set when the incident is held at another node (read-only here, ADR 0013)"
    )


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
    significance: str = Field(description="reported | significant | not-significant | near-miss | outside-nis2")


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


class SignificanceIn(Strict):
    value: Literal["significant", "not-significant", "near-miss", "outside-nis2"] = Field(
        description="significant (NIS2 Art. 23(3)): the Art. 23(4) clocks run from awareness; not-significant; "
        "near-miss (Art. 6(5), voluntary notification under Art. 30); outside-nis2 (Art. 2). Any value other than "
        "significant stops the clocks of reports not yet submitted.",
        examples=["significant"],
    )
    reason: str = Field(
        min_length=1,
        max_length=5_000,
        description="the rule, fact or judgement the decision rests on",
        examples=["financial loss of EUR 620,000, above EUR 500,000 (Reg. (EU) 2024/2690 Art. 3(1)(a))"],
    )


class SignificanceDecisionOut(BaseModel):
    value: str
    previous: str
    reason: str
    decided_at: datetime
    decided_by: str | None = Field(description="the user who decided; null for a decision derived by a migration")
    decided_by_org: str | None
    suggestion: dict[str, Any] = Field(description="what the rules suggested then (suggestion, rules that fired)")


class SignificanceOut(BaseModel):
    incident: str
    significance: str = Field(examples=["reported"])
    meaning: str = Field(description="what the current value means, with its legal basis")
    clocks_run: bool = Field(description="whether NIS2 Art. 23(4)-(5) deadlines apply: significant and not exercise")
    exercise: bool
    suggestion: dict[str, Any] = Field(description="the rules' current suggestion (the incident's assessment)")
    decisions: list[SignificanceDecisionOut] = Field(description="every decision, oldest first")


class DeadlineOut(BaseModel):
    incident: str
    incident_title: str
    owner: str
    report: str
    kind: str
    due_at: datetime | None
    status: str
