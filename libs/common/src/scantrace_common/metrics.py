"""Prometheus helpers: one registry per process, multiprocess-aware exposition."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

#: Latency buckets in seconds, from 0.5 ms to 10 s, for HTTP and Kafka round trips.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: Delay buckets in seconds for end-to-end delays (scan to queryable, clock skew).
DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0, 86400.0)


def exposition(registry: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The text exposition; merges all worker processes when PROMETHEUS_MULTIPROC_DIR is set."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(registry or REGISTRY), CONTENT_TYPE_LATEST
