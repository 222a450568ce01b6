"""The console's Prometheus metrics (seconds and `_total`, as everywhere in scantrace)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

#: Time to answer a page (its API calls included), by page name.
PAGE_DURATION: Final = Histogram(
    "scantrace_console_page_duration_seconds",
    "Time to render a console page, its API calls included",
    ["page"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
#: API calls that found the service unavailable (refused connection, timeout or 503), by service.
UPSTREAM_UNAVAILABLE: Final = Counter(
    "scantrace_console_upstream_unavailable_total",
    "Calls to the tracer or the reporter that found it unavailable",
    ["service"],
)
#: Sign-ins through the console, by outcome: ok, refused (401), locked (429), unavailable.
SIGNINS: Final = Counter(
    "scantrace_console_signins_total", "Sign-ins through the console, by outcome", ["outcome"]
)
