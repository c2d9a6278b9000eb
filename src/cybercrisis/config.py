"""One settings class, read from CYBERCRISIS_* environment variables and validated once at start-up."""

from __future__ import annotations

import secrets
from functools import lru_cache
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

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value

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
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
