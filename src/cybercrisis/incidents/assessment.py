"""Significance and escalation assessment: explainable rules over an incident's facts.

Each rule says whether it fired and on which fact. Thresholds are the deployment's (Settings), defaulting to
Implementing Regulation (EU) 2024/2690 and the NIS2 definitions in DOMAIN.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

CLOUD_LIKE = frozenset({
    "cloud-computing-service-provider", "data-centre-service-provider", "content-delivery-network-provider",
    "managed-service-provider", "managed-security-service-provider", "online-marketplace", "online-search-engine",
    "social-networking-platform", "dns-service-provider", "tld-name-registry",
})  # fmt: skip
TRUST_SERVICE = frozenset({"trust-service-provider", "qualified-trust-service-provider"})


@dataclass(frozen=True)
class Thresholds:
    financial_loss_eur: int = 500_000
    turnover_percent: float = 5.0
    cloud_unavailable_minutes: int = 30
    cloud_limited_minutes: int = 60
    cloud_users_percent: float = 5.0
    cloud_users_absolute: int = 1_000_000
    trust_unavailable_minutes: int = 20

    @classmethod
    def from_settings(cls, settings: Any) -> Thresholds:
        """The deployment's thresholds: `CYBERCRISIS_SIGNIFICANCE_*` settings, defaulting to Reg. 2024/2690."""
        return cls(**{f: getattr(settings, f"significance_{f}") for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Finding:
    rule: str
    fired: bool
    effect: str  # significant | large-scale | cross-border
    fact: str
    explanation: str


@dataclass
class Assessment:
    significant: bool = False
    large_scale: bool = False
    cross_border: bool = False
    findings: list[Finding] = field(default_factory=list)

    @property
    def suggest_escalation(self) -> bool:
        return self.large_scale or self.cross_border

    def as_dict(self) -> dict[str, Any]:
        return {
            "significant": self.significant,
            "large_scale": self.large_scale,
            "cross_border": self.cross_border,
            "suggest_escalation": self.suggest_escalation,
            "findings": [asdict(f) for f in self.findings],
        }


def assess(
    *,
    countries: list[str],
    exceeds_national_capacity: bool,
    impact_severity: str | None,
    cross_border: bool,
    entity_type: str | None,
    facts: dict[str, Any],
    recurring_loss_eur: int = 0,
    thresholds: Thresholds | None = None,
) -> Assessment:
    t = thresholds or Thresholds()
    result = Assessment()

    def rule(name: str, fired: bool, effect: str, fact: str, explanation: str) -> None:
        result.findings.append(Finding(name, fired, effect, fact, explanation))
        if fired:
            if effect == "large-scale":
                result.large_scale = result.significant = True
            elif effect == "significant":
                result.significant = True
            elif effect == "cross-border":
                result.cross_border = True

    rule(
        "two-or-more-member-states",
        len(set(countries)) >= 2,
        "large-scale",
        f"countries = {sorted(set(countries))}",
        "significant impact on at least two Member States makes a large-scale cybersecurity incident (NIS2 Art. 6(7))",
    )
    rule(
        "exceeds-national-capacity",
        exceeds_national_capacity,
        "large-scale",
        f"exceeds_national_capacity = {exceeds_national_capacity}",
        "a disruption exceeding a Member State's capacity to respond is large-scale (NIS2 Art. 6(7))",
    )
    rule(
        "impact-severity-red",
        impact_severity == "red",
        "significant",
        f"impact_severity = {impact_severity}",
        "red impact severity (NIS taxonomy) means severe operational disruption",
    )
    rule(
        "possible-cross-border-impact",
        cross_border,
        "cross-border",
        f"cross_border = {cross_border}",
        "the entity reports a possible cross-border impact: the CSIRT informs the other Member States (Art. 23(6))",
    )

    loss = _int(facts.get("financial_loss_eur"))
    turnover = _int(facts.get("annual_turnover_eur"))
    limit = t.financial_loss_eur
    if turnover:
        limit = min(limit, int(turnover * t.turnover_percent / 100))
    rule(
        "financial-loss",
        loss is not None and loss > limit,
        "significant",
        f"financial_loss_eur = {loss}, threshold = {limit}",
        f"direct financial loss above EUR {t.financial_loss_eur:,} or {t.turnover_percent:g} % of annual turnover, "
        "the lower (Reg. 2024/2690 Art. 3)",
    )
    if recurring_loss_eur:
        rule(
            "recurring-incidents",
            recurring_loss_eur > limit,
            "significant",
            f"losses of incidents with the same root cause in 6 months = {recurring_loss_eur}",
            "incidents recurring twice in six months with the same apparent root cause count as one (Art. 4)",
        )

    unavailable = _int(facts.get("unavailability_minutes"))
    if entity_type in CLOUD_LIKE:
        rule(
            "service-completely-unavailable",
            unavailable is not None and unavailable > t.cloud_unavailable_minutes,
            "significant",
            f"unavailability_minutes = {unavailable}",
            f"the service was completely unavailable for more than {t.cloud_unavailable_minutes} minutes",
        )
        limited = _int(facts.get("limited_availability_minutes"))
        users = _int(facts.get("users_affected"))
        pct = _float(facts.get("users_affected_percent"))
        many = (users is not None and users > t.cloud_users_absolute) or (
            pct is not None and pct > t.cloud_users_percent
        )
        rule(
            "service-limited-for-many-users",
            bool(many and limited and limited > t.cloud_limited_minutes),
            "significant",
            f"users_affected = {users}, users_affected_percent = {pct}, minutes = {limited}",
            f"limited availability for over {t.cloud_users_percent:g} % of users or over "
            f"{t.cloud_users_absolute:,} users for more than {t.cloud_limited_minutes} minutes",
        )
    if entity_type in TRUST_SERVICE:
        rule(
            "trust-service-unavailable",
            unavailable is not None and unavailable > t.trust_unavailable_minutes,
            "significant",
            f"unavailability_minutes = {unavailable}",
            f"the trust service was unavailable for more than {t.trust_unavailable_minutes} minutes",
        )
    return result


def _int(value: object) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
