"""API shapes of mutual assistance: requests, offers, the capability catalogue and the Reserve ranking.

Enumerated values (needs, urgency, impact, ...) are plain strings here and checked by the service, so that a bad
value is a 422 naming the field and listing the valid values, whoever calls the service (API, CLI, demo).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.schemas import AnswerOut, HeldAt, Strict

NEEDS_DOC = "incident-response, forensics, malware-analysis, ddos-mitigation, liaison or other"


class Recipients(Strict):
    """Whom a request is addressed to. The Reserve is reached through the organisations that administer it."""

    organisations: list[str] = Field(default_factory=list, max_length=200, description="organisation ids")
    communities: list[str] = Field(
        default_factory=list, max_length=20, description="community slugs, e.g. csirts-network (not AMBER+STRICT)"
    )
    reserve: bool = Field(
        default=False,
        description="address the EU Cybersecurity Reserve (through the Commission and ENISA). Only its users ask: a "
        "Member State's CSIRT or cyber crisis management authority, or CERT-EU (Reg. (EU) 2025/38 Art. 14(3)); a "
        "Member State user's request reaches the Reserve once its SPOC transmits it (Art. 15(3)(a))",
    )


class RequestIn(Strict):
    needs: list[str] = Field(max_length=10, description=f"what is needed, one or more of: {NEEDS_DOC}")
    description: str = Field(default="", max_length=20_000, description="the situation and the help wanted")
    urgency: str = Field(default="urgent", description="immediate (hours), urgent (within a day) or routine (days)")
    recipients: Recipients
    affected_entity: str = Field(
        default="",
        max_length=300,
        description="the entity hit, as the requester names it (required for the Reserve: Reg. (EU) 2025/38 Art. 15)",
    )
    entity_type: str = Field(default="essential", description="essential or important (NIS2 Art. 3)")
    impact: str | None = Field(
        default=None,
        description="the incident's impact severity (NIS taxonomy: red, yellow, green or white); left out, the most "
        "severe of the linked incidents'. The Reserve ranking weighs it as the severity of the incident",
        examples=["red"],
    )
    severity: str | None = Field(
        default=None,
        description="NIS severity of the threat: high, medium or low (informational; not ranked); left out: not "
        "assessed",
        examples=["medium"],
    )
    potential_impact: str | None = Field(
        default=None,
        description="potential impact on the affected Member State(s) or users: high, medium or low "
        "(Reg. (EU) 2025/38 Art. 16 point (c))",
    )
    spillover: str | None = Field(
        default=None,
        description="cross-border spill-over risk: high, medium, low or none; left out: not assessed, which the "
        "Reserve ranking places after every stated value (Reg. (EU) 2025/38 Art. 16 point (d))",
        examples=["medium"],
    )
    measures_taken: str = Field(
        default="",
        max_length=20_000,
        description="the measures already taken to mitigate the incident; required for the Reserve, whose support "
        "presupposes them (Reg. (EU) 2025/38 Art. 15(2)): a request without them is refused with 422",
    )
    other_support: str = Field(default="", max_length=20_000, description="other support available or asked for")
    crisis: str | None = Field(default=None, max_length=120, description="id of a crisis you may see")
    incidents: list[str] = Field(default_factory=list, max_length=200, description="ids of incidents you may see")
    tlp: str = Field(default="amber", description="clear, green, amber or amber+strict (red cannot reach anyone)")
    exercise: bool = Field(default=False, description="part of an exercise")


class OfferIn(Strict):
    capability: str = Field(description=f"what is offered, one of the request's needs: {NEEDS_DOC}")
    people: int = Field(ge=1, le=1000)
    available_from: datetime = Field(description="from when, with a time zone")
    conditions: str = Field(default="", max_length=10_000, description="cost, duration, legal or other conditions")
    capability_id: str | None = Field(
        default=None, max_length=120, description="a catalogue entry of your organisation, of the same kind"
    )


class DecisionIn(Strict):
    comment: str = Field(default="", max_length=5_000)


class SupportEndedIn(Strict):
    ended_at: datetime | None = Field(default=None, description="when support ended (default: now), with a time zone")


class SummaryIn(Strict):
    report: str = Field(min_length=1, max_length=100_000, description="the summary report of the support received")


class CapabilityIn(Strict):
    kind: str = Field(description=f"one of: {NEEDS_DOC}")
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20_000)
    notice_hours: int = Field(default=24, ge=0, le=720, description="hours of notice needed before deploying")
    people: int = Field(default=1, ge=1, le=1000)
    tlp: str = "green"
    share_with: ShareWith = Field(
        default_factory=ShareWith, description="recipients; a GREEN entry defaults to your organisation's communities"
    )


class CapabilityPatch(Strict):
    version: int = Field(description="the version you read; a stale one is refused with 409")
    kind: str | None = None
    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    notice_hours: int | None = Field(default=None, ge=0, le=720)
    people: int | None = Field(default=None, ge=1, le=1000)
    active: bool | None = None


class CapabilityOut(BaseModel):
    id: str
    kind: str
    title: str
    description: str
    notice_hours: int
    people: int
    active: bool
    tlp: str
    share_with: ShareList
    owner: str
    owner_name: str
    created: datetime
    modified: datetime
    version: int


class CapabilityPage(BaseModel):
    items: list[CapabilityOut]
    next: str | None


class OfferOut(BaseModel):
    id: str
    request: str
    offerer: str = Field(description="the offering organisation's id")
    offerer_name: str
    capability: str
    capability_id: str | None
    people: int
    available_from: datetime
    conditions: str
    state: str = Field(description="offered, accepted, declined or withdrawn")
    decided_at: datetime | None
    decision_comment: str
    tlp: str
    created: datetime
    modified: datetime
    version: int


class RequestOut(BaseModel):
    id: str
    state: str = Field(description="open, in-support, support-ended, closed or withdrawn")
    country: str | None
    needs: list[str]
    urgency: str
    description: str
    affected_entity: str
    entity_type: str
    impact: str = Field(description="the incident's impact severity (NIS taxonomy)")
    severity: str | None = Field(description="the threat's severity (NIS taxonomy); informational; null: not assessed")
    potential_impact: str | None
    spillover: str | None = Field(description="cross-border spill-over risk; null: not assessed")
    measures_taken: str
    other_support: str
    crisis: str | None
    incidents: list[str]
    recipients: dict[str, object]
    tlp: str
    share_with: ShareList
    owner: str
    owner_name: str
    created_by: str | None
    created: datetime
    modified: datetime
    version: int
    exercise: bool
    support_started_at: datetime | None
    support_ended_at: datetime | None
    transmitted_by: str | None = Field(
        description="the SPOC (or CERT-EU itself) that transmitted the request to the Reserve (Reg. (EU) 2025/38 "
        "Art. 15(3)); null: not transmitted, the Reserve does not assess it yet"
    )
    transmitted_by_name: str | None
    transmitted_at: datetime | None
    response_due_at: datetime | None = Field(
        description="the contracting authority's response is due by then: the deployment's target "
        "(CYBERCRISIS_RESERVE_RESPONSE_HOURS from the transmission), not a time limit read from the Act"
    )
    summary_due_at: datetime | None = Field(
        description="the deployment's rule: CYBERCRISIS_RESERVE_SUMMARY_MONTHS calendar months after support ended"
    )
    summary_report: str
    summary_at: datetime | None
    offers: list[OfferOut] = Field(
        description="the offers this reader may see: the requester sees all, an offerer its own"
    )
    matches: list[CapabilityOut] | None = Field(
        default=None,
        description="(single request only) active catalogue entries this reader may see whose kind is needed, "
        "shortest notice first, then most people",
    )
    held_at: HeldAt | None = Field(
        default=None,
        description="(single request only) set when the request is held at another node: read-only here; an offer "
        "is sent there (ADR 0013)",
    )
    answers: list[AnswerOut] = Field(
        default_factory=list,
        description="(single request only, held at another node) the offers the reader's organisation sent there: "
        "queued, applied (the offer was made there) or refused, with the reason",
    )


class RequestPage(BaseModel):
    items: list[RequestOut]
    next: str | None


class CriterionOut(BaseModel):
    criterion: str
    legal_basis: str = Field(description="the Act's criterion this reads, with its article")
    value: str
    note: str


class RankedOut(BaseModel):
    rank: int
    request: RequestOut
    explanation: list[CriterionOut] = Field(description="the request's value on each criterion, in priority order")
    reason: str = Field(description="why it is above the next request (or that it is the last)")


class RankingOut(BaseModel):
    criteria: list[str] = Field(description="the criteria in the order they are applied: the deployment's order")
    order: str = Field(description="whose order this is: the deployment's, not the Act's (the Act lists criteria)")
    legal_basis: dict[str, str] = Field(description="each criterion with the Act's article and point")
    note: str
    items: list[RankedOut]
