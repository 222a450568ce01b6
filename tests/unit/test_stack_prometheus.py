"""The local Prometheus's generated configuration and the demo's graph links.

The configuration must pass `promtool check config` (with the project's rules, which promtool
checks too) and use the job names the alert rules expect; every metric a graph link queries
must be one the services export (deploy/metrics.txt).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from scantrace_cli.stack.ports import free_port
from scantrace_cli.stack.prometheus import RULES, scrape_config
from scantrace_cli.stack.prometheus_graphs import GRAPHS, graph_links, graph_url

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="no promtool (Debian prometheus)")
def test_the_generated_config_passes_promtool(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        scrape_config({"gateway": 8000, "tracer": 8001, "reporter": 8002}, RULES, 9090)
    )
    checked = subprocess.run(
        ["promtool", "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout + checked.stderr


def test_the_job_names_are_the_ones_the_rules_use() -> None:
    text = scrape_config({"gateway": 1, "tracer": 2, "reporter": 3}, RULES, 4)
    jobs = re.findall(r"job_name: (\S+)", text)
    assert jobs == ["scantrace-gateway", "scantrace-tracer", "scantrace-reporter", "prometheus"]
    assert '"127.0.0.1:2"' in text
    assert str(RULES) in text
    assert RULES.is_file()
    rules = RULES.read_text()
    assert 'job="scantrace-gateway"' in rules
    assert 'job=~"scantrace-.*"' in rules


def test_every_graph_queries_exported_metrics() -> None:
    exported = {
        line.split()[0]
        for line in (REPO / "deploy" / "metrics.txt").read_text().splitlines()
        if line.startswith("scantrace_")
    }
    for label, expr in GRAPHS:
        names = {re.sub(r"_bucket$", "", n) for n in re.findall(r"scantrace_[a-z_]+", expr)}
        assert names, label
        assert names <= exported, (label, names - exported)


def test_links_open_prometheus_graphs_with_the_expressions() -> None:
    url = graph_url("http://127.0.0.1:9090/", *(expr for _, expr in GRAPHS))
    parts = urlsplit(url)
    assert (parts.netloc, parts.path) == ("127.0.0.1:9090", "/graph")
    query = parse_qs(parts.query)
    assert [query[f"g{i}.expr"][0] for i in range(len(GRAPHS))] == [e for _, e in GRAPHS]
    base = f"http://127.0.0.1:{free_port()}"  # nothing answers: the upstream page names
    text = graph_links(base)
    assert f"{base}/alerts" in text
    assert text.count("/graph?") == len(GRAPHS) + 1


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="no prometheus binary")
def test_a_taken_port_skips_the_default_prometheus_but_fails_a_named_one(tmp_path: Path) -> None:
    import io
    import socket

    from scantrace_cli.stack.launcher import Stack
    from scantrace_cli.stack.process import ServerError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {
            "SCANTRACE_STATE_DIR": str(tmp_path),
            "SCANTRACE_LOCAL_PROMETHEUS_PORT": str(taken.getsockname()[1]),
        }
        out = io.StringIO()
        default = Stack([], env=env, out=out)
        assert "prometheus" in default.components
        default._start_prometheus()
        assert "is taken; starting none" in out.getvalue()
        assert default.started == []
        named = Stack(["prometheus"], env=env, out=io.StringIO())
        with pytest.raises(ServerError, match="already in use"):
            named._start_prometheus()
