"""API shapes of contributions, situation reports and the live picture."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from cybercrisis.access.schemas import ShareList, ShareWith
from cybercrisis.schemas import HeldAt, Strict


class SectorImpact(Strict):
    sector: str = Field(description="a NIS2 sector (taxonomy nis2:impact-sectors-impacted)")
    impact: str = Field(description="NIS impact severity: red, yellow, green or white")


class ContributionIn(Strict):
    country: str = Field(description="ISO 3166 alpha-2 code of the Member State (EL and GR both mean Greece)")
    period_start: datetime
    period_end: datetime
    status: str = Field(description="a value of the deployment's status scale (GET /api/v1/situation/scale)")
    sectors: list[SectorImpact] = Field(default_factory=list, max_length=50)
    services_disrupted: list[str] = Field(default_factory=list, max_length=100)
    entities_affected: int | None = Field(default=None, ge=0)
    incidents: list[str] = Field(default_factory=list, max_length=1000, description="ids of linked incidents")
    measures: str = Field(default="", max_length=20_000)
    needs: str = Field(default="", max_length=20_000)
    assistance_requested: bool = False
    outlook: str = Field(description="improving, stable or worsening")
    narrative: str = Field(default="", max_length=50_000)
    tlp: str = "green"
    share_with: ShareWith = Field(default_factory=ShareWith)
    draft: bool = Field(default=False, description="keep it as a draft: not in the EU picture until submitted")


class ContributionPatch(Strict):
    version: int = Field(description="the version you read; a stale one is refused with 409")
    status: str | None = None
    sectors: list[SectorImpact] | None = Field(default=None, max_length=50)
    services_disrupted: list[str] | None = Field(default=None, max_length=100)
    entities_affected: int | None = Field(default=None, ge=0)
    incidents: list[str] | None = Field(default=None, max_length=1000)
    measures: str | None = Field(default=None, max_length=20_000)
    needs: str | None = Field(default=None, max_length=20_000)
    assistance_requested: bool | None = None
    outlook: str | None = None
    narrative: str | None = Field(default=None, max_length=50_000)


class ContributionOut(BaseModel):
    id: str
    country: str
    period_start: datetime
    period_end: datetime
    state: str
    submitted_at: datetime | None
    status: str
    outlook: str
    sectors: list[dict[str, str]]
    services_disrupted: list[str]
    entities_affected: int | None
    incidents: list[str]
    measures: str
    needs: str
    assistance_requested: bool
    narrative: str
    tlp: str
    owner: str
    created_by: str | None
    created: datetime
    modified: datetime
    version: int
    share_with: ShareList
    held_at: HeldAt | None = Field(
        default=None,
        description="set when the contribution is held at another node, its Member State's (ADR 0013): read-only "
        "here, changed on that node only",
    )


class ContributionPage(BaseModel):
    items: list[ContributionOut]
    next: str | None


class VersionOut(BaseModel):
    version: int
    created_at: datetime
    created_by: str | None
    state: str | None = None
    build: int | None = None
    approved_by: str | None = None


class FieldChange(BaseModel):
    field: str
    before: Any
    after: Any
    diff: list[str] | None = Field(default=None, description="unified diff lines for text fields")


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    changes: list[FieldChange]


class PeriodIn(Strict):
    period_start: datetime
    period_end: datetime
    reason: str = Field(default="closed by the secretariat", max_length=200)


class PeriodOut(BaseModel):
    period_start: datetime
    period_end: datetime
    closed_at: datetime
    closed_by: str | None
    reason: str


class SitrepIn(Strict):
    level: str = Field(description="technical, operational or political")
    period_start: datetime
    period_end: datetime
    title: str | None = Field(default=None, max_length=300)
    tlp: str = Field(default="green", description="the report's own marking; shown stricter if its sources are")
    share_with: ShareWith | None = Field(
        default=None, description="the audience once published; default: the community of the level"
    )


class SitrepPatch(Strict):
    version: int = Field(description="the report version you edited; a stale one is refused with 409")
    title: str | None = Field(default=None, max_length=300)
    summary: str | None = Field(default=None, max_length=50_000)
    decisions_needed: str | None = Field(default=None, max_length=50_000)
    notes: str | None = Field(default=None, max_length=50_000)


class SitrepAction(Strict):
    version: int = Field(description="the report version this applies to")


class SitrepPublish(Strict):
    version: int = Field(description="the approved report version to publish")
    previewed: str | None = Field(
        default=None,
        description="the `digest` of the audience preview the approver checked (political reports): publishing is "
        "refused with 409 when what the audience may read changed since",
        examples=["3f0c9a4e5b1d2c7a8e6f4b0d9c1a2e3f4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e"],
    )


class SitrepPreviewOut(BaseModel):
    """A political report as its audience will see it once published: the figures are computed from the frozen
    sources that every audience organisation may read (the read policy applied to each of them), never from what
    only the author sees. Publishing stores exactly these figures, and every reader of the published version gets
    them."""

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "id": "sitrep--6f1c2c8e-3f43-4c39-9a37-0a4a57d8b2a1",
                    "version": 3,
                    "level": "political",
                    "marking": "amber",
                    "sources": 7,
                    "audience": ["identity--1c7b...", "identity--9a2e..."],
                    "figures": {"headline": [{"key": "contributions", "label": "National contributions", "value": 5}]},
                    "digest": "3f0c9a4e5b1d2c7a8e6f4b0d9c1a2e3f4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e",
                }
            ]
        }
    }

    id: str
    version: int = Field(description="the report version previewed")
    level: str
    marking: str = Field(description="the strictest of the report's marking and the shared sources'")
    sources: int = Field(description="frozen sources every audience organisation may read; the figures use only them")
    audience: list[str] = Field(description="ids of the audience organisations whose reading was intersected")
    figures: dict[str, Any] = Field(description="exactly what publishing stores and the audience reads")
    digest: str = Field(description="send it as `previewed` when publishing, to publish exactly this")


class SitrepOut(BaseModel):
    """A situation report as one reader sees it. Every figure, count and source list is computed from the sources
    this reader may see today, and nothing is said about the others, not even how many there are: the `withheld`
    count that earlier versions of this API returned was removed, since it told readers that hidden sources exist."""

    id: str
    level: str
    period_start: datetime
    period_end: datetime
    state: str = Field(description="state of the version shown: draft, approved or published")
    version: int = Field(description="the report version shown")
    current_version: int | None = Field(description="the latest version (drafting organisation only)")
    published_version: int | None
    published_at: datetime | None
    tlp: str = Field(description="the report's own marking")
    marking: str = Field(description="what this reader must handle it as: the strictest of the report and its sources")
    owner: str
    created: datetime
    modified: datetime
    title: str
    text: dict[str, str]
    figures: dict[str, Any] = Field(description="headline numbers, tables, map and heat map, each row with sources")
    sources: int = Field(description="sources this reader may see; every figure is computed from them")
    share_with: ShareList
    audience: ShareList
    held_at: HeldAt | None = Field(
        default=None,
        description="set when the report is held at another node, its drafting organisation's (ADR 0013): its "
        "published version, read-only here; `figures` come from the sources it carries that you may read here",
    )


class SitrepSummary(BaseModel):
    id: str
    level: str
    period_start: datetime
    period_end: datetime
    state: str
    title: str
    tlp: str
    owner: str
    current_version: int
    published_version: int | None
    published_at: datetime | None
    modified: datetime


class SitrepPage(BaseModel):
    items: list[SitrepSummary]
    next: str | None
