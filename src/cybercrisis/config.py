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
    significance_financial_loss_eur: int = Field(default=500_000, ge=0, description="Reg. 2024/2690 Art. 3")
    significance_turnover_percent: float = Field(default=5.0, ge=0, le=100)
    significance_cloud_unavailable_minutes: int = Field(default=30, ge=0)
    significance_cloud_limited_minutes: int = Field(default=60, ge=0)
    significance_cloud_users_percent: float = Field(default=5.0, ge=0, le=100)
    significance_cloud_users_absolute: int = Field(default=1_000_000, ge=0)
    significance_trust_unavailable_minutes: int = Field(default=20, ge=0)
    situation_scale: str = Field(
        default="normal,elevated,degraded,crisis",
        description="the deployment's own status scale for national contributions, least to most severe",
    )
    contribution_window_days: int = Field(
        default=7, ge=0, le=366, description="a reporting period closes to contributions this long after it ends"
    )
    sitrep_four_eyes: bool = Field(default=True, description="a report is approved by someone other than its editor")
    escalation_model: Path | None = Field(
        default=None, description="JSON file with the deployment's escalation model; unset: the shipped default"
    )
    evidence_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, description="largest evidence file accepted")
    public_base_url: str = Field(default="http://localhost:8000", description="absolute links in the public feed")
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
