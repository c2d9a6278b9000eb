"""The significance criteria of Implementing Regulation (EU) 2024/2690 and the large-scale test of NIS2 Art. 6(7),
one small rule per point of an article, worded as the article words it.

Text: Commission Implementing Regulation (EU) 2024/2690 of 17 October 2024, OJ L, 2024/2690, 18.10.2024
(CELEX 32024R2690). Every figure below is the Regulation's and is not a setting: "more than" is `>`, "exceeds"
is `>`, and "more than X % or more than N users, whichever number is smaller" is `users > min(X % of users, N)`,
which is the same as `users > X % of users or users > N`.

Art. 3 to 14 apply only to the "relevant entities" listed in Art. 1 (RELEVANT_ENTITY_TYPES); other NIS2 entities
are judged under NIS2 Art. 23(3) alone, which sets no figures. The criteria of Art. 5 to 14, per type of
relevant entity, are in criteria_entities.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

REG = "Reg. (EU) 2024/2690"
LAW = "law"
DEPLOYMENT = "deployment"

# Effects a rule has when it fires.
SIGNIFICANT = "significant"
LARGE_SCALE = "large-scale"
CROSS_BORDER = "cross-border"
NOT_COUNTED = "not-counted"  # Art. 3(2): a scheduled interruption is not a significant incident
NONE = "none"  # information only

DNS = "dns-service-provider"
TLD = "tld-name-registry"
CLOUD = "cloud-computing-service-provider"
DATA_CENTRE = "data-centre-service-provider"
CDN = "content-delivery-network-provider"
MSP = "managed-service-provider"
MSSP = "managed-security-service-provider"
MARKETPLACE = "online-marketplace"
SEARCH_ENGINE = "online-search-engine"
SOCIAL_NETWORK = "social-networking-platform"
TRUST_SERVICE = frozenset({"trust-service-provider", "qualified-trust-service-provider"})
# Reg. (EU) 2024/2690 Art. 1: the entities the Regulation's significance criteria apply to.
RELEVANT_ENTITY_TYPES = (
    frozenset(
        {
            DNS,
            TLD,
            CLOUD,
            DATA_CENTRE,
            CDN,
            MSP,
            MSSP,
            MARKETPLACE,
            SEARCH_ENGINE,
            SOCIAL_NETWORK,
        }
    )
    | TRUST_SERVICE
)
CLOUD_LIKE = RELEVANT_ENTITY_TYPES - TRUST_SERVICE


@dataclass(frozen=True)
class Recurrence:
    """Incidents of the same entity with the same apparent root cause within six months, this one included
    (Reg. 2024/2690 Art. 4), among those the reader may read and that are not significant on their own."""

    apparent_root_cause: str
    incidents: int
    financial_loss_eur: int
    annual_turnover_eur: int | None


@dataclass(frozen=True)
class Case:
    """What the rules read: the incident's facts and the few incident fields the law refers to."""

    entity_type: str | None
    facts: Mapping[str, Any]
    suspected_malicious: bool = False
    exceeds_national_capacity: bool = False
    cross_border: bool = False
    impact_severity: str | None = None
    recurrence: Recurrence | None = None

    def value(self, key: str) -> object:
        if key in ("suspected_malicious", "exceeds_national_capacity", "cross_border", "impact_severity"):
            return getattr(self, key)
        return self.facts.get(key)

    def number(self, key: str) -> float | None:
        v = self.facts.get(key)
        return None if isinstance(v, bool) or not isinstance(v, int | float) else v

    def flag(self, key: str) -> bool:
        return self.value(key) is True


@dataclass(frozen=True)
class Rule:
    name: str
    basis: str  # the citation, e.g. "Reg. (EU) 2024/2690 Art. 7(b)"; "deployment rule" for ours
    effect: str
    reads: tuple[str, ...]  # the facts (Incident.facts keys or incident fields) the rule reads
    explanation: str  # close to the article's wording
    test: Callable[[Case], bool]
    source: str = LAW
    availability: bool = False  # about (un)availability: a scheduled interruption does not count (Art. 3(2))


def over_share(case: Case, key: str, *, permille: int, absolute: int) -> bool:
    """More than `permille`/10 % of the service's users in the Union or more than `absolute` users, whichever
    number is smaller: `<key>` (a count) against `users_in_union`, or `<key>_percent`."""
    count, total, percent = case.number(key), case.number("users_in_union"), case.number(f"{key}_percent")
    if count is not None and count > absolute:
        return True
    if count is not None and total:
        return count * 1000 > permille * total
    return percent is not None and percent * 10 > permille


def _loss_over_limit(loss: float | None, turnover: float | None) -> bool:
    # Art. 3(1)(a): exceeds EUR 500 000 or 5 % of the total annual turnover, whichever is lower.
    if loss is None:
        return False
    return loss > 500_000 or (turnover is not None and loss * 100 > turnover * 5)


