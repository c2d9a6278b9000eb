"""What the contribution and situation-report forms post, and how it becomes the service's input."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from cybercrisis.access.schemas import ShareWith
from cybercrisis.situation.schemas import ContributionIn, ContributionPatch, SectorImpact
from cybercrisis.web.forms import PostedForm, bad, required_utc, validated

_COMPARE = re.compile(r"^\s*(\d{1,6})\s*\.\.\s*(\d{1,6})\s*$")
_INCIDENT_ID = re.compile(r"incident--[0-9a-fA-F-]{36}")
# Service field names -> form field names, for showing each error next to its control.
FIELD_ALIASES = {"organisations": "communities", "users": "communities", "share_with": "communities", "form": ""}


# --- contributions ----------------------------------------------------------------------------------------------


class ContentForm(PostedForm):
    """The fields a contribution's author may change; also the second half of the new-contribution form.

    Each sector's impact arrives as "sector:impact" ("sector:" when not affected), so one list carries them all.
    """

    status: str = Field(default="", max_length=64)
    sector_impacts: list[str] = Field(default_factory=list, max_length=60)
    services_disrupted: str = Field(default="", max_length=30_000)
    entities_affected: str = Field(default="", max_length=30)
    incidents: str = Field(default="", max_length=100_000)
    measures: str = Field(default="", max_length=20_000)
    needs: str = Field(default="", max_length=20_000)
    assistance_requested: str = Field(default="", max_length=8)
    outlook: str = Field(default="", max_length=64)
    narrative: str = Field(default="", max_length=50_000)


class ContributionForm(ContentForm):
    country: str = Field(default="", max_length=10)
    period_start: str = Field(default="", max_length=40)
    period_end: str = Field(default="", max_length=40)
    tlp: str = Field(default="", max_length=20)
    communities: list[str] = Field(default_factory=list, max_length=50)
    action: str = Field(default="submit", max_length=16)


class EditForm(ContentForm):
    version: int = Field(default=0, ge=0)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def impacts(values: list[str]) -> dict[str, str]:
    """sector -> impact, from the "sector:impact" values (not-affected sectors left out)."""
    out: dict[str, str] = {}
    for value in values:
        sector, _, impact = value.partition(":")
        if sector.strip() and impact.strip():
            out[sector.strip()] = impact.strip()
    return out


def _incident_ids(text: str) -> list[str]:
    """One per line; a pasted page address (…/incidents/incident--…) is fine too."""
    out = []
    for line in _lines(text):
        found = _INCIDENT_ID.search(line)
        out.append(found.group(0).lower() if found else line)
    return out


def _entities(text: str) -> int | None:
    value = text.strip().replace(" ", "").replace("_", "")
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad("entities_affected", f"'{text[:30]}' is not a whole number") from None
    if number < 0:
        raise bad("entities_affected", "the number of entities affected cannot be negative")
    return number


def _content(form: ContentForm) -> dict[str, Any]:
    return {
        "status": form.status,
        "sectors": [SectorImpact(sector=s, impact=i) for s, i in impacts(form.sector_impacts).items()],
        "services_disrupted": _lines(form.services_disrupted),
        "entities_affected": _entities(form.entities_affected),
        "incidents": _incident_ids(form.incidents),
        "measures": form.measures.strip(),
        "needs": form.needs.strip(),
        "assistance_requested": form.assistance_requested == "yes",
        "outlook": form.outlook,
        "narrative": form.narrative.strip(),
    }


def to_contribution_in(form: ContributionForm) -> ContributionIn:
    data = _content(form)
    data.update(
        country=form.country,
        period_start=required_utc(form.period_start, field="period_start"),
        period_end=required_utc(form.period_end, field="period_end"),
        tlp=form.tlp or "green",
        share_with=ShareWith(communities=form.communities),
        draft=form.action == "draft",
    )
    return validated(ContributionIn, data)


def to_patch(form: EditForm) -> ContributionPatch:
    return validated(ContributionPatch, {"version": form.version, **_content(form)})


def form_values(form: ContentForm) -> dict[str, Any]:
    """What the user typed, to show back: impacts as a sector -> impact map."""
    values = form.model_dump(exclude={"csrf_token", "sector_impacts"})
    values["impacts"] = impacts(form.sector_impacts)
    return values


def parse_compare(value: str) -> tuple[int, int]:
    """'1..2' -> (1, 2): the two versions to compare."""
    found = _COMPARE.match(value)
    if not found:
        raise bad("compare", f"'{value[:20]}' is not two versions; use the form 1..2")
    return int(found.group(1)), int(found.group(2))


def status_class(value: str | None, scale: list[str]) -> str:
    """A CSS class from least (sev-0) to most severe (sev-4), whatever the length of the deployment's scale."""
    if value not in scale:
        return "sev-none"
    if len(scale) == 1:
        return "sev-4"
    return f"sev-{scale.index(value) * 4 // (len(scale) - 1)}"


# --- situation reports ------------------------------------------------------------------------------------------


class NewSitrepForm(PostedForm):
    level: str = Field(default="", max_length=32)
    period_start: str = Field(default="", max_length=40)
    period_end: str = Field(default="", max_length=40)
    title: str = Field(default="", max_length=300)
    tlp: str = Field(default="", max_length=20)


class SitrepTextForm(PostedForm):
    version: int = Field(default=0, ge=0)
    title: str = Field(default="", max_length=300)
    summary: str = Field(default="", max_length=50_000)
    decisions_needed: str = Field(default="", max_length=50_000)
    notes: str = Field(default="", max_length=50_000)
