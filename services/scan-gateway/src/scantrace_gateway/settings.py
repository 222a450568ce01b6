"""Settings of the scan-gateway (environment variables `SCANTRACE_*`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from scantrace_common.settings import CommonSettings

MAX_BODY_BYTES = 1024 * 1024
MAX_ITEMS = 1000

#: Default limits: `scope=requests_per_second:burst`; generous, they are abuse limits.
DEFAULT_RATE_LIMITS = "device=10:100,address=1000:2000,enrol=5:50"


class GatewaySettings(CommonSettings):
    """Everything the gateway reads at start-up; construct at start-up, never at import time."""

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8000, ge=0, le=65535)
    #: uvicorn worker processes; 0 means one per core.
    gateway_workers: int = Field(default=0, ge=0, le=64)
    #: Where the spool lives; empty means `<state_dir>/spool/gateway`.
    gateway_spool_dir: Path | None = None
    gateway_spool_max_bytes: int = Field(default=1024**3, ge=4096)
    gateway_spool_segment_bytes: int = Field(default=16 * 1024**2, ge=4096)
    #: How long a request waits for Kafka's acknowledgement before its items go to the spool.
    gateway_produce_timeout_s: float = Field(default=2.0, gt=0, le=60)
    #: When a request is answered: `kafka` = after Kafka's acks=all (the spool only while Kafka
    #: fails or is slow); `spool` = after the local fsync, Kafka delivery follows from the spool
    #: (lower, steadier latency; the items stay on this machine's disk until delivered).
    gateway_ack: Literal["kafka", "spool"] = "kafka"
    #: How long a duplicate scan_id is remembered in Redis (best effort: downstream dedups too).
    gateway_dedup_ttl_s: int = Field(default=24 * 3600, ge=1)
    #: Upper bound of a Redis round trip on the hot path; past it the check fails open.
    gateway_redis_timeout_s: float = Field(default=0.25, gt=0, le=10)
    #: `off`, or `scope=rate:burst` pairs for scopes device, address and enrol (requests/s).
    rate_limits: str = DEFAULT_RATE_LIMITS
    #: `kid:base64url-public-key,kid2:...`: the QR verification keys (several for rotation).
    qr_verify_keys: str = ""
    #: Seconds a scan may lie in the future of the gateway's clock.
    gateway_max_future_s: int = Field(default=300, ge=0)

    @field_validator("rate_limits")
    @classmethod
    def _valid_rate_limits(cls, value: str) -> str:
        from scantrace_gateway.ratelimit import parse_rate_limits

        parse_rate_limits(value)
        return value

    @property
    def retention_ms(self) -> int:
        """How old a scan or declaration may be: at intake, and at delivery from the spool."""
        return self.retention_days * 86_400_000

    @property
    def workers(self) -> int:
        return self.gateway_workers or os.cpu_count() or 1

    @property
    def spool_dir(self) -> Path:
        return self.gateway_spool_dir or self.state_dir / "spool" / "gateway"
