"""Questions to a running Prometheus over its HTTP API, for the tests of the local Prometheus.

Waits are bounded (WAIT_S) but measure nothing: the first scrapes come one interval apart.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import yaml

from scantrace_cli.stack.prometheus import RULES

WAIT_S = 90.0
SERVICE_JOBS = frozenset(
    {"scantrace-gateway", "scantrace-tracer", "scantrace-reporter", "scantrace-console"}
)


def targets_health(api: str) -> dict[str, str]:
    """job -> health ("up", "down", "unknown") of every active target."""
    answer = httpx.get(f"{api}/targets", timeout=5).json()["data"]["activeTargets"]
    return {t["labels"]["job"]: t["health"] for t in answer}


def wait_all_up(api: str, jobs: frozenset[str] = SERVICE_JOBS | {"prometheus"}) -> None:
    """Return once every job in `jobs`, and no other, has a target that is up."""
    deadline = time.monotonic() + WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = targets_health(api)
            if set(last) == jobs and set(last.values()) == {"up"}:
                return
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"targets not all up within {WAIT_S:.0f} s; last answer: {last!r}")


def rule_names() -> set[str]:
    """The alerts of deploy/prometheus/alerts.yml."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"] for group in groups for rule in group["rules"]}


def loaded_rules(api: str) -> dict[str, str]:
    """alert name -> health of every rule Prometheus loaded."""
    groups = httpx.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
    return {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}


def query(api: str, expr: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{api}/query", params={"query": expr}, timeout=5).json()
    return answer
