"""The figures of a situation report that follow observables across Member States: values seen in incidents of two
or more Member States, and clusters of incidents joined by them (ADR 0006). Pure functions of the inputs a reader may
see, like the rest of situation/aggregate.py, which builds the picture from them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from cybercrisis.situation.shapes import IncidentInput, ObservableInput, Row, Table


def _countries_of(obs: ObservableInput, by_id: dict[str, IncidentInput]) -> list[str]:
    return sorted({c for i in obs.incidents if i in by_id for c in by_id[i].countries})


def shared_observables(
    incidents: Sequence[IncidentInput], observables: Sequence[ObservableInput], *, only_type: str | None = None
) -> Table:
    """Values seen in incidents of two or more Member States (among the visible incidents)."""
    by_id = {i.id: i for i in incidents}
    rows = []
    for o in observables:
        if only_type is not None and o.type != only_type:
            continue
        if only_type is None and o.type == "cve":
            continue
        seen_in = [i for i in o.incidents if i in by_id]
        countries = _countries_of(o, by_id)
        if len(countries) < 2:
            continue
        rows.append(
            Row(
                {"type": o.type, "value": o.value, "countries": countries, "incidents": len(seen_in)},
                sorted([o.id, *seen_in]),
            )
        )
    rows.sort(key=lambda r: (-len(r.cells["countries"]), -r.cells["incidents"], r.cells["type"], r.cells["value"]))
    if only_type == "cve":
        return Table(
            "vulnerabilities",
            "Vulnerabilities exploited in several Member States",
            [("value", "CVE"), ("countries", "Member States"), ("incidents", "Incidents")],
            rows,
        )
    return Table(
        "shared-observables",
        "Observables seen in several Member States",
        [("type", "Type"), ("value", "Value"), ("countries", "Member States"), ("incidents", "Incidents")],
        rows,
    )


def clusters(incidents: Sequence[IncidentInput], observables: Sequence[ObservableInput]) -> Table:
    """Groups of incidents linked by shared observables that span two or more Member States."""
    by_id = {i.id: i for i in incidents}
    parent: dict[str, str] = {i.id: i.id for i in incidents}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links: dict[str, set[str]] = defaultdict(set)
    for o in observables:
        seen = [i for i in o.incidents if i in by_id]
        for other in seen[1:]:
            a, b = find(seen[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
        if len(seen) >= 2:  # an observable links a cluster only through incidents the reader sees
            for i in seen:
                links[i].add(o.id)
    groups: dict[str, list[str]] = defaultdict(list)
    for i in by_id:
        groups[find(i)].append(i)
    rows = []
    for members in groups.values():
        if len(members) < 2:
            continue
        countries = sorted({c for m in members for c in by_id[m].countries})
        if len(countries) < 2:
            continue
        obs = sorted({o for m in members for o in links[m]})
        rows.append(
            Row(
                {
                    "incidents": len(members),
                    "countries": countries,
                    "observables": len(obs),
                    "classes": sorted({by_id[m].rsit_class or "unclassified" for m in members}),
                },
                sorted(members) + obs,
            )
        )
    rows.sort(key=lambda r: (-len(r.cells["countries"]), -r.cells["incidents"], r.sources[0]))
    columns = [
        ("incidents", "Incidents"),
        ("countries", "Member States"),
        ("observables", "Shared observables"),
        ("classes", "Classes"),
    ]
    return Table("clusters", "Correlated incidents across Member States", columns, rows)
