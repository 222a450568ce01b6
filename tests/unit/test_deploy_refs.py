"""Dashboards and alert rules reference only metrics the services export (deploy/metrics.txt),
every alert links to a runbook section that exists, and the dashboards are valid provisioned JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
METRIC_TYPES = {"counter", "gauge", "histogram", "summary"}
# PromQL metric names: everything scantrace_-prefixed, less the histogram series suffixes.
METRIC_RE = re.compile(r"scantrace_[a-z_]+")
SERIES_SUFFIX_RE = re.compile(r"_(bucket|sum|count)$")


def declared_metrics() -> dict[str, str]:
    """deploy/metrics.txt as {name: type}."""
    metrics: dict[str, str] = {}
    for line in (DEPLOY / "metrics.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, kind = line.split()
        metrics[name] = kind
    return metrics


def referenced_metrics(expr: str, declared: dict[str, str]) -> set[str]:
    """Metric names in a PromQL expression; histogram series map back to their base name."""
    names = set()
    for name in METRIC_RE.findall(expr):
        base = SERIES_SUFFIX_RE.sub("", name)
        # `_count` of a counter named ..._count would be wrong to strip; keep declared names whole.
        names.add(name if name in declared else base)
    return names


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        exprs.append(query["query"] if isinstance(query, dict) else str(query or ""))
    return exprs


def alert_rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub generates for a document's headings."""
    anchors = set()
    for line in markdown.splitlines():
        match = re.match(r"#{1,6}\s+(.*)", line)
        if match:
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


def test_metrics_file_is_well_formed() -> None:
    metrics = declared_metrics()
    assert len(metrics) >= 20
    for name, kind in metrics.items():
        assert kind in METRIC_TYPES, f"{name}: unknown type {kind}"
        assert re.fullmatch(r"scantrace_(gateway|tracer|reporter|console)_[a-z_]+", name), name
        if kind == "counter":
            assert name.endswith("_total"), f"counter {name} must end in _total"
        else:
            assert not name.endswith("_total"), f"{kind} {name} must not end in _total"
        if kind == "histogram":
            assert name.endswith("_seconds"), f"histogram {name}: base unit seconds expected"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_valid_provisionable_json(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] == path.stem
    assert dashboard["title"].startswith("scantrace / ")
    assert "id" not in dashboard, "provisioned dashboards must not carry a database id"
    panel_ids = [p["id"] for p in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids)), "duplicate panel ids"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert panel["targets"], f"panel {panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "prometheus"
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]


def test_the_three_dashboards_exist() -> None:
    assert {p.stem for p in DASHBOARDS} == {
        "scantrace-intake",
        "scantrace-tracing",
        "scantrace-compliance",
    }


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_references_only_exported_metrics(path: Path) -> None:
    declared = declared_metrics()
    used: set[str] = set()
    for expr in dashboard_exprs(json.loads(path.read_text())):
        used |= referenced_metrics(expr, declared)
    assert used, "a dashboard with no scantrace metric"
    assert used <= declared.keys(), f"not in deploy/metrics.txt: {sorted(used - declared.keys())}"


def test_histogram_series_are_only_used_on_histograms() -> None:
    declared = declared_metrics()
    exprs = [r["expr"] for r in alert_rules()]
    for path in DASHBOARDS:
        exprs += dashboard_exprs(json.loads(path.read_text()))
    for expr in exprs:
        for name in METRIC_RE.findall(expr):
            if SERIES_SUFFIX_RE.search(name) and name not in declared:
                base = SERIES_SUFFIX_RE.sub("", name)
                assert declared.get(base) in {"histogram", "summary"}, f"{name} in {expr}"


def test_alerts_reference_only_exported_metrics() -> None:
    declared = declared_metrics()
    for rule in alert_rules():
        used = referenced_metrics(rule["expr"], declared)
        assert used <= declared.keys(), f"{rule['alert']}: {sorted(used - declared.keys())}"


def test_alerts_cover_the_required_conditions() -> None:
    exprs = {r["alert"]: r["expr"] for r in alert_rules()}
    required = {
        "ScantraceGatewayErrors": "scantrace_gateway_requests_total",
        "ScantraceGatewayUnavailable": 'status="503"',
        "ScantraceGatewaySpoolGrowing": "scantrace_gateway_spool_items",
        "ScantraceConsumerLag": "consumer_lag_messages",
        "ScantraceScanToQueryableSlow": "scantrace_tracer_scan_to_queryable_seconds_bucket",
        "ScantraceDeadLetters": "dlq_events_total",
        "ScantraceServiceDown": "up{",
    }
    for alert, needle in required.items():
        assert needle in exprs[alert], alert
    assert "> 2" in exprs["ScantraceScanToQueryableSlow"]


def test_every_alert_has_severity_summary_and_an_existing_runbook() -> None:
    anchors = github_anchors((ROOT / "docs" / "operations.md").read_text())
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert rule["annotations"]["summary"], name
        url = rule["annotations"]["runbook_url"]
        assert url == f"docs/operations.md#{name.lower()}", f"{name}: {url}"
        assert name.lower() in anchors, f"docs/operations.md has no '### {name}' section"


def test_every_alert_is_unit_tested() -> None:
    tests = yaml.safe_load((DEPLOY / "prometheus" / "alerts.test.yml").read_text())
    firing = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert {r["alert"] for r in alert_rules()} <= firing


def test_grafana_provisioning_matches_the_compose_mounts() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "scantrace.yml").read_text()
    )
    path = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{path}:ro" in mounts
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert datasource["datasources"][0]["uid"] == "prometheus"


def test_every_operations_doc_link_in_deploy_files_exists() -> None:
    anchors = github_anchors((ROOT / "docs" / "operations.md").read_text())
    files = [ROOT / "docker-compose.yml", *DEPLOY.rglob("*.y*ml"), *DEPLOY.rglob("*.json")]
    links = {
        (path.name, anchor)
        for path in files
        for anchor in re.findall(r"docs/operations\.md#([\w-]+)", path.read_text())
    }
    assert links
    missing = sorted(link for link in links if link[1] not in anchors)
    assert not missing, f"no such section in docs/operations.md: {missing}"
