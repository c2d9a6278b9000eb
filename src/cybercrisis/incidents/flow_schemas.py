"""Request and response bodies of the NIS2 Art. 23 flows between authorities (incidents/flows_api.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.schemas import Strict

ISO_EXAMPLE = ["DE", "BE"]


class InformIn(Strict):
    """NIS2 Art. 23(6): inform other affected Member States and/or ENISA of a significant incident."""

    member_states: list[str] = Field(
        default_factory=list,
        max_length=27,
        description="the other affected EU Member States, ISO 3166-1 alpha-2 (Greece: GR or EL); their single points "
        "of contact and national CSIRTs in the directory receive the information. Not your own Member State.",
        examples=[ISO_EXAMPLE],
    )
    enisa: bool = Field(default=False, description="inform ENISA too (NIS2 Art. 23(6))", examples=[True])
    share_incident: bool = Field(
        default=False,
        description="also let the recipients read the incident itself (it must be yours to widen, within its TLP); "
        "without it, they receive only this record with your summary: you choose what is shared",
        examples=[False],
    )
    summary: str = Field(
        default="",
        max_length=20_000,
        description="what you tell the recipients (NIS2 Art. 23(6): the type of information received under 23(4))",
        examples=["Ransomware at an electricity DSO; cross-border impact on balancing services possible."],
    )
    withheld_reason: str = Field(
        default="",
        max_length=5_000,
        description="what you withheld and why, to preserve the entity's security and commercial interests and the "
        "confidentiality of the information provided (NIS2 Art. 23(6), last sentence)",
        examples=["Entity name and IoCs withheld: ongoing law-enforcement investigation."],
    )


class InformOut(BaseModel):
    id: str = Field(examples=["x-nis2-member-state-information--8c5f4a4e-2a4b-4f3c-9f53-0b7f6c0f1d2e"])
    incident: str
    tlp: str = Field(description="TLP:AMBER+STRICT: the recipient organisations only (the deployment's rule)")
    owner: str = Field(description="the informing organisation")
    created_by: str | None
    informed_at: datetime
    member_states: list[str] = Field(examples=[ISO_EXAMPLE])
    enisa_informed: bool
    incident_shared: bool
    recipients: list[str] = Field(description="organisation ids that received the information")
    summary: str
    withheld_reason: str
    exercise: bool
    share_with: ShareList


class ToInformOut(BaseModel):
    """A significant incident that concerns two or more countries and has no recorded Art. 23(6) step you can see."""

    incident: str
    title: str
    owner: str
    countries: list[str] = Field(examples=[["FR", "DE"]])
    aware_at: datetime


class ForwardingRequestIn(Strict):
    """NIS2 Art. 23(8): ask your Member State's single point of contact to forward the notification."""

    member_states: list[str] = Field(
        min_length=1,
        max_length=27,
        description="the other affected Member States whose single points of contact should receive it (ISO codes)",
        examples=[ISO_EXAMPLE],
    )
    note: str = Field(default="", max_length=5_000, description="a note to your SPOC")
    tlp: str = Field(
        default="amber+strict",
        description="marking of the request itself (TLP 2.0: clear, green, amber, amber+strict, red); it is always "
        "shared with your SPOC",
        examples=["amber+strict"],
    )
    share_with: ShareWith = Field(default_factory=ShareWith, description="further readers of the request")


class ForwardingOut(BaseModel):
    id: str = Field(examples=["x-nis2-forwarding--0b7f6c0f-1d2e-4f3c-9f53-8c5f4a4e2a4b"])
    incident: str
    status: Literal["requested", "forwarded"]
    tlp: str
    owner: str = Field(description="the requesting CSIRT or competent authority")
    created_by: str | None
    spoc: str = Field(description="the single point of contact asked to forward")
    member_states: list[str] = Field(examples=[ISO_EXAMPLE])
    note: str
    requested_at: datetime
    forwarded_at: datetime | None
    forwarded_by: str | None
    targets: list[str] = Field(description="the single points of contact reached")
    exercise: bool
    share_with: ShareList


class FlowsOut(BaseModel):
    informations: list[InformOut]
    forwardings: list[ForwardingOut]


class QuarterIn(Strict):
    quarter: str = Field(pattern=r"^\d{4}-Q[1-4]$", description="the calendar quarter, YYYY-Qn", examples=["2026-Q4"])


class SummaryFigures(BaseModel):
    """Anonymised, aggregated figures: counts only; no names, titles, descriptions or observables."""

    quarter: str = Field(examples=["2026-Q4"])
    country: str = Field(description="the SPOC's Member State", examples=["FR"])
    period_start: datetime
    period_end: datetime
    basis: str = Field(
        description="which incidents are counted",
        examples=[
            "incidents recorded in the quarter by organisations of FR that this SPOC may read; exercise data excluded"
        ],
    )
    total: int
    by_significance: dict[str, int] = Field(
        description="reported, significant, not-significant, near-miss, outside-nis2",
        examples=[{"significant": 3, "near-miss": 1}],
    )
    by_sector: dict[str, int] = Field(examples=[{"energy": 2}])
    by_rsit_class: dict[str, int] = Field(examples=[{"malicious-code": 2, "unclassified": 1}])
    by_root_cause: dict[str, int] = Field(examples=[{"malicious-actions": 2}])
    cross_border: dict[str, int] = Field(
        description="`cross-border`: flagged cross-border or two or more countries recorded; else `national`",
        examples=[{"cross-border": 1, "national": 3}],
    )


class SummaryOut(BaseModel):
    id: str = Field(examples=["x-nis2-quarterly-summary--1d2e0b7f-6c0f-4f3c-9f53-8c5f4a4e2a4b"])
    quarter: str
    tlp: str
    owner: str = Field(description="the submitting single point of contact")
    created_by: str | None
    submitted_at: datetime
    supersedes: str | None = Field(description="an earlier submission for the same quarter, replaced by this one")
    figures: SummaryFigures
    share_with: ShareList
