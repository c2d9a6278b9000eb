"""One settings class, read from CYBERCRISIS_* environment variables and validated once at start-up."""

from __future__ import annotations

import secrets
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CYBERCRISIS_", extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="SQLite database, node keys, generated secrets")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir")
    secret_key: str | None = Field(default=None, description="Signs session cookies; generated into data_dir")
    session_hours: int = Field(default=12, ge=1, le=24 * 14)
    cookie_secure: bool = Field(default=False, description="Set on deployments behind TLS")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    db_pool_size: int = Field(default=16, ge=1, le=200, description="connections per process = requests in flight")
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_minutes: int = Field(default=15, ge=1)
    token_default_days: int = Field(default=90, ge=1, le=3650)
    page_size_max: int = Field(default=200, ge=1)
    argon2_time_cost: int = Field(default=3, ge=1, description="argon2id iterations (RFC 9106: 3)")
    argon2_memory_kib: int = Field(default=65536, ge=1024, description="argon2id memory (RFC 9106: 64 MiB)")
    log_level: str = "INFO"
    smtp_host: str | None = Field(default=None, description="SMTP relay for notification e-mail; unset: mail waits")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "cybercrisis@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    jobs_enabled: bool = Field(default=True, description="run scheduled jobs (delivery, reminders) in the server")
    # The significance figures of Reg. (EU) 2024/2690 Art. 3 to 14 are law and live in incidents/criteria.py, not
    # here. These two settings are the deployment's own choices, and the assessment labels them so.
    significance_red_impact_suggests_significant: bool = Field(
        default=True,
        description="deployment rule, not law: suggest 'significant' when the impact severity (NIS taxonomy) is "
        "red; shown as a deployment rule in every assessment",
    )
    significance_general_criteria_for_all_entities: bool = Field(
        default=False,
        description="deployment rule, not law: also apply the general criteria of Reg. (EU) 2024/2690 Art. 3(1)(a)-(f)"
        " (which bind only the entity types of its Art. 1) as guidance for other NIS2 entities, labelled as the "
        "deployment's rule; NIS2 Art. 23(3) itself sets no figures",
    )
    situation_scale: str = Field(
        default="normal,elevated,degraded,crisis",
        description="the deployment's own status scale for national contributions, least to most severe",
    )
    contribution_window_days: int = Field(
        default=7, ge=0, le=366, description="a reporting period closes to contributions this long after it ends"
    )
    sitrep_four_eyes: bool = Field(default=True, description="a report is approved by someone other than its editor")
    isaa_authors: str = Field(
        default="ec-dg-connect,eeas",
        description="organisations (directory keys or identity ids, comma-separated) that author political-level "
        "situation reports (ISAA): Commission services and the EEAS, Council Recommendation of 6 June 2025 on an EU "
        "blueprint for cyber crisis management (C/2025/3445), recital 3",
    )
    political_deciders: str = Field(
        default="council-presidency",
        description="organisations (directory keys or identity ids, comma-separated) that decide at the political "
        "level on EU-CyCLONe's impact assessments (NIS2 Art. 16(3)(d)): the Council Presidency under the IPCR "
        "arrangements (Council Implementing Decision (EU) 2018/1993); the list is the deployment's",
    )
    escalation_model: Path | None = Field(
        default=None, description="JSON file with the deployment's escalation model; unset: the shipped default"
    )
    evidence_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, description="largest evidence file accepted")
    public_base_url: str | None = Field(
        default=None,
        description="absolute links in the public feed and statements; default: the address each request came to",
    )
    events_poll_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="safety-net poll of the event stream (PostgreSQL NOTIFY wakes it first)"
    )
    node_name: str = Field(default="cybercrisis", max_length=200, description="this node's name at TAXII discovery")
    node_organisation: str | None = Field(
        default=None, description="short name or id of the organisation running this node (peers push what it may read)"
    )
    taxii_max_content_length: int = Field(
        default=10 * 1024 * 1024, ge=1024, description="largest TAXII envelope accepted in a POST (bytes)"
    )
    outbound_allow: str = Field(
        default="",
        description="comma-separated networks (CIDR) that outbound requests (webhooks, peers) may reach although they "
        "are loopback, link-local, private or multicast; empty: none",
    )
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For names "
        "the client; empty: the connecting address is the client",
    )

    reserve_priority: str = Field(
        default="severity,entity_type,potential_impact,spillover",
        description="the deployment's order of the criteria of Reg. (EU) 2025/38 Art. 16 when ranking concurrent "
        "requests to the EU Cybersecurity Reserve (the Act lists them, it sets no order): each of severity, "
        "entity_type, potential_impact, spillover once",
    )
    reserve_response_hours: int = Field(
        default=48,
        ge=1,
        le=24 * 30,
        description="the deployment's rule: the target, in hours from the SPOC's transmission, for the contracting "
        "authority's response to a request for Reserve support (Reg. (EU) 2025/38 Art. 16 has the request assessed "
        "and answered; the time limit of its final text was not verified for this product, so 48 here is a "
        "deployment default, not the Act's figure)",
    )
    reserve_summary_months: int = Field(
        default=1,
        ge=1,
        le=12,
        description="the deployment's rule: the summary report of the support received (service provided, results "
        "achieved, lessons learned) is due this many calendar months after support ended; the period in the final "
        "text of Reg. (EU) 2025/38 was not verified for this product (the Commission's proposal, COM(2023) 209 "
        "Art. 14(6), had one month); requests between Member States use the same period",
    )
    assistance_remind_days: int = Field(
        default=7,
        ge=0,
        le=90,
        description="the deployment's rule: remind a requester this many days before its "
        "summary report is due (the Act sets no reminder)",
    )

    @field_validator("reserve_priority")
    @classmethod
    def _reserve_priority(cls, value: str) -> str:
        from cybercrisis.assistance.ranking import parse_priority

        parse_priority(value)  # a typo stops the start, with the item named
        return value

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value

    @field_validator("outbound_allow")
    @classmethod
    def _allow_networks(cls, value: str) -> str:
        from cybercrisis.outbound import parse_allow

        parse_allow(value)  # a typo in a network stops the start, with the item named
        return value

    @property
    def outbound_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """CYBERCRISIS_OUTBOUND_ALLOW, parsed: the networks outbound requests may reach although not global."""
        from cybercrisis.outbound import parse_allow

        return parse_allow(self.outbound_allow)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        _proxies(value)  # a typo stops the start, with the item named
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """CYBERCRISIS_TRUSTED_PROXIES, parsed: where an X-Forwarded-For header is believed (middleware.py)."""
        return _proxies(self.trusted_proxies)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            # A bare postgresql:// URL would pick psycopg2; we ship psycopg 3.
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
            return url
        return f"sqlite:///{(self.data_dir / 'cybercrisis.db').resolve()}"

    def effective_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        from cybercrisis import datadir

        datadir.ensure_private_dir(self.data_dir)
        path = self.data_dir / "secret_key"
        if not path.exists():
            # 0600 from the first byte, and processes starting at once all keep the first one's key.
            datadir.write_private(path, secrets.token_urlsafe(48), keep_existing=True)
        return path.read_text().strip()


def _proxies(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    from ipaddress import ip_network

    networks: list[IPv4Network | IPv6Network] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"'{item}' is not an IP address or network (CIDR), e.g. 10.0.0.2 or 10.0.0.0/24") from None
    return tuple(networks)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
