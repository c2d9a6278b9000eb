"""Every figure of a situation report as a pure function of the inputs a reader may see (ADR 0006).

Nothing here touches the database: the caller passes the visible inputs, and each function returns rows that
name their sources. That keeps each number easy to check by hand and by unit test.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cybercrisis.access.tlp import TLP
from cybercrisis.situation.correlated import clusters, shared_observables
from cybercrisis.situation.shapes import (
    OPEN_STATUSES,
    ContributionInput,
    CountryCell,
    IncidentInput,
    Inputs,
    Number,
    ObservableInput,
    Picture,
    Row,
    Table,
)

# The inputs and output shapes are defined in shapes.py and re-exported here, where every caller has found them.
__all__ = [
    "OPEN_STATUSES",
    "ContributionInput",
    "CountryCell",
    "IncidentInput",
    "Inputs",
    "Number",
    "ObservableInput",
    "Picture",
    "Row",
    "Table",
]

IMPACT_ORDER = ("white", "green", "yellow", "red")  # NIS impact severity, least to most severe
OUTLOOKS = ("improving", "stable", "worsening")
LEVELS = ("technical", "operational", "political")
# Said to every reader of a report alike (page, PDF, Markdown): how many sources a reader may not see is itself
# something they may not know, so no count of them is ever shown.
SOURCES_NOTE = "Figures are computed from the sources you may see."


# --- helpers --------------------------------------------------------------------------------------------------


def worst_impact(values: Iterable[str | None]) -> str | None:
    ranked = [IMPACT_ORDER.index(v) for v in values if v in IMPACT_ORDER]
    return IMPACT_ORDER[max(ranked)] if ranked else None


def strictest(tlps: Iterable[str], floor: str = TLP.CLEAR.value) -> str:
    best = TLP(floor)
    for t in tlps:
        value = TLP(t)
        if value.rank > best.rank:
            best = value
    return best.value


def latest_per_country(contributions: Sequence[ContributionInput]) -> dict[str, ContributionInput]:
    """The most recent contribution of each Member State: latest period end, then latest submission."""
    latest: dict[str, ContributionInput] = {}
    for c in contributions:
        seen = latest.get(c.country)
        if seen is None or (c.period_end, c.submitted_at, c.id) > (seen.period_end, seen.submitted_at, seen.id):
            latest[c.country] = c
    return latest


def status_rank(status: str | None, scale: Sequence[str]) -> int:
    return scale.index(status) if status in scale else -1


# --- figures --------------------------------------------------------------------------------------------------


def incidents_by_class(incidents: Sequence[IncidentInput]) -> Table:
    groups: dict[str, list[str]] = defaultdict(list)
    for i in incidents:
        groups[i.rsit_class or "unclassified"].append(i.id)
    rows = [
        Row({"class": cls, "incidents": len(ids)}, sorted(ids))
        for cls, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    return Table(
        "incidents-by-class", "Incidents by class (RSIT)", [("class", "Class"), ("incidents", "Incidents")], rows
    )


def incidents_by_country(incidents: Sequence[IncidentInput]) -> Table:
    groups: dict[str, list[IncidentInput]] = defaultdict(list)
    for i in incidents:
        for c in i.countries:
            groups[c].append(i)
    rows = []
    for country, items in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rows.append(
            Row(
                {
                    "country": country,
                    "incidents": len(items),
                    "open": sum(1 for i in items if i.is_open),
                    "red_impact": sum(1 for i in items if i.impact_severity == "red"),
                },
                sorted(i.id for i in items),
            )
        )
    columns = [("country", "Member State"), ("incidents", "Incidents"), ("open", "Open"), ("red_impact", "Red impact")]
    return Table("incidents-by-country", "Incidents by Member State", columns, rows)


def country_status(contributions: Sequence[ContributionInput], scale: Sequence[str]) -> Table:
    latest = latest_per_country(contributions)
    rows = [
        Row(
            {
                "country": c.country,
                "status": c.status,
                "outlook": c.outlook,
                "entities_affected": c.entities_affected,
                "services_disrupted": list(c.services_disrupted),
                "measures": c.measures,
            },
            [c.id],
        )
        for c in sorted(latest.values(), key=lambda c: (-status_rank(c.status, scale), c.country))
    ]
    columns = [
        ("country", "Member State"),
        ("status", "Status"),
        ("outlook", "Outlook"),
        ("entities_affected", "Entities affected"),
        ("services_disrupted", "Services disrupted"),
        ("measures", "Measures taken"),
    ]
    return Table("country-status", "Status reported by each Member State", columns, rows)


def impact_matrix(contributions: Sequence[ContributionInput], incidents: Sequence[IncidentInput]) -> Table:
    """Worst impact per Member State and sector: from the latest contributions and from the incidents."""
    cells: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)  # (country, sector) -> [(impact, id)]
    for c in latest_per_country(contributions).values():
        for sector, impact in c.sectors:
            cells[(c.country, sector)].append((impact, c.id))
    for i in incidents:
        if i.impact_severity and i.is_open:
            for country in i.countries:
                for sector in i.sectors:
                    cells[(country, sector)].append((i.impact_severity, i.id))
    rows = []
    for (country, sector), found in sorted(cells.items()):
        worst = worst_impact(v for v, _ in found) or "white"
        rows.append(Row({"country": country, "sector": sector, "impact": worst}, sorted({s for _, s in found})))
    rows.sort(key=lambda r: (-IMPACT_ORDER.index(r.cells["impact"]), r.cells["country"], r.cells["sector"]))
    columns = [("country", "Member State"), ("sector", "Sector"), ("impact", "Impact")]
    return Table("impact", "Impact by Member State and sector", columns, rows)


def services_disrupted(contributions: Sequence[ContributionInput]) -> Table:
    groups: dict[str, list[ContributionInput]] = defaultdict(list)
    for c in latest_per_country(contributions).values():
        for s in c.services_disrupted:
            groups[s.strip()].append(c)
    rows = [
        Row({"service": s, "countries": sorted({c.country for c in cs})}, sorted(c.id for c in cs))
        for s, cs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        if s
    ]
    return Table("services", "Services disrupted", [("service", "Service"), ("countries", "Member States")], rows)


def needs(contributions: Sequence[ContributionInput]) -> Table:
    rows = [
        Row({"country": c.country, "needs": c.needs, "assistance_requested": c.assistance_requested}, [c.id])
        for c in sorted(
            latest_per_country(contributions).values(), key=lambda c: (not c.assistance_requested, c.country)
        )
        if c.needs.strip() or c.assistance_requested
    ]
    columns = [("country", "Member State"), ("needs", "Needs"), ("assistance_requested", "Assistance requested")]
    return Table("needs", "Needs and requests for assistance", columns, rows)


def outlook(contributions: Sequence[ContributionInput]) -> Table:
    groups: dict[str, list[ContributionInput]] = {o: [] for o in OUTLOOKS}
    for c in latest_per_country(contributions).values():
        groups.setdefault(c.outlook, []).append(c)
    rows = [
        Row({"outlook": o, "countries": sorted(c.country for c in cs), "count": len(cs)}, sorted(c.id for c in cs))
        for o, cs in groups.items()
    ]
    columns = [("outlook", "Outlook"), ("count", "Member States"), ("countries", "Which")]
    return Table("outlook", "Outlook for the next period", columns, rows)


def countries_map(
    contributions: Sequence[ContributionInput], incidents: Sequence[IncidentInput]
) -> dict[str, CountryCell]:
    out: dict[str, CountryCell] = {}
    latest = latest_per_country(contributions)
    open_by_country: dict[str, list[IncidentInput]] = defaultdict(list)
    for i in incidents:
        if i.is_open:
            for country in i.countries:
                open_by_country[country].append(i)
    for code in sorted(set(latest) | set(open_by_country)):
        c = latest.get(code)
        items = open_by_country.get(code, [])
        impacts = [imp for _, imp in c.sectors] if c else []
        impacts += [i.impact_severity for i in items if i.impact_severity]
        out[code] = CountryCell(
            status=c.status if c else None,
            outlook=c.outlook if c else None,
            impact=worst_impact(impacts),
            open_incidents=len(items),
            sources=([c.id] if c else []) + sorted(i.id for i in items),
        )
    return out


def heat(matrix: Table) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for r in matrix.rows:
        out[r.cells["country"]][r.cells["sector"]] = r.cells["impact"]
    return dict(out)


def _ids(items: Iterable[IncidentInput | ContributionInput]) -> list[str]:
    return sorted(i.id for i in items)


def headline(level: str, inputs: Inputs, scale: Sequence[str]) -> list[Number]:
    incidents, contributions = inputs.incidents, latest_per_country(inputs.contributions)
    affected = {c for i in incidents for c in i.countries} | {
        c.country for c in contributions.values() if status_rank(c.status, scale) > 0
    }
    affected_sources = _ids([i for i in incidents if i.countries]) + _ids(
        c for c in contributions.values() if status_rank(c.status, scale) > 0
    )
    cross = [i for i in incidents if i.cross_border or len(i.countries) > 1]
    top = scale[-1] if scale else ""
    at_top = [c for c in contributions.values() if c.status == top]
    worsening = [c for c in contributions.values() if c.outlook == "worsening"]
    assistance = [c for c in contributions.values() if c.assistance_requested]
    red = [c for c in contributions.values() if any(imp == "red" for _, imp in c.sectors)]
    worst = max(contributions.values(), key=lambda c: status_rank(c.status, scale), default=None)
    numbers = [
        Number("member-states-affected", "Member States affected", len(affected), sorted(set(affected_sources))),
        Number("incidents", "Incidents", len(incidents), _ids(incidents)),
        Number("cross-border-incidents", "Cross-border incidents", len(cross), _ids(cross)),
    ]
    if level == "technical":
        shared = shared_observables(incidents, inputs.observables)
        numbers.append(
            Number(
                "shared-observables",
                "Observables seen in several Member States",
                len(shared.rows),
                sorted({s for r in shared.rows for s in r.sources}),
            )
        )
        return numbers
    numbers += [
        Number("contributions", "Member States reporting", len(contributions), _ids(contributions.values())),
        Number(f"status-{top}", f"Member States at '{top}'", len(at_top), _ids(at_top)),
        Number("red-impact", "Member States with a sector at red impact", len(red), _ids(red)),
        Number("worsening", "Member States expecting it to worsen", len(worsening), _ids(worsening)),
        Number("assistance", "Requests for assistance", len(assistance), _ids(assistance)),
    ]
    if worst is not None:
        numbers.append(Number("worst-status", "Most severe national status", worst.status, [worst.id]))
    return numbers


def build(level: str, inputs: Inputs, scale: Sequence[str]) -> Picture:
    """The picture of one level from the inputs a reader may see."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}")
    contributions, incidents, observables = list(inputs.contributions), list(inputs.incidents), inputs.observables
    matrix = impact_matrix(contributions, incidents)
    if level == "technical":
        tables = [
            incidents_by_class(incidents),
            incidents_by_country(incidents),
            shared_observables(incidents, observables),
            shared_observables(incidents, observables, only_type="cve"),
            clusters(incidents, observables),
        ]
    elif level == "operational":
        tables = [
            country_status(contributions, scale),
            matrix,
            services_disrupted(contributions),
            needs(contributions),
            outlook(contributions),
            incidents_by_country(incidents),
        ]
    else:
        by_class = incidents_by_class(incidents)
        by_class.rows = by_class.rows[:3]
        by_class.key, by_class.title = "what-happened", "What happened: the main kinds of incident"
        how_bad = country_status(contributions, scale)
        how_bad.key, how_bad.title = "how-bad", "How bad: Member States by reported status"
        how_bad.columns = [c for c in how_bad.columns if c[0] in ("country", "status", "outlook", "services_disrupted")]
        going = outlook(contributions)
        going.key, going.title = "where-going", "Where it is going: national outlooks"
        decide = needs(contributions)
        decide.key, decide.title = "decisions", "Needs that may call for decisions"
        tables = [by_class, how_bad, going, decide]
    used = [c.tlp for c in contributions] + [i.tlp for i in incidents]
    return Picture(
        level=level,
        headline=headline(level, inputs, scale),
        tables=tables,
        countries=countries_map(contributions, incidents),
        heat=heat(matrix),
        marking=strictest(used),
    )


def incidents_per_day(incidents: Sequence[IncidentInput], *, end: datetime, days: int = 14) -> Table:
    """How many incidents were detected each day of the last `days` days (for the timeline)."""
    start = (end - timedelta(days=days - 1)).date()
    counts: Counter[str] = Counter()
    sources: dict[str, list[str]] = defaultdict(list)
    for i in incidents:
        d = i.aware_at.date()
        if start <= d <= end.date():
            counts[d.isoformat()] += 1
            sources[d.isoformat()].append(i.id)
    rows = []
    for n in range(days):
        day = (start + timedelta(days=n)).isoformat()
        rows.append(Row({"day": day, "incidents": counts[day]}, sorted(sources[day])))
    return Table(
        "timeline", f"Incidents detected per day, last {days} days", [("day", "Day"), ("incidents", "Incidents")], rows
    )
