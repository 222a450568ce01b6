"""The reporter's Prometheus metrics: the only ones it exports besides the process defaults.

None holds a compliance figure: /metrics needs no token (SPEC 2), and who complies how well is
for staff within their units (the API), not for whoever reaches the scrape port (finding 11).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from scantrace_common.kafka import ConsumerMetrics
from scantrace_common.metrics import LATENCY_BUCKETS

#: Events handled by the reporter's consumers (valid or dead-lettered), per topic.
EVENTS_PROCESSED: Final = Counter(
    "scantrace_reporter_events_processed_total",
    "Events consumed and handled by the reporter, per topic",
    ["topic"],
)
#: Messages between the consumer's position and the partition ends, summed per topic.
CONSUMER_LAG: Final = Gauge(
    "scantrace_reporter_consumer_lag_messages",
    "Messages not yet consumed by the reporter, per topic",
    ["topic"],
)
#: Time to answer one compliance query, by the level of the unit asked about.
QUERY_DURATION: Final = Histogram(
    "scantrace_reporter_compliance_query_duration_seconds",
    "Compliance query duration, by the level of the unit (province, district, commune, agency)",
    ["scope"],
    buckets=LATENCY_BUCKETS,
)
#: Events sent to `<topic>.dlq`, per source topic.
DLQ_EVENTS: Final = Counter(
    "scantrace_reporter_dlq_events_total",
    "Events the reporter could not process and sent to the dead-letter topic, per topic",
    ["topic"],
)

CONSUMER_METRICS: Final = ConsumerMetrics(
    processed=EVENTS_PROCESSED, dead_lettered=DLQ_EVENTS, lag=CONSUMER_LAG
)
