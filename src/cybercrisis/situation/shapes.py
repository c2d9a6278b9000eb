"""The shapes of a situation report's figures: the inputs a reader may see, and the picture built from them.

aggregate.py computes the picture; this module holds the plain data that goes in and comes out, so that the
selection (sources.py), the freezing of sources and the figures share one definition of each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OPEN_STATUSES = frozenset({"new", "triage", "ongoing", "contained"})


# --- inputs ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentInput:
    id: str
    tlp: str
    title: str
    status: str
    aware_at: datetime
    countries: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    rsit_class: str | None = None
    rsit_type: str | None = None
    impact_severity: str | None = None
    cross_border: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class ContributionInput:
    id: str
    tlp: str
    country: str
    period_start: datetime
    period_end: datetime
    status: str
    outlook: str
    submitted_at: datetime
    sectors: tuple[tuple[str, str], ...] = ()  # (sector, impact)
    services_disrupted: tuple[str, ...] = ()
    entities_affected: int | None = None
    measures: str = ""
    needs: str = ""
    assistance_requested: bool = False
    narrative: str = ""
    incidents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ObservableInput:
    """A value seen in incidents of several Member States when the report was drafted."""

    id: str  # observable--<number>
    type: str
    value: str
    incidents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Inputs:
    contributions: tuple[ContributionInput, ...] = ()
    incidents: tuple[IncidentInput, ...] = ()
    observables: tuple[ObservableInput, ...] = ()

    def restricted_to(self, visible: set[str]) -> Inputs:
        """The inputs a reader may see. Observables keep only their visible incidents."""
        obs = []
        for o in self.observables:
            if o.id not in visible:
                continue
            incidents = tuple(i for i in o.incidents if i in visible)
            if incidents:
                obs.append(ObservableInput(o.id, o.type, o.value, incidents))
        return Inputs(
            contributions=tuple(c for c in self.contributions if c.id in visible),
            incidents=tuple(i for i in self.incidents if i.id in visible),
            observables=tuple(obs),
        )


# --- output shapes --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    cells: dict[str, Any]
    sources: list[str]


@dataclass(slots=True)
class Table:
    key: str
    title: str
    columns: list[tuple[str, str]]  # (cell key, label)
    rows: list[Row] = field(default_factory=list)


@dataclass(slots=True)
class Number:
    key: str
    label: str
    value: int | str
    sources: list[str]


@dataclass(slots=True)
class CountryCell:
    """What the map shows for one Member State."""

    status: str | None
    outlook: str | None
    impact: str | None  # the worst impact reported for any sector
    open_incidents: int
    sources: list[str]


@dataclass(slots=True)
class Picture:
    level: str
    headline: list[Number]
    tables: list[Table]
    countries: dict[str, CountryCell]
    heat: dict[str, dict[str, str]]  # country -> sector -> worst impact
    marking: str  # the strictest TLP among the inputs used

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON, as `dataclasses.asdict` would give it: written out, since asdict deep-copies each of
        the tens of thousands of source ids one call at a time (a quarter of a report draft)."""
        return {
            "level": self.level,
            "marking": self.marking,
            "headline": [
                {"key": n.key, "label": n.label, "value": n.value, "sources": list(n.sources)} for n in self.headline
            ],
            "tables": [
                {
                    "key": t.key,
                    "title": t.title,
                    "columns": [{"key": k, "label": label} for k, label in t.columns],
                    "rows": [{"cells": _plain(r.cells), "sources": list(r.sources)} for r in t.rows],
                }
                for t in self.tables
            ],
            "countries": {
                c: {
                    "status": cell.status,
                    "outlook": cell.outlook,
                    "impact": cell.impact,
                    "open_incidents": cell.open_incidents,
                    "sources": list(cell.sources),
                }
                for c, cell in sorted(self.countries.items())
            },
            "heat": self.heat,
        }


def _plain(value: Any) -> Any:
    """A copy of a cell's value, containers anew (cells hold numbers, strings and short lists of strings)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value
