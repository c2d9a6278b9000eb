"""Prioritising competing requests to the EU Cybersecurity Reserve, with the reasons (ADR 0007, DOMAIN.md).

The Cyber Solidarity Act prioritises competing requests by: severity, entity type (essential first), impact,
cross-border spill-over risk and the requester's own measures. Here they are applied in that order, each as a
strict ordering of its values; the first criterion on which two requests differ decides, and requests tied on
all of them go earliest first. The ranking is a pure function of the requests' fields, not a stored score: a
reader sees the ranking of the requests they may read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

SEVERITY = ("high", "medium", "low")  # NIS taxonomy, nature-severity
ENTITY_TYPE = ("essential", "important")  # NIS2 Art. 3
IMPACT = ("red", "yellow", "green", "white")  # NIS taxonomy, impact-severity
SPILLOVER = ("high", "medium", "low", "none")
MEASURES = ("taken", "none stated")


@dataclass(frozen=True, slots=True)
class RankInput:
    """The fields of a request that the ranking reads."""

    id: str
    severity: str
    entity_type: str
    impact: str
    spillover: str
    measures_taken: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Criterion:
    criterion: str
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
    order: tuple[str, ...]
    value: Callable[[RankInput], str]
    phrase: Callable[[str], str]  # the value in a sentence: "its threat severity is high"


def _measures(r: RankInput) -> str:
    return MEASURES[0] if r.measures_taken.strip() else MEASURES[1]


RULES: tuple[_Rule, ...] = (
    _Rule("severity", SEVERITY, lambda r: r.severity, lambda v: f"threat severity {v}"),
    _Rule("entity_type", ENTITY_TYPE, lambda r: r.entity_type, lambda v: f"{v} entity"),
    _Rule("impact", IMPACT, lambda r: r.impact, lambda v: f"impact {v}"),
    _Rule("spillover", SPILLOVER, lambda r: r.spillover, lambda v: f"cross-border spill-over risk {v}"),
    _Rule("measures_taken", MEASURES, _measures,
          lambda v: "own measures taken" if v == MEASURES[0] else "no own measures stated"),
)  # fmt: skip
CRITERIA = [rule.name for rule in RULES]


def _position(rule: _Rule, value: str) -> int:
    """Known values by their place in the order; an unknown value after all of them."""
    return rule.order.index(value) if value in rule.order else len(rule.order)


def _key(r: RankInput) -> tuple[object, ...]:
    return (*(_position(rule, rule.value(r)) for rule in RULES), r.created_at, r.id)


def _note(rule: _Rule, value: str) -> str:
    if value not in rule.order:
        return f"'{value}' is not a known value ({' > '.join(rule.order)}); it ranks after all of them"
    if rule.name == "measures_taken":
        if value == MEASURES[0]:
            return "the requester took its own mitigating measures before asking; such requests come first"
        return "no own mitigating measures stated; requests whose requester took measures come first"
    place = rule.order.index(value) + 1
    return f"{rule.phrase(value)}: {_ordinal(place)} of {' > '.join(rule.order)}"


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def explain(r: RankInput) -> tuple[Criterion, ...]:
    """The request's value on each criterion, in the order the criteria apply."""
    return tuple(Criterion(rule.name, rule.value(r), _note(rule, rule.value(r))) for rule in RULES)


def why_above(a: RankInput, b: RankInput) -> str:
    """One sentence: why `a` ranks above `b` (the first criterion on which they differ)."""
    for rule in RULES:
        va, vb = rule.value(a), rule.value(b)
        if _position(rule, va) != _position(rule, vb):
            return f"above {b.id}: {rule.phrase(va)} ranks before {rule.phrase(vb)}"
    if a.created_at != b.created_at:
        return f"above {b.id}: tied on all criteria; earlier request first"
    return f"above {b.id}: tied on all criteria and asked at the same time; ordered by id"


def rank(requests: Sequence[RankInput]) -> list[Ranked]:
    """Order requests by the criteria, 1 first, each with its explanation and the reason it is above the next."""
    ordered = sorted(requests, key=_key)
    out: list[Ranked] = []
    for n, r in enumerate(ordered):
        if n + 1 < len(ordered):
            reason = why_above(r, ordered[n + 1])
        elif len(ordered) == 1:
            reason = "the only request ranked"
        else:
            reason = f"last of the {len(ordered)} requests ranked"
        out.append(Ranked(rank=n + 1, item=r, explanation=explain(r), reason=reason))
    return out
