"""The significance criteria of Implementing Regulation (EU) 2024/2690 and the large-scale test of NIS2 Art. 6(7),
one small rule per point of an article, worded as the article words it.

Text: Commission Implementing Regulation (EU) 2024/2690 of 17 October 2024, OJ L, 2024/2690, 18.10.2024
(CELEX 32024R2690). Every figure below is the Regulation's and is not a setting: "more than" is `>`, "exceeds"
is `>`, and "more than X % or more than N users, whichever number is smaller" is `users > min(X % of users, N)`,
which is the same as `users > X % of users or users > N`.

Art. 3 to 14 apply only to the "relevant entities" listed in Art. 1 (RELEVANT_ENTITY_TYPES); other NIS2 entities
are judged under NIS2 Art. 23(3) alone, which sets no figures.
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


def _data(case: Case) -> bool:
    return case.flag("data_compromised")


def _malicious_data(case: Case) -> bool:
    return _data(case) and case.flag("suspected_malicious")


def _unavailable_over(minutes: int) -> Callable[[Case], bool]:
    return lambda c: (c.number("unavailability_minutes") or 0) > minutes


def _slow_dns(case: Case) -> bool:
    # "for a period of more than one hour, the average response time ... is more than 10 seconds"
    seconds, minutes = case.number("dns_average_response_seconds"), case.number("dns_slow_response_minutes")
    return seconds is not None and seconds > 10 and minutes is not None and minutes > 60


def _dns_data(case: Case) -> bool:
    # Art. 5(c) exception: fewer than 1 000 domain names, no more than 1 % of those managed, wrong by misconfiguration.
    if not _data(case):
        return False
    affected, managed = case.number("domain_names_affected"), case.number("domain_names_managed")
    excepted = (
        case.flag("misconfiguration_only")
        and affected is not None
        and affected < 1000
        and bool(managed)
        and affected * 100 <= (managed or 0)
    )
    return not excepted


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


# --- Art. 5 to 14: per entity type --------------------------------------------------------------------------


def _r(
    art: str, name: str, reads: tuple[str, ...], text: str, test: Callable[[Case], bool], *, availability: bool = False
) -> Rule:
    return Rule(name, f"{REG} Art. {art}", SIGNIFICANT, reads, text, test, availability=availability)


def _provider(art: int, noun: str) -> tuple[Rule, ...]:
    """Art. 7, 9 and 10 share one shape: cloud computing services, content delivery networks, managed (security)
    services."""
    a = str(art)
    return (
        _r(
            f"{a}(a)",
            "completely-unavailable-over-30-minutes",
            ("unavailability_minutes",),
            f"a {noun} is completely unavailable for more than 30 minutes",
            _unavailable_over(30),
            availability=True,
        ),
        _r(
            f"{a}(b)",
            "limited-availability-over-one-hour",
            ("limited_availability_minutes", "users_affected", "users_affected_percent", "users_in_union"),
            f"the availability of a {noun} is limited for more than 5 % of its users in the Union or for more than "
            "1 million of them, whichever number is smaller, for a duration of more than one hour",
            lambda c: (
                (c.number("limited_availability_minutes") or 0) > 60
                and over_share(c, "users_affected", permille=50, absolute=1_000_000)
            ),
            availability=True,
        ),
        _r(
            f"{a}(c)",
            "data-compromised-by-suspected-malicious-action",
            ("data_compromised", "suspected_malicious"),
            f"the integrity, confidentiality or authenticity of data related to the provision of a {noun} is "
            "compromised as a result of a suspectedly malicious action",
            _malicious_data,
        ),
        _r(
            f"{a}(d)",
            "data-compromised-for-many-users",
            ("data_compromised", "users_data_compromised", "users_data_compromised_percent", "users_in_union"),
            f"the integrity, confidentiality or authenticity of data related to the provision of a {noun} is "
            "compromised with an impact on more than 5 % of its users in the Union or on more than 1 million of "
            "them, whichever number is smaller",
            lambda c: _data(c) and over_share(c, "users_data_compromised", permille=50, absolute=1_000_000),
        ),
    )


def _platform(art: int, noun: str) -> tuple[Rule, ...]:
    """Art. 11, 12 and 13: online marketplaces, online search engines, social networking services platforms."""
    a = str(art)
    share = "more than 5 % of its users in the Union, or more than 1 million of them, whichever number is smaller"
    return (
        _r(
            f"{a}(a)",
            "completely-unavailable-for-many-users",
            ("users_unavailable", "users_unavailable_percent", "users_in_union"),
            f"the {noun} is completely unavailable for {share}",
            lambda c: over_share(c, "users_unavailable", permille=50, absolute=1_000_000),
            availability=True,
        ),
        _r(
            f"{a}(b)",
            "limited-availability-for-many-users",
            ("users_affected", "users_affected_percent", "users_in_union"),
            f"{share} are impacted by limited availability of the {noun}",
            lambda c: over_share(c, "users_affected", permille=50, absolute=1_000_000),
            availability=True,
        ),
        _r(
            f"{a}(c)",
            "data-compromised-by-suspected-malicious-action",
            ("data_compromised", "suspected_malicious"),
            f"the integrity, confidentiality or authenticity of data related to the provision of the {noun} is "
            "compromised as a result of a suspectedly malicious action",
            _malicious_data,
        ),
        _r(
            f"{a}(d)",
            "data-compromised-for-many-users",
            ("data_compromised", "users_data_compromised", "users_data_compromised_percent", "users_in_union"),
            f"the integrity, confidentiality or authenticity of data related to the provision of the {noun} is "
            f"compromised with an impact on {share}",
            lambda c: _data(c) and over_share(c, "users_data_compromised", permille=50, absolute=1_000_000),
        ),
    )


_SLOW = ("dns_average_response_seconds", "dns_slow_response_minutes")
_DNS = (
    _r(
        "5(a)",
        "resolution-unavailable-over-30-minutes",
        ("unavailability_minutes",),
        "a recursive or authoritative domain name resolution service is completely unavailable for more than "
        "30 minutes",
        _unavailable_over(30),
        availability=True,
    ),
    _r(
        "5(b)",
        "resolution-slow-over-one-hour",
        _SLOW,
        "for a period of more than one hour, the average response time of a recursive or authoritative domain name "
        "resolution service to DNS requests is more than 10 seconds",
        _slow_dns,
        availability=True,
    ),
    _r(
        "5(c)",
        "authoritative-resolution-data-compromised",
        ("data_compromised", "misconfiguration_only", "domain_names_affected", "domain_names_managed"),
        "the integrity, confidentiality or authenticity of data related to the provision of the authoritative "
        "domain name resolution service is compromised, except where the data of fewer than 1 000 domain names, "
        "no more than 1 % of those the provider manages, are not correct because of misconfiguration",
        _dns_data,
    ),
)
_TLD = (
    _r(
        "6(a)",
        "authoritative-resolution-unavailable",
        ("unavailability_minutes",),
        "an authoritative domain name resolution service is completely unavailable (for any duration)",
        _unavailable_over(0),
        availability=True,
    ),
    _r(
        "6(b)",
        "authoritative-resolution-slow-over-one-hour",
        _SLOW,
        "for a period of more than one hour, the average response time of an authoritative domain name resolution "
        "service to DNS requests is more than 10 seconds",
        _slow_dns,
        availability=True,
    ),
    _r(
        "6(c)",
        "tld-operation-data-compromised",
        ("data_compromised",),
        "the integrity, confidentiality or authenticity of data related to the technical operation of the TLD is "
        "compromised",
        _data,
    ),
)
_DATA_CENTRE = (
    _r(
        "8(a)",
        "data-centre-service-unavailable",
        ("unavailability_minutes",),
        "a data centre service of a data centre operated by the provider is completely unavailable (for any duration)",
        _unavailable_over(0),
        availability=True,
    ),
    _r(
        "8(b)",
        "limited-availability-over-one-hour",
        ("limited_availability_minutes",),
        "the availability of a data centre service of a data centre operated by the provider is limited for a "
        "duration of more than one hour",
        lambda c: (c.number("limited_availability_minutes") or 0) > 60,
        availability=True,
    ),
    _r(
        "8(c)",
        "data-compromised-by-suspected-malicious-action",
        ("data_compromised", "suspected_malicious"),
        "the integrity, confidentiality or authenticity of data related to the provision of a data centre service "
        "is compromised as a result of a suspectedly malicious action",
        _malicious_data,
    ),
    _r(
        "8(d)",
        "physical-access-compromised",
        ("physical_access_compromised",),
        "physical access to a data centre operated by the provider is compromised",
        lambda c: c.flag("physical_access_compromised"),
    ),
)
_TRUST = (
    _r(
        "14(a)",
        "completely-unavailable-over-20-minutes",
        ("unavailability_minutes",),
        "a trust service is completely unavailable for more than 20 minutes",
        _unavailable_over(20),
        availability=True,
    ),
    _r(
        "14(b)",
        "unavailable-over-one-hour-in-a-calendar-week",
        ("unavailable_minutes_calendar_week",),
        "a trust service is unavailable to users, or relying parties, for more than one hour calculated on a "
        "calendar week basis",
        lambda c: (c.number("unavailable_minutes_calendar_week") or 0) > 60,
        availability=True,
    ),
    _r(
        "14(c)",
        "limited-availability-for-many-users",
        ("users_affected", "users_affected_percent", "users_in_union"),
        "more than 1 % of the users or relying parties in the Union, or more than 200 000 of them, whichever number "
        "is smaller, are impacted by limited availability of a trust service",
        lambda c: over_share(c, "users_affected", permille=10, absolute=200_000),
        availability=True,
    ),
    _r(
        "14(d)",
        "physical-access-compromised",
        ("physical_access_compromised",),
        "physical access to an area where network and information systems are located and to which access is "
        "restricted to the provider's trusted personnel, or the protection of such access, is compromised",
        lambda c: c.flag("physical_access_compromised"),
    ),
    _r(
        "14(e)",
        "data-compromised-for-many-users",
        ("data_compromised", "users_data_compromised", "users_data_compromised_percent", "users_in_union"),
        "the integrity, confidentiality or authenticity of data related to the provision of a trust service is "
        "compromised with an impact on more than 0.1 % of users or relying parties, or more than 100 of them, "
        "whichever number is smaller, in the Union",
        lambda c: _data(c) and over_share(c, "users_data_compromised", permille=1, absolute=100),
    ),
)

ENTITY_RULES: dict[str, tuple[Rule, ...]] = {
    DNS: _DNS,
    TLD: _TLD,
    CLOUD: _provider(7, "cloud computing service"),
    DATA_CENTRE: _DATA_CENTRE,
    CDN: _provider(9, "content delivery network"),
    MSP: _provider(10, "managed service or managed security service"),
    MSSP: _provider(10, "managed service or managed security service"),
    MARKETPLACE: _platform(11, "online marketplace"),
    SEARCH_ENGINE: _platform(12, "online search engine"),
    SOCIAL_NETWORK: _platform(13, "social networking services platform"),
    **dict.fromkeys(TRUST_SERVICE, _TRUST),
}

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
