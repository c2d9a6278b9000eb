"""Significance and escalation assessment: the rules of incidents/criteria.py run over an incident's facts.

Each finding says which rule, on which facts, under which legal basis (or that it is the deployment's own rule),
and whether it fired. The result is a *suggestion*: a person decides significance (incidents/significance.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cybercrisis.incidents.criteria import (
    CLOUD_LIKE,
    DEPLOYMENT,
    LARGE_SCALE,
    LARGE_SCALE_RULES,
    LAW,
    NONE,
    NOT_COUNTED,
    RED_IMPACT,
    REG,
    RELEVANT_ENTITY_TYPES,
    SIGNIFICANT,
    TRUST_SERVICE,
    Case,
    Recurrence,
    Rule,
    general_rules,
    loss_limit,
    recurrence_rule,
)
from cybercrisis.incidents.criteria_entities import ENTITY_RULES

__all__ = [
    "CLOUD_LIKE",
    "RELEVANT_ENTITY_TYPES",
    "TRUST_SERVICE",
    "Assessment",
    "Finding",
    "Recurrence",
    "Thresholds",
    "assess",
    "normalise_root_cause",
    "rules_for",
]


@dataclass(frozen=True)
class Thresholds:
    """The deployment's choices about the rules (`CYBERCRISIS_SIGNIFICANCE_*`). The law's figures are not here:
    they are fixed in incidents/criteria.py next to the article that sets them."""

    red_impact_suggests_significant: bool = True
    general_criteria_for_all_entities: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        return cls(
            red_impact_suggests_significant=settings.significance_red_impact_suggests_significant,
            general_criteria_for_all_entities=settings.significance_general_criteria_for_all_entities,
        )


@dataclass(frozen=True)
class Finding:
    rule: str
    fired: bool
    effect: str  # significant | large-scale | cross-border | not-counted | none
    fact: str
    explanation: str
    basis: str = ""
    source: str = LAW  # law | deployment


@dataclass
class Assessment:
    significant: bool = False  # the suggestion; a person decides
    large_scale: bool = False
    cross_border: bool = False
    criteria: str = ""  # which act's criteria apply to the entity type
    findings: list[Finding] = field(default_factory=list)

    @property
    def suggestion(self) -> str:
        return "significant" if self.significant else "not-significant"

    @property
    def suggest_escalation(self) -> bool:
        return self.large_scale or self.cross_border

    def as_dict(self) -> dict[str, Any]:
        return {
            "significant": self.significant,
            "suggestion": self.suggestion,
            "large_scale": self.large_scale,
            "cross_border": self.cross_border,
            "suggest_escalation": self.suggest_escalation,
            "criteria": self.criteria,
            "findings": [asdict(f) for f in self.findings],
        }


def normalise_root_cause(value: str | None) -> str:
    """Apparent root causes compare equal regardless of case and spacing (Reg. 2024/2690 Art. 4(b))."""
    return re.sub(r"\s+", " ", value or "").strip().casefold()


def rules_for(entity_type: str | None, thresholds: Thresholds | None = None) -> tuple[Rule, ...]:
    """The significance rules that apply to an entity type, in the order of the Regulation."""
    t = thresholds or Thresholds()
    rules: tuple[Rule, ...] = ()
    if entity_type in RELEVANT_ENTITY_TYPES:
        rules = (*general_rules(), recurrence_rule(), *ENTITY_RULES[entity_type or ""])
    elif t.general_criteria_for_all_entities:
        rules = (*general_rules(DEPLOYMENT), recurrence_rule(DEPLOYMENT))
    if t.red_impact_suggests_significant:
        rules = (*rules, RED_IMPACT)
    return rules


def assess(
    *,
    entity_type: str | None,
    facts: Mapping[str, Any],
    suspected_malicious: bool = False,
    exceeds_national_capacity: bool = False,
    cross_border: bool = False,
    impact_severity: str | None = None,
    recurrence: Recurrence | None = None,
    thresholds: Thresholds | None = None,
) -> Assessment:
    case = Case(
        entity_type, facts, suspected_malicious, exceeds_national_capacity, cross_border, impact_severity, recurrence
    )
    relevant = entity_type in RELEVANT_ENTITY_TYPES
    result = Assessment(criteria=f"{REG} Art. 3 to 14" if relevant else "NIS2 Art. 23(3)")
    if not relevant:
        result.findings.append(
            Finding(
                "outside-reg-2024-2690",
                True,
                NONE,
                f"entity_type = {entity_type or 'not recorded'}",
                "the Implementing Regulation's criteria apply only to the entity types of its Art. 1; for this entity "
                "NIS2 Art. 23(3) applies (severe operational disruption or financial loss for the entity, or "
                "considerable material or non-material damage to others), which sets no figures: a person judges",
                f"{REG} Art. 1",
                LAW,
            )
        )
    scheduled = case.flag("scheduled_maintenance")
    for rule in rules_for(entity_type, thresholds):
        if rule.name == "recurring-incidents" and recurrence is None:
            continue  # a first occurrence, or no other the reader may read: nothing to say
        fired = rule.test(case) and not (scheduled and rule.availability)
        result.findings.append(
            Finding(
                rule.name, fired, rule.effect, _fact(rule, case, scheduled), rule.explanation, rule.basis, rule.source
            )
        )
        result.significant |= fired and rule.effect == SIGNIFICANT
    if scheduled and relevant:
        result.findings.append(
            Finding(
                "scheduled-maintenance",
                True,
                NOT_COUNTED,
                "scheduled_maintenance = True",
                "scheduled interruptions of service and planned consequences of scheduled maintenance are not "
                "significant incidents: the availability criteria do not count them",
                f"{REG} Art. 3(2)",
                LAW,
            )
        )
    for rule in LARGE_SCALE_RULES:
        fired = rule.test(case)
        result.findings.append(
            Finding(rule.name, fired, rule.effect, _fact(rule, case, False), rule.explanation, rule.basis, rule.source)
        )
        if fired and rule.effect == LARGE_SCALE:
            result.large_scale = True
        elif fired:
            result.cross_border = True
    return result


def _fact(rule: Rule, case: Case, scheduled: bool) -> str:
    if rule.name == "recurring-incidents" and case.recurrence is not None:
        r = case.recurrence
        return (
            f"apparent_root_cause = {r.apparent_root_cause!r}, incidents within 6 months = {r.incidents}, "
            f"threshold = {_num(loss_limit(r.annual_turnover_eur))}, combined financial_loss_eur = "
            f"{r.financial_loss_eur}"
        )
    parts = [f"{key} = {_show(case.value(key))}" for key in rule.reads]
    if rule.name == "direct-financial-loss":
        parts.append(f"threshold = {_num(loss_limit(case.number('annual_turnover_eur')))}")
    if scheduled and rule.availability:
        parts.append("scheduled_maintenance = True (Art. 3(2))")
    return ", ".join(parts)


def _show(value: object) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
