"""Settings of the tracer (environment variables `SCANTRACE_*`)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, field_validator, model_validator

from scantrace_common.ids import ID_RE
from scantrace_common.settings import CommonSettings
from scantrace_tracer.clusters import ThresholdsError, parse_thresholds
from scantrace_tracer.followups import DEFAULT_FOLLOW_UP_DAYS


class TracerSettings(CommonSettings):
    """Read at start-up, never at import time; tests pass values as keyword arguments."""

    tracer_host: str = "127.0.0.1"
    tracer_port: int = Field(default=8001, ge=0, le=65535)
    #: Run the stream worker in this process (off: the HTTP API alone, e.g. a second replica).
    tracer_worker: bool = True
    #: Kafka consumer group of the worker (the Faust app id); namespaced.
    tracer_group: str = "scantrace-tracer"
    #: Scans per batch, and how long a batch waits to fill up. A backlog drains in batches of
    #: up to 10,000: a person seen twice in one batch costs one derivation, not two (measured:
    #: 10,000 take about 15% less worker CPU than 5,000 on the benchmark's data).
    tracer_batch_max: int = Field(default=10_000, ge=1, le=100_000)
    tracer_batch_within_s: float = Field(default=0.05, gt=0, le=10)
    #: Redis connections a batch is split over (by person), applied concurrently.
    tracer_redis_lanes: int = Field(default=2, ge=1, le=16)
    #: Persons whose tail the worker remembers, so their appends need no read-back from Redis
    #: (docs/tracer.md, "Remembered tails"); 0 reads every person back.
    tracer_tails_remembered: int = Field(default=100_000, ge=0)
    #: Redis connections of the queries: how many run their reads at the same time.
    tracer_redis_readers: int = Field(default=4, ge=1, le=64)
    #: Share of poison events in the last `tracer_invalid_window` that stops the worker.
    tracer_max_invalid_ratio: float = Field(default=0.2, gt=0, le=1)
    tracer_invalid_window: int = Field(default=1000, ge=10)
    tracer_min_invalid_to_stop: int = Field(default=50, ge=1)
    #: Seconds between retention sweeps (idle data also expires by itself in Redis).
    tracer_sweep_interval_s: float = Field(default=3600, gt=0)
    #: SPEC 11: `kind=n,...`, the cases that make a cluster hour per venue kind (3 otherwise);
    #: refused at start-up when malformed (docs/rules.md, "Thresholds").
    cluster_thresholds: str = ""
    #: SPEC 11: a follow-up ends this many local days after the day of the last exposure.
    follow_up_days: int = Field(default=DEFAULT_FOLLOW_UP_DAYS, ge=1, le=60)
    #: SPEC 11: each new follow-up also registers a quarantine on quarantines.v1 (`on`/`off`).
    follow_up_quarantine: bool = False
    #: The unit those quarantines are registered in; required when follow_up_quarantine is on.
    follow_up_unit: str | None = None

    @field_validator("cluster_thresholds")
    @classmethod
    def _valid_thresholds(cls, value: str) -> str:
        try:
            parse_thresholds(value)
        except ThresholdsError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("follow_up_unit")
    @classmethod
    def _valid_unit(cls, value: str | None) -> str | None:
        if value is not None and not ID_RE.search(value):
            raise ValueError("SCANTRACE_FOLLOW_UP_UNIT must be a unit id ([A-Za-z0-9_.-]{1,64})")
        return value

    @model_validator(mode="after")
    def _quarantine_needs_a_unit(self) -> Self:
        if self.follow_up_quarantine and self.follow_up_unit is None:
            raise ValueError(
                "SCANTRACE_FOLLOW_UP_QUARANTINE=on needs SCANTRACE_FOLLOW_UP_UNIT (the unit the "
                "contacts' quarantines are registered in)"
            )
        return self

    @property
    def thresholds(self) -> dict[str, int]:
        """SCANTRACE_CLUSTER_THRESHOLDS as {kind: n} (validated when the settings were read)."""
        return parse_thresholds(self.cluster_thresholds)