def loss_limit(turnover: float | None) -> float:
    return 500_000 if turnover is None else min(500_000, turnover * 5 / 100)


# --- Art. 3(1)(a) to (f): every relevant entity ------------------------------------------------------------

_GENERAL: tuple[tuple[str, str, tuple[str, ...], str, Callable[[Case], bool]], ...] = (
    (
        "direct-financial-loss",
        "3(1)(a)",
        ("financial_loss_eur", "annual_turnover_eur"),
        "the incident has caused or is capable of causing direct financial loss for the entity that exceeds "
        "EUR 500 000 or 5 % of its total annual turnover in the preceding financial year, whichever is lower",
        lambda c: _loss_over_limit(c.number("financial_loss_eur"), c.number("annual_turnover_eur")),
    ),
    (
        "trade-secret-exfiltration",
        "3(1)(b)",
        ("trade_secrets_exfiltrated",),
        "the incident has caused or is capable of causing the exfiltration of the entity's trade secrets "
        "(Directive (EU) 2016/943 Art. 2(1))",
        lambda c: c.flag("trade_secrets_exfiltrated"),
    ),
    (
        "death-of-a-natural-person",
        "3(1)(c)",
        ("death_of_natural_person",),
        "the incident has caused or is capable of causing the death of a natural person",
        lambda c: c.flag("death_of_natural_person"),
    ),
    (
        "considerable-damage-to-health",
        "3(1)(d)",
        ("considerable_health_damage",),
        "the incident has caused or is capable of causing considerable damage to a natural person's health",
        lambda c: c.flag("considerable_health_damage"),
    ),
    (
        "malicious-unauthorised-access",
        "3(1)(e)",
        ("unauthorised_access", "suspected_malicious"),
        "a successful, suspectedly malicious and unauthorised access to network and information systems occurred, "
        "which is capable of causing severe operational disruption",
        lambda c: c.flag("unauthorised_access") and c.flag("suspected_malicious"),
    ),
)


def general_rules(source: str = LAW) -> tuple[Rule, ...]:
    """Art. 3(1)(a)-(e); with source "deployment" when a deployment applies them to other entities."""
    out = []
    for name, point, reads, text, test in _GENERAL:
        basis = f"{REG} Art. {point}" if source == LAW else f"deployment rule (after {REG} Art. {point})"
        out.append(Rule(name, basis, SIGNIFICANT, reads, text, test, source))
    return tuple(out)


def recurrence_rule(source: str = LAW) -> Rule:
    """Art. 3(1)(f) and Art. 4: recurring incidents collectively meeting Art. 3(1)(a)."""

    def test(c: Case) -> bool:
        r = c.recurrence
        return r is not None and r.incidents >= 2 and _loss_over_limit(r.financial_loss_eur, r.annual_turnover_eur)

    basis = f"{REG} Art. 4" if source == LAW else f"deployment rule (after {REG} Art. 4)"
    text = (
        "incidents that individually are not significant count collectively as one significant incident where "
        "they occurred at least twice within 6 months, have the same apparent root cause and collectively meet "
        "Art. 3(1)(a)"
    )
    return Rule(
        "recurring-incidents", basis, SIGNIFICANT, ("apparent_root_cause", "financial_loss_eur"), text, test, source
    )


# --- NIS2: large-scale (Art. 6(7)) and cross-border (Art. 23) ---------------------------------------------------

LARGE_SCALE_RULES = (
    Rule(
        "significant-impact-on-two-or-more-member-states",
        "NIS2 Art. 6(7)",
        LARGE_SCALE,
        ("member_states_significantly_affected",),
        "an incident with a significant impact on at least two Member States is a large-scale cybersecurity "
        "incident (the Member States named as significantly affected, not every country involved)",
        lambda c: len(set(c.facts.get("member_states_significantly_affected") or ())) >= 2,
    ),
    Rule(
        "exceeds-national-capacity",
        "NIS2 Art. 6(7)",
        LARGE_SCALE,
        ("exceeds_national_capacity",),
        "an incident causing a level of disruption that exceeds a Member State's capacity to respond to it is a "
        "large-scale cybersecurity incident",
        lambda c: c.exceeds_national_capacity,
    ),
    Rule(
        "possible-cross-border-impact",
        "NIS2 Art. 23(4)(a) and 23(6)",
        CROSS_BORDER,
        ("cross_border",),
        "the entity reports a possible cross-border impact: the CSIRT or authority informs the other affected "
        "Member States and ENISA where appropriate",
        lambda c: c.cross_border,
    ),
)

RED_IMPACT = Rule(
    "impact-severity-red",
    "deployment rule (CYBERCRISIS_SIGNIFICANCE_RED_IMPACT_SUGGESTS_SIGNIFICANT)",
    SIGNIFICANT,
    ("impact_severity",),
    "this deployment suggests significance for red impact severity (NIS taxonomy); no legal act says so",
    lambda c: c.impact_severity == "red",
    source=DEPLOYMENT,
)
