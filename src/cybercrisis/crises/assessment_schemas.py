"""API shapes of EU-CyCLONe's impact assessments and proposed response options (NIS2 Art. 16(3)(c), (d))."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.schemas import Strict

_IMPACT: dict[str, Any] = {
    "sector": "energy",
    "country": "FR",
    "impact": "red",
    "consequences": "Regional electricity distribution disrupted for 40 000 customers.",
}
_OPTION: dict[str, Any] = {
    "title": "Request support from the EU Cybersecurity Reserve",
    "description": "France and Germany request incident response services for OT forensics.",
    "pros": ["specialist capacity within days"],
    "cons": ["providers must be cleared for OT networks"],
}


class ImpactIn(Strict):
    """Consequences and impact in one sector of one Member State (NIS2 Art. 16(3)(c))."""

    model_config = {"json_schema_extra": {"examples": [_IMPACT]}}

    sector: str = Field(description="a NIS2 sector (taxonomy nis2:impact-sectors-impacted)", examples=["energy"])
    country: str = Field(description="ISO 3166 alpha-2 code of the Member State (EL and GR both mean Greece)")
    impact: str = Field(description="NIS impact severity: red, yellow, green or white", examples=["red"])
    consequences: str = Field(default="", max_length=20_000, description="what it means for the Union and its people")


class OptionIn(Strict):
    """A possible response or mitigation measure proposed to the political level (NIS2 Art. 16(3)(c))."""

    model_config = {"json_schema_extra": {"examples": [_OPTION]}}

    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20_000)
    pros: list[str] = Field(default_factory=list, max_length=50)
    cons: list[str] = Field(default_factory=list, max_length=50)


class AssessmentIn(Strict):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "title": "Impact of the wiper campaign on energy and health",
                    "tlp": "amber",
                    "summary": "Two Member States report disruption; spill-over to a third is likely.",
                    "impacts": [_IMPACT],
                    "options": [_OPTION],
                }
            ]
        }
    }

    title: str = Field(min_length=1, max_length=300)
    summary: str = Field(default="", max_length=50_000)
    impacts: list[ImpactIn] = Field(default_factory=list, max_length=500)
    options: list[OptionIn] = Field(default_factory=list, max_length=20)
    tlp: str = Field(
        default="amber",
        description="clear, green, amber or amber+strict (the political level is named organisations, so not red)",
    )
    share_with: ShareWith | None = Field(
        default=None, description="who reads the draft; default: the EU-CyCLONe community (NIS2 Art. 16)"
    )


class AssessmentPatch(Strict):
    version: int = Field(description="the version you read; a stale one is refused with 409")
    title: str | None = Field(default=None, min_length=1, max_length=300)
    summary: str | None = Field(default=None, max_length=50_000)
    impacts: list[ImpactIn] | None = Field(default=None, max_length=500)
    options: list[OptionIn] | None = Field(default=None, max_length=20)


class AssessmentAction(Strict):
    version: int = Field(description="the version you read; a stale one is refused with 409")


class DiscussIn(Strict):
    model_config = {
        "json_schema_extra": {
            "examples": [{"version": 2, "notes": "Discussed at the IPCR roundtable; COREPER to decide on option-1."}]
        }
    }

    version: int = Field(description="the version you read; a stale one is refused with 409")
    notes: str = Field(min_length=1, max_length=50_000, description="what the political level discussed")


class DecideIn(Strict):
    model_config = {
        "json_schema_extra": {
            "examples": [{"version": 3, "option": "option-1", "rationale": "Fastest relief for the OT operators."}]
        }
    }

    version: int = Field(description="the version you read; a stale one is refused with 409")
    option: str = Field(description="the key of the chosen option (`option-1`, ...)")
    rationale: str = Field(min_length=1, max_length=50_000, description="why the political level chose it")


class ImpactOut(BaseModel):
    sector: str
    country: str
    impact: str
    consequences: str


class OptionOut(BaseModel):
    key: str = Field(description="option-1, option-2, ... in the order proposed")
    title: str
    description: str
    pros: list[str]
    cons: list[str]


class AssessmentOut(BaseModel):
    """An impact assessment as one reader sees it, with the acts this reader may do on it now."""

    id: str = Field(examples=["impact-assessment--0d6f1c2e-8a3b-4c5d-9e7f-1a2b3c4d5e6f"])
    crisis: str
    title: str
    summary: str
    impacts: list[ImpactOut]
    options: list[OptionOut]
    state: str = Field(description="draft, submitted (to the political level), discussed or decided")
    deciders: list[str] = Field(description="the political-level organisations it was submitted to")
    submitted_at: datetime | None
    discussed_at: datetime | None
    discussion: str
    decided_at: datetime | None
    decided_by: str | None = Field(description="the organisation that decided")
    chosen_option: str | None
    decision_rationale: str
    tlp: str
    owner: str
    created_by: str | None
    created: datetime
    modified: datetime
    version: int
    exercise: bool
    share_with: ShareList
    allowed_actions: list[str] = Field(description="edit, submit, discuss, decide: what this reader may do now")
