"""`Facts`: what the significance rules of Reg. (EU) 2024/2690 and NIS2 read about an incident, each field with the
article it serves (the rules are criteria.py and criteria_entities.py)."""

from __future__ import annotations

from pydantic import Field, field_validator

from cybercrisis.directory.countries import EU_MEMBER_STATES
from cybercrisis.schemas import Strict


class ObservableIn(Strict):
    type: str = Field(max_length=32)
    value: str = Field(min_length=1, max_length=2048)


_REG = "Reg. (EU) 2024/2690"
_USERS = (
    " Users are counted as Art. 3(3) says: customers with a contract giving access to the service, and the natural "
    "and legal persons associated with business customers that use it."
)


class Facts(Strict):
    """What the significance rules read (incidents/criteria.py); every key is optional and a rule whose facts are
    not recorded does not fire. The articles are those of Implementing Regulation (EU) 2024/2690 unless named."""

    financial_loss_eur: int | None = Field(
        default=None,
        ge=0,
        examples=[650_000],
        description=(
            f"EUR; direct financial loss the incident caused or is capable of causing ({_REG} Art. 3(1)(a); summed "
            "over recurring incidents for Art. 4)"
        ),
    )
    annual_turnover_eur: int | None = Field(
        default=None,
        ge=0,
        examples=[8_000_000],
        description=(
            f"EUR; the entity's total annual turnover in the preceding financial year ({_REG} Art. 3(1)(a): the "
            "threshold is EUR 500 000 or 5 % of it, whichever is lower)"
        ),
    )
    trade_secrets_exfiltrated: bool | None = Field(
        default=None,
        description=(
            f"the incident caused or is capable of causing the exfiltration of the entity's trade secrets ({_REG} "
            "Art. 3(1)(b); Directive (EU) 2016/943 Art. 2(1))"
        ),
    )
    death_of_natural_person: bool | None = Field(
        default=None,
        description=(
            f"the incident caused or is capable of causing the death of a natural person ({_REG} Art. 3(1)(c))"
        ),
    )
    considerable_health_damage: bool | None = Field(
        default=None,
        description=(
            f"the incident caused or is capable of causing considerable damage to a natural person's health ({_REG} "
            "Art. 3(1)(d))"
        ),
    )
    unauthorised_access: bool | None = Field(
        default=None,
        description=(
            "a successful, unauthorised access to network and information systems occurred that is capable of causing "
            f"severe operational disruption; with the incident's `suspected_malicious` it meets {_REG} Art. 3(1)(e)"
        ),
    )
    scheduled_maintenance: bool | None = Field(
        default=None,
        description=(
            "the interruption was scheduled, or a planned consequence of scheduled maintenance: the availability "
            f"criteria do not count it ({_REG} Art. 3(2))"
        ),
    )
    unavailability_minutes: int | None = Field(
        default=None,
        ge=0,
        examples=[45],
        description=(
            f"minutes; how long the service was completely unavailable ({_REG} Art. 5(a) DNS, 7(a) cloud, 9(a) CDN, "
            "10(a) managed (security) services: more than 30; 14(a) trust services: more than 20; 6(a) TLD "
            "registries and 8(a) data centres: any complete unavailability)"
        ),
    )
    limited_availability_minutes: int | None = Field(
        default=None,
        ge=0,
        examples=[90],
        description=(
            f"minutes; how long availability was limited ({_REG} Art. 7(b), 9(b), 10(b) with the users affected; "
            "8(b) data centres: more than 60)"
        ),
    )
    users_in_union: int | None = Field(
        default=None,
        ge=0,
        examples=[2_000_000],
        description=(
            "the service's users in the Union, to turn the user counts below into shares (Art. 7, 9 to 14)." + _USERS
        ),
    )
    users_affected: int | None = Field(
        default=None,
        ge=0,
        examples=[120_000],
        description=(
            f"users (or relying parties) impacted by limited availability ({_REG} Art. 7(b), 9(b), 10(b), 11(b), "
            "12(b), 13(b): more than 5 % or more than 1 million, whichever is smaller; 14(c): more than 1 % or more "
            "than 200 000)." + _USERS
        ),
    )
    users_affected_percent: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description=(
            f"users_affected as a percentage of the users in the Union, when the count is not known ({_REG} Art. 7(b), "
            "9(b), 10(b), 11(b), 12(b), 13(b), 14(c))"
        ),
    )
    users_unavailable: int | None = Field(
        default=None,
        ge=0,
        description=(
            f"users for whom the service was completely unavailable ({_REG} Art. 11(a), 12(a), 13(a): more than 5 % "
            "or more than 1 million, whichever is smaller)." + _USERS
        ),
    )
    users_unavailable_percent: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description=(f"users_unavailable as a percentage of the users in the Union ({_REG} Art. 11(a), 12(a), 13(a))"),
    )
    data_compromised: bool | None = Field(
        default=None,
        description=(
            "the integrity, confidentiality or authenticity of stored, transmitted or processed data related to the "
            f"provision of the service (for TLD registries: its technical operation) is compromised ({_REG} Art. 5(c), "
            "6(c), 7(c)-(d), 8(c), 9(c)-(d), 10(c)-(d), 11(c)-(d), 12(c)-(d), 13(c)-(d), 14(e)); points (c) also read "
            "the incident's `suspected_malicious`"
        ),
    )
    users_data_compromised: int | None = Field(
        default=None,
        ge=0,
        description=(
            f"users (or relying parties) impacted by the data compromise ({_REG} Art. 7(d), 9(d) to 13(d): more than "
            "5 % or more than 1 million, whichever is smaller; 14(e): more than 0.1 % or more than 100)." + _USERS
        ),
    )
    users_data_compromised_percent: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description=(
            f"users_data_compromised as a percentage of the users in the Union ({_REG} Art. 7(d), 9(d) to 13(d), 14(e))"
        ),
    )
    dns_average_response_seconds: float | None = Field(
        default=None,
        ge=0,
        description=(
            f"seconds; average response time to DNS requests during the slow period ({_REG} Art. 5(b), 6(b): more "
            "than 10)"
        ),
    )
    dns_slow_response_minutes: int | None = Field(
        default=None,
        ge=0,
        description=(f"minutes; how long that average lasted ({_REG} Art. 5(b), 6(b): more than 60)"),
    )
    misconfiguration_only: bool | None = Field(
        default=None,
        description=(
            f"the compromised DNS data are only incorrect because of misconfiguration ({_REG} Art. 5(c) exception)"
        ),
    )
    domain_names_affected: int | None = Field(
        default=None,
        ge=0,
        description=(f"domain names whose data are affected ({_REG} Art. 5(c) exception: fewer than 1 000)"),
    )
    domain_names_managed: int | None = Field(
        default=None,
        ge=0,
        description=(
            f"domain names the DNS service provider manages ({_REG} Art. 5(c) exception: affected no more than 1 %)"
        ),
    )
    physical_access_compromised: bool | None = Field(
        default=None,
        description=(
            f"physical access to a data centre operated by the provider ({_REG} Art. 8(d)), or to a trust service "
            "provider's restricted area with network and information systems or its protection (Art. 14(d)), is "
            "compromised"
        ),
    )
    unavailable_minutes_calendar_week: int | None = Field(
        default=None,
        ge=0,
        description=(
            f"minutes; a trust service's unavailability to users or relying parties in the calendar week ({_REG} "
            "Art. 14(b): more than 60)"
        ),
    )
    member_states_significantly_affected: list[str] | None = Field(
        default=None,
        max_length=27,
        examples=[["FR", "BE"]],
        description=(
            "ISO codes of the EU Member States on which the incident has a significant impact, as the authority "
            "judges it (not every country involved): two or more make it large-scale (NIS2 Art. 6(7))"
        ),
    )

    @field_validator("member_states_significantly_affected")
    @classmethod
    def _member_states(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        codes = sorted({v.strip().upper() for v in value})
        unknown = [c for c in codes if c not in EU_MEMBER_STATES]
        if unknown:
            raise ValueError(f"not EU Member State codes: {', '.join(unknown)} (use ISO 3166-1 alpha-2, GR for Greece)")
        return codes
