"""Prometheus for the local stack: Debian's `prometheus`, scraping the services on their ports.

The same job names as `deploy/prometheus/prometheus.yml` (compose) and the Kubernetes scrape
config, so `deploy/prometheus/alerts.yml` is loaded unchanged and its alerts mean the same here.
Its configuration is written into `<state>/prometheus/` at each start; the time series live in
`<state>/prometheus/data` and are kept across restarts (7 days).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from scantrace_cli.stack.ports import HOST
from scantrace_cli.stack.probes import http_ready
from scantrace_cli.stack.process import Progress, ServerError
from scantrace_cli.stack.server import LocalServer

#: The working copy's alert rules (the CLI runs from the uv workspace, installed editable).
RULES: Final = Path(__file__).resolve().parents[5] / "deploy" / "prometheus" / "alerts.yml"
#: Faster than production's 15 s: a local run is short and watched as it happens.
SCRAPE_INTERVAL_S: Final = 5
RETENTION: Final = "7d"


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def scrape_config(targets: Mapping[str, int], rules: Path, self_port: int) -> str:
    """prometheus.yml: one job per service (`scantrace-<name>`), Prometheus itself, the rules."""
    lines = [
        "# Written by `scantrace up prometheus` at each start; edit the launcher, not this file.",
        "global:",
        f"  scrape_interval: {SCRAPE_INTERVAL_S}s",
        f"  scrape_timeout: {SCRAPE_INTERVAL_S - 1}s",
        f"  evaluation_interval: {SCRAPE_INTERVAL_S}s",
        "  external_labels:",
        "    deployment: local",
        "rule_files:",
        f"  - {rules}",
        "scrape_configs:",
    ]
    jobs = {f"scantrace-{name}": port for name, port in targets.items()}
    jobs["prometheus"] = self_port
    for job, port in jobs.items():
        lines += [
            f"  - job_name: {job}",
            "    metrics_path: /metrics",
            "    static_configs:",
            f'      - targets: ["{HOST}:{port}"]',
        ]
    return "\n".join(lines) + "\n"


class LocalPrometheus(LocalServer):
    """Prometheus on 127.0.0.1:`port` scraping `targets` (service name -> port)."""

    name = "prometheus"
    port_variable = "SCANTRACE_LOCAL_PROMETHEUS_PORT"

    def __init__(
        self,
        state_dir: Path,
        targets: Mapping[str, int],
        port: int = 9090,
        *,
        rules: Path = RULES,
        log_path: Path | None = None,
        progress: Progress | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.home = state_dir.absolute() / "prometheus"
        self.targets = dict(targets)
        self.rules = rules
        super().__init__(
            port=port,
            log_path=log_path or state_dir.absolute() / "logs" / "prometheus.log",
            progress=progress,
            start_timeout=start_timeout,
        )

    @property
    def address(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.home / "prometheus.yml"

    def ready(self) -> bool:
        return http_ready(f"{self.address}/-/ready")

    def _prepare(self) -> None:
        if not self.rules.is_file():
            raise ServerError(f"prometheus: no alert rules at {self.rules}")
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(scrape_config(self.targets, self.rules, self.port))

    def _argv(self) -> list[str]:
        binary = prometheus_binary()
        if binary is None:
            raise ServerError("no prometheus binary: apt-get install prometheus (Debian)")
        return [
            binary,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--storage.tsdb.retention.time={RETENTION}",
            f"--web.listen-address={HOST}:{self.port}",
            f"--web.external-url={self.address}/",
        ]
