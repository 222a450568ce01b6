"""The local Prometheus against the real services: every job up (the console's too), rules loaded.

`LocalPrometheus` (what `scantrace up prometheus` starts) is pointed at the e2e session's
services; the series it stores are the services' own (a counter of the tracer, the gateway's
scan counter after one request) and the rules evaluate without error.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from scantrace_cli.stack.prometheus import LocalPrometheus
from tests.e2e.conftest import ServiceProcess
from tests.support.prometheus_api import (
    SERVICE_JOBS,
    loaded_rules,
    query,
    rule_names,
    wait_all_up,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus binary"),
]


def test_prometheus_scrapes_the_running_services(
    e2e_services: dict[str, ServiceProcess], tmp_path: Path
) -> None:
    ports = {name: int(service.url.rsplit(":", 1)[1]) for name, service in e2e_services.items()}
    with LocalPrometheus(tmp_path / "state", ports, 0) as prometheus:
        api = f"{prometheus.address}/api/v1"
        wait_all_up(api)
        rules = loaded_rules(api)
        assert set(rules) == rule_names()
        assert "err" not in rules.values()
        gateway = e2e_services["gateway"].url
        assert httpx.get(f"{gateway}/metrics", timeout=5).status_code == 200
        answer = query(api, 'count by (job) ({__name__=~"scantrace_.*"})')
        jobs = {r["metric"]["job"] for r in answer["data"]["result"]}
        assert jobs == SERVICE_JOBS
