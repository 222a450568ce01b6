"""Every metric the gateway exports (names fixed by the issue; base units, `_total` counters).

With several uvicorn workers, `__main__` sets PROMETHEUS_MULTIPROC_DIR before anything imports
prometheus_client, and `/metrics` (scantrace_common.metrics.exposition) merges the workers' files.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter as _Counter
from collections.abc import Sequence

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

#: HTTP requests by route template and status code.
REQUESTS = Counter("scantrace_gateway_requests_total", "HTTP requests handled", ["route", "status"])
#: Time from the request's arrival to its response, by route.
REQUEST_DURATION = Histogram(
    "scantrace_gateway_request_duration_seconds",
    "HTTP request duration",
    ["route"],
    buckets=_LATENCY_BUCKETS,
)
#: Scans judged, by outcome: accepted, duplicate or rejected.
SCANS = Counter("scantrace_gateway_scans_total", "Scans judged", ["outcome"])
#: Rejected scans by reason (a short fixed vocabulary, see intake.Reason).
SCANS_REJECTED = Counter("scantrace_gateway_scans_rejected_total", "Scans rejected", ["reason"])
#: Declarations judged, by outcome: accepted, duplicate or rejected.
DECLARATIONS = Counter(
    "scantrace_gateway_declarations_total", "Health declarations judged", ["outcome"]
)
#: Items in the spool not yet delivered to Kafka (summed over live workers).
SPOOL_ITEMS = Gauge(
    "scantrace_gateway_spool_items", "Items waiting in the spool", multiprocess_mode="livesum"
)
#: Age of the oldest undelivered spool item (max over live workers).
SPOOL_OLDEST_AGE = Gauge(
    "scantrace_gateway_spool_oldest_age_seconds",
    "Age of the oldest undelivered spool item",
    multiprocess_mode="livemax",
)
#: Spooled items dropped at delivery instead of published: older than the retention by then.
SPOOL_EXPIRED = Counter(
    "scantrace_gateway_spool_expired_total",
    "Spooled items dropped at delivery, older than the retention",
)
#: Time for one batch send to be acknowledged by the cluster.
PRODUCE_DURATION = Histogram(
    "scantrace_gateway_kafka_produce_duration_seconds",
    "Kafka batch produce duration until acks=all",
    buckets=_LATENCY_BUCKETS,
)
#: received_at - scanned_at in seconds (negative: the phone's clock is ahead).
CLOCK_SKEW = Histogram(
    "scantrace_gateway_scan_clock_skew_seconds",
    "Arrival time minus scanned_at",
    buckets=(-300, -60, -10, -1, 0, 1, 10, 60, 300, 3600, 6 * 3600, 86400, 7 * 86400, 21 * 86400),
)
#: Requests refused with 429, by limit scope (device, address, enrol).
RATE_LIMITED = Counter(
    "scantrace_gateway_rate_limited_total", "Requests refused by a rate limit", ["scope"]
)


_SKEW_BOUNDS = [float(b) for b in CLOCK_SKEW._upper_bounds]


def observe_skews(received_at_ms: int, scanned_at_ms: Sequence[int]) -> None:
    """Observe the clock skew of many scans at once: one increment per bucket, not per scan.

    Uses the histogram's bucket values directly (prometheus_client has no bulk observe);
    falls back to one `observe` per scan if those internals ever change.
    """
    if not scanned_at_ms:
        return
    try:
        buckets = CLOCK_SKEW._buckets
        total = CLOCK_SKEW._sum
    except AttributeError:  # pragma: no cover - a future prometheus_client
        logging.getLogger(__name__).debug("bulk histogram observe unavailable")
        for scanned in scanned_at_ms:
            CLOCK_SKEW.observe((received_at_ms - scanned) / 1000)
        return
    counts: dict[int, int] = {}
    skew_sum = 0.0
    bounds = _SKEW_BOUNDS
    # Scans of one upload often share a time; Counter counts in C, the loop is per distinct time.
    for scanned, times in _Counter(scanned_at_ms).items():
        skew = (received_at_ms - scanned) / 1000
        skew_sum += skew * times
        index = bisect.bisect_left(bounds, skew)
        counts[index] = counts.get(index, 0) + times
    for index, count in counts.items():
        buckets[index].inc(count)
    total.inc(skew_sum)
