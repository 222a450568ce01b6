"""The tracer's Prometheus metrics: one registry of names, each documented here."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from scantrace_common.metrics import DELAY_BUCKETS, LATENCY_BUCKETS

#: Events handled (applied, skipped or dead-lettered), by source topic (base name).
EVENTS_PROCESSED: Final = Counter(
    "scantrace_tracer_events_processed_total",
    "Events the tracer has handled, by topic",
    ["topic"],
)
#: Messages between the committed position and the end of each topic.
CONSUMER_LAG: Final = Gauge(
    "scantrace_tracer_consumer_lag_messages",
    "Messages not yet processed by the tracer, by topic",
    ["topic"],
)
#: From the gateway's received_at to the visit being readable through the API.
SCAN_TO_QUERYABLE: Final = Histogram(
    "scantrace_tracer_scan_to_queryable_seconds",
    "Delay from a scan's receipt by the gateway to its visit being queryable",
    buckets=DELAY_BUCKETS,
)
#: Persons of each batch, by how their visits were derived: from the ingest's memory of their
#: tail (`memory`: no read-back) or from Redis (`redis`: not remembered, a late scan, a restart).
INGEST_PERSONS: Final = Counter(
    "scantrace_tracer_ingest_persons_total",
    "Persons whose scans the tracer applied, by where their visits were derived from",
    ["source"],
)
#: Persons whose last visit is still open (no later scan) and has not reached its end yet.
OPEN_VISITS: Final = Gauge(
    "scantrace_tracer_open_visits",
    "Visits still open (not closed by a scan) whose end lies in the future",
)
#: SPEC 11 clusters still open (their end plus the open days is ahead), over every venue.
OPEN_CLUSTERS: Final = Gauge(
    "scantrace_tracer_open_clusters",
    "Venue clusters (SPEC 11) still open",
)
#: Time spent answering an API query, by endpoint (route template).
QUERY_DURATION: Final = Histogram(
    "scantrace_tracer_query_duration_seconds",
    "Time to answer a tracer query, by endpoint",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
#: Events sent to the dead-letter topic, by source topic (base name).
DLQ_EVENTS: Final = Counter(
    "scantrace_tracer_dlq_events_total",
    "Events the tracer sent to a dead-letter topic, by source topic",
    ["topic"],
)
#: Calls answered 503 because their audit record was not acknowledged (SPEC 5): Kafka down,
#: slow or refusing `audit.v1`; nothing of those answers was disclosed.
AUDIT_REFUSED_CALLS: Final = Counter(
    "scantrace_tracer_audit_refused_calls_total",
    "Tracer calls refused (503) because their audit record was not acknowledged",
)
