"""The graphs an operator looks at first, as links into the local Prometheus (`make demo`).

Each is a PromQL expression over the services' own metric names (deploy/metrics.txt) opened in
Prometheus's /graph page; windows of 1 minute suit the local 5 s scrape interval. Labels are in
Vietnamese with the English beside them, as operators see them.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

from scantrace_cli.stack.probes import http_ready

#: (label, PromQL expression)
GRAPHS: Final = (
    (
        "Lượt quét mỗi giây / scans per second, by outcome",
        "sum by (outcome) (rate(scantrace_gateway_scans_total[1m]))",
    ),
    (
        "Độ trễ tiêu thụ / consumer lag, messages",
        "max by (job, topic) (scantrace_tracer_consumer_lag_messages)"
        " or max by (job, topic) (scantrace_reporter_consumer_lag_messages)",
    ),
    (
        "Từ lúc quét đến lúc tra cứu được / scan-to-queryable p99, s",
        "histogram_quantile(0.99, sum by (le) "
        "(rate(scantrace_tracer_scan_to_queryable_seconds_bucket[1m])))",
    ),
    # Compliance ratios per unit are not in /metrics (it needs no token, SPEC 2; issue #14
    # finding 11): they are read in the reporter's API and the console. What feeds them is.
    (
        "Sự kiện tuân thủ được tính mỗi giây / compliance events counted per second, by topic",
        "sum by (topic) (rate(scantrace_reporter_events_processed_total[1m]))",
    ),
    (
        "Thời gian tra cứu tuân thủ p99 / compliance query p99, s, by scope",
        "histogram_quantile(0.99, sum by (le, scope) "
        "(rate(scantrace_reporter_compliance_query_duration_seconds_bucket[1m])))",
    ),
)
RANGE: Final = "1h"


def ui_page(base: str, page: str) -> str:
    """The address of a page of Prometheus's web UI (`targets`, `alerts`, `graph`).

    Upstream builds serve `/<page>`; Debian's, built without the React UI, only the classic
    `/classic/<page>`. Whichever answers is named; the upstream one when neither does yet.
    """
    base = base.rstrip("/")
    for url in (f"{base}/{page}", f"{base}/classic/{page}"):
        if http_ready(url):
            return url
    return f"{base}/{page}"


def graph_url(base: str, *expressions: str, page: str | None = None) -> str:
    """The graph page (`page`, else `<base>/graph`) with one panel per expression, last hour."""
    params: dict[str, str] = {}
    for i, expr in enumerate(expressions):
        params |= {f"g{i}.expr": expr, f"g{i}.tab": "0", f"g{i}.range_input": RANGE}
    return f"{page or base.rstrip('/') + '/graph'}?{urlencode(params)}"


def graph_links(base: str) -> str:
    """The printable block: each graph, all of them on one page, and the alerts page."""
    page = ui_page(base, "graph")
    lines = ["Biểu đồ / graphs (Prometheus, last hour)"]
    lines += [f"  {label}\n    {graph_url(base, expr, page=page)}" for label, expr in GRAPHS]
    every = graph_url(base, *(e for _, e in GRAPHS), page=page)
    lines.append(f"  Tất cả / all on one page\n    {every}")
    lines.append(f"  Cảnh báo / alerts\n    {ui_page(base, 'alerts')}")
    return "\n".join(lines)
