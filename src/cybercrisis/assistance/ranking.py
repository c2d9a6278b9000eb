"""Ordering competing requests to the EU Cybersecurity Reserve, with the reasons (ADR 0007).

The Cyber Solidarity Act (Reg. (EU) 2025/38 Art. 16, prioritisation of multiple concurrent requests) lists the
criteria to *take into account, where relevant*: (a) the severity of the incident, (b) the type of entity affected
(essential entities, NIS2 Art. 3(1), given higher priority), (c) the potential impact on the affected Member
State(s) or users, (d) the potential cross-border nature and the risk of spill-over, (e) the measures taken by the
user. It sets no strict order among them: the order in which this module applies them is the deployment's
(CYBERCRISIS_RESERVE_PRIORITY), and the output says so. Criterion (e) is not an ordering key here: the measures
taken are a precondition of every request (Art. 15(2)), so every ranked request states them, and weighing them is
the contracting authority's judgement; the ranking shows them, it does not sort on them.

The ranking is a pure function of the requests' fields, not a stored score: a reader sees the ranking of the
requests they may read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

ACT = "Reg. (EU) 2025/38 Art. 16"  # prioritisation of concurrent requests to the Reserve
IMPACT_SEVERITY = ("red", "yellow", "green", "white")  # NIS taxonomy, impact-severity (the incident's)
ENTITY_TYPE = ("essential", "important")  # NIS2 Art. 3(1) and 3(2)
POTENTIAL_IMPACT = ("high", "medium", "low")
SPILLOVER = ("high", "medium", "low", "none")
ORDER_LABEL = "deployment's order (CYBERCRISIS_RESERVE_PRIORITY); the Act lists criteria, not an order"


@dataclass(frozen=True, slots=True)
class RankInput:
    """The fields of a request that the ranking reads."""

    id: str
    severity: str  # the incident's impact severity (NIS taxonomy), not the threat's
    entity_type: str
    potential_impact: str
    spillover: str
    measures_taken: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Criterion:
    criterion: str
    legal_basis: str
    value: str
    note: str


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    item: RankInput
    explanation: tuple[Criterion, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    legal_basis: str
    order: tuple[str, ...]
    value: Callable[[RankInput], str]
    phrase: Callable[[str], str]  # the value in a sentence: "incident impact severity red"


RULES: dict[str, _Rule] = {
    r.name: r
    for r in (
        _Rule(
            "severity",
            f"{ACT}, point (a): severity of the incident",
            IMPACT_SEVERITY,
            lambda r: r.severity,
            lambda v: f"incident impact severity {v}",
        ),
        _Rule(
            "entity_type",
            f"{ACT}, point (b): type of entity, essential entities first (NIS2 Art. 3(1))",
            ENTITY_TYPE,
            lambda r: r.entity_type,
            lambda v: f"{v} entity",
        ),
        _Rule(
            "potential_impact",
            f"{ACT}, point (c): potential impact on the affected Member State(s) or users",
            POTENTIAL_IMPACT,
            lambda r: r.potential_impact,
            lambda v: f"potential impact {v or 'not stated'}",
        ),
        _Rule(
            "spillover",
            f"{ACT}, point (d): cross-border nature and risk of spill-over",
            SPILLOVER,
            lambda r: r.spillover,
            lambda v: f"cross-border spill-over risk {v or 'not assessed'}",
        ),
    )
}
CRITERIA = list(RULES)
MEASURES_BASIS = (
    f"{ACT}, point (e): measures taken by the user; a precondition of every request "
    "(Reg. (EU) 2025/38 Art. 15(2)), shown for the assessor, not an ordering key"
)


def parse_priority(value: str) -> tuple[str, ...]:
    """The deployment's order of the criteria: each of CRITERIA exactly once. A bad item is named."""
    items = [part.strip() for part in value.split(",") if part.strip()]
    for item in items:
        if item not in RULES:
            raise ValueError(f"'{item}' is not a Reserve ranking criterion; valid: {', '.join(CRITERIA)}")
    dupes = sorted({i for i in items if items.count(i) > 1})
    if dupes:
        raise ValueError(f"'{dupes[0]}' is listed twice; give each criterion once")
    missing = [c for c in CRITERIA if c not in items]
    if missing:
        raise ValueError(
            f"'{missing[0]}' is missing: the Act lists every criterion; the deployment chooses only "
            f"their order ({', '.join(CRITERIA)})"
        )
    return tuple(items)


def _position(rule: _Rule, value: str) -> int:
    """Known values by their place in the order; an unknown or unstated value after all of them."""
    return rule.order.index(value) if value in rule.order else len(rule.order)


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _note(rule: _Rule, value: str) -> str:
    if value not in rule.order:
        shown = f"'{value}' is not a known value" if value else "not stated"
        return f"{shown} ({' > '.join(rule.order)}); it ranks after all of them"
    return f"{rule.phrase(value)}: {_ordinal(rule.order.index(value) + 1)} of {' > '.join(rule.order)}"


def explain(r: RankInput, priority: Sequence[str]) -> tuple[Criterion, ...]:
    """The request's value on each criterion, in the deployment's order, then the measures it took."""
    out = [Criterion(n, RULES[n].legal_basis, RULES[n].value(r), _note(RULES[n], RULES[n].value(r))) for n in priority]
    out.append(
        Criterion(
            "measures_taken",
            MEASURES_BASIS,
            "stated" if r.measures_taken.strip() else "not stated",
            r.measures_taken.strip()[:300],
        )
    )
    return tuple(out)


def why_above(a: RankInput, b: RankInput, priority: Sequence[str]) -> str:
    """One sentence: why `a` ranks above `b` (the first criterion, in the deployment's order, on which they differ)."""
    for name in priority:
        rule = RULES[name]
        va, vb = rule.value(a), rule.value(b)
        if _position(rule, va) != _position(rule, vb):
            return f"above {b.id}: {rule.phrase(va)} ranks before {rule.phrase(vb)} (deployment's order)"
    if a.created_at != b.created_at:
        return f"above {b.id}: tied on all criteria; earlier request first (deployment's rule)"
    return f"above {b.id}: tied on all criteria and asked at the same time; ordered by id"


def rank(requests: Sequence[RankInput], priority: Sequence[str] = tuple(CRITERIA)) -> list[Ranked]:
    """Order requests by the criteria in the deployment's order, 1 first, each with its explanation."""
    rules = [RULES[n] for n in priority]
    ordered = sorted(requests, key=lambda r: (*(_position(x, x.value(r)) for x in rules), r.created_at, r.id))
    out: list[Ranked] = []
    for n, r in enumerate(ordered):
        if n + 1 < len(ordered):
            reason = why_above(r, ordered[n + 1], priority)
        elif len(ordered) == 1:
            reason = "the only request ranked"
        else:
            reason = f"last of the {len(ordered)} requests ranked"
        out.append(Ranked(rank=n + 1, item=r, explanation=explain(r, priority), reason=reason))
    return out
