"""`scantrace up prometheus` in a subprocess: scrapes the services on their ports, loads the rules.

Three stub services answer `/metrics` on free ports (the service metrics of this process's
registry); Prometheus's own HTTP API must then list the three `scantrace-*` jobs and itself as
up, and every alert rule of deploy/prometheus/alerts.yml as loaded. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from scantrace_cli.stack.ports import free_port
from scantrace_cli.stack.prometheus_graphs import GRAPHS
from tests.support.prometheus_api import loaded_rules, query, rule_names, wait_all_up
from tests.support.stub_http import serve

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus binary"),
]


def _metrics(path: str) -> tuple[int, str, bytes]:
    return (200 if path == "/metrics" else 404), CONTENT_TYPE_LATEST, generate_latest()


@pytest.fixture
def stub_services() -> Iterator[dict[str, int]]:
    import scantrace_tracer.metrics  # noqa: F401 - registers the tracer's series

    with (
        serve(_metrics) as gateway,
        serve(_metrics) as tracer,
        serve(_metrics) as reporter,
        serve(_metrics) as console,
    ):
        urls = {"gateway": gateway, "tracer": tracer, "reporter": reporter, "console": console}
        yield {name: int(url.rstrip("/").rsplit(":", 1)[1]) for name, url in urls.items()}


def test_up_prometheus_scrapes_the_services_and_loads_the_rules(
    tmp_path: Path, stub_services: dict[str, int]
) -> None:
    port = free_port()
    env = dict(os.environ)
    env |= {
        "SCANTRACE_STATE_DIR": str(tmp_path / "state"),
        "SCANTRACE_LOCAL_PROMETHEUS_PORT": str(port),
        "SCANTRACE_GATEWAY_PORT": str(stub_services["gateway"]),
        "SCANTRACE_TRACER_PORT": str(stub_services["tracer"]),
        "SCANTRACE_REPORTER_PORT": str(stub_services["reporter"]),
        "SCANTRACE_CONSOLE_PORT": str(stub_services["console"]),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "scantrace_cli", "up", "prometheus"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        wait_all_up(api)
        # the pages the launcher's summary names answer (Debian's build: under /classic/)
        printed = re.findall(r"(?:targets|alerts): (http://\S+?)[,)]", log.read_text())
        assert len(printed) == 2, log.read_text()
        for page in printed:
            assert httpx.get(page, timeout=5).status_code == 200, page
        rules = loaded_rules(api)
        assert set(rules) == rule_names()
        assert "err" not in rules.values()
        # the series of a stub service reached the store
        up = query(api, 'up{job="scantrace-tracer"}')
        assert up["data"]["result"][0]["value"][1] == "1"
        assert (tmp_path / "state" / "prometheus" / "data").is_dir()
        # every graph the demo links to is valid PromQL for this Prometheus
        for label, expr in GRAPHS:
            answer = query(api, expr)
            assert answer["status"] == "success", (label, answer)
    finally:
        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(60)
    text = log.read_text()
    assert code == 0, text
    assert "prometheus ready" in text
    assert re.search(rf"alerts: http://127\.0\.0\.1:{port}/(classic/)?alerts", text), text
