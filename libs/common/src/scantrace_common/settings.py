"""Settings shared by every service; each service subclasses `CommonSettings` with its own fields."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from scantrace_common.ids import NAMESPACE_RE

#: `SCANTRACE_RETENTION_DAYS` when unset: how long visits and scans are kept.
DEFAULT_RETENTION_DAYS = 21
#: Used only where no secret was configured; `require_real_secret` refuses it outside development.
DEV_AUTH_SECRET = "scantrace-development-secret-change-me"  # noqa: S105 - documented placeholder


class CommonSettings(BaseSettings):
    """Frozen settings read from `SCANTRACE_*` variables (or given as keyword arguments in tests)."""

    model_config = SettingsConfigDict(env_prefix="SCANTRACE_", frozen=True, extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    #: Idempotent producers; `false` only for the embedded Tansu broker, which refuses them.
    kafka_idempotence: bool = True
    redis_url: str = "redis://127.0.0.1:6379/0"
    tz: str = "Asia/Ho_Chi_Minh"
    #: Prefix for every topic name and Redis key, so tests can share one broker and one Redis.
    namespace: str = ""
    auth_secret: SecretStr = SecretStr(DEV_AUTH_SECRET)
    retention_days: int = Field(default=DEFAULT_RETENTION_DAYS, ge=1, le=3650)
    state_dir: Path = Path(".scantrace")
    log_level: str = "INFO"
    #: "development" allows the placeholder auth secret; anything else refuses it at start-up.
    #: The default is not development: a service started bare must be given its secrets
    #: (`scantrace up`, the local stack, sets development explicitly).
    environment: str = "production"

    @field_validator("namespace")
    @classmethod
    def _valid_namespace(cls, value: str) -> str:
        if value and not NAMESPACE_RE.search(value):
            raise ValueError("namespace must match [A-Za-z0-9_.-]{1,40}")
        return value

    @field_validator("tz")
    @classmethod
    def _valid_tz(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)  # fail at start-up rather than on the first request
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    def require_real_secret(self) -> None:
        """Refuse to run outside development with the placeholder or a short auth secret."""
        if self.environment == "development":
            return
        secret = self.auth_secret.get_secret_value()
        if secret == DEV_AUTH_SECRET or len(secret) < 32:
            raise ValueError(
                "SCANTRACE_AUTH_SECRET must be set to at least 32 random characters "
                "outside development (SCANTRACE_ENVIRONMENT != development)"
            )
