"""The significance criteria of Implementing Regulation (EU) 2024/2690 Art. 5 to 14, per type of relevant entity,
one small rule per point of an article, worded as the article words it (criteria.py has the shared terms, Art. 3
and 4 and NIS2's large-scale test; the same reading of "more than" and "whichever number is smaller" holds here).
"""

from __future__ import annotations

from collections.abc import Callable

from cybercrisis.incidents.criteria import (
    CDN,
    CLOUD,
    DATA_CENTRE,
    DNS,
    MARKETPLACE,
    MSP,
    MSSP,
    REG,
    SEARCH_ENGINE,
    SIGNIFICANT,
    SOCIAL_NETWORK,
    TLD,
    TRUST_SERVICE,
    Case,
    Rule,
    over_share,
)


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
