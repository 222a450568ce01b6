"""deploy/metrics.txt matches what the running services really export: every listed metric is in
a scrape, with its type, and every scantrace metric in a scrape is listed (so dashboards and
alerts, which tests/unit/test_deploy_refs.py holds to metrics.txt, query real series)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

METRICS_TXT = Path(__file__).resolve().parents[2] / "deploy" / "metrics.txt"
SERVICES = {
    "gateway": "gateway_url",
    "tracer": "tracer_url",
    "reporter": "reporter_url",
    "console": "console_url",
}
TYPE_LINE = re.compile(r"# TYPE (scantrace_[a-z_]+) (\w+)")


def declared(service: str) -> dict[str, str]:
    metrics = {}
    for line in METRICS_TXT.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind = line.split()
            if name.startswith(f"scantrace_{service}_"):
                metrics[name] = kind
    return metrics


def scraped(text: str) -> dict[str, str]:
    """{name: type} from the exposition's TYPE lines; counters are named without _total there."""
    metrics = {}
    for name, kind in TYPE_LINE.findall(text):
        if kind == "counter" and not name.endswith("_total"):
            name += "_total"
        metrics[name] = kind
    return metrics


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_metrics_txt_matches_a_real_scrape(service: str, request: pytest.FixtureRequest) -> None:
    try:
        base_url = request.getfixturevalue(SERVICES[service])
    except pytest.FixtureLookupError as lookup:
        pytest.skip(
            f"fixture {SERVICES[service]} unavailable: {lookup.argname!r} is not provided "
            "by the e2e conftest yet"
        )
    response = httpx.get(f"{str(base_url).rstrip('/')}/metrics", timeout=10)
    assert response.status_code == 200
    exported = {
        n: k for n, k in scraped(response.text).items() if n.startswith(f"scantrace_{service}_")
    }
    expected = declared(service)
    missing = {n: k for n, k in expected.items() if exported.get(n) != k}
    assert not missing, f"listed in deploy/metrics.txt but not exported with that type: {missing}"
    unlisted = sorted(exported.keys() - expected.keys())
    assert not unlisted, f"exported but missing from deploy/metrics.txt: {unlisted}"
