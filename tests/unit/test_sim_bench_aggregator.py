"""`bench/run_all.py`: runs each `bench/<name>/run.py`, merges their results, survives failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import common, run_all

pytestmark = pytest.mark.unit

GOOD = """
from bench.common import result, write_results
write_results("{name}", [
    result("{name}", "scans_per_second", 1200.0, "scans/s", baseline_metric="raw",
           baseline_value=2400.0, target=1000.0),
    result("{name}", "p99", 12.5, "ms", baseline_metric="raw p99", baseline_value=5.0,
           target=50.0, better="lower", samples=[14.0, 12.5, 11.0], note="pinned to core 0"),
])
"""


@pytest.fixture
def fake_bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bench_dir = tmp_path / "bench"
    results = bench_dir / "results"
    for name, body in {
        "gateway": GOOD.format(name="gateway"),
        "tracer": "raise SystemExit(3)",
        "reporter": "print('forgot to write results')",
        "extra": GOOD.format(name="extra"),
    }.items():
        (bench_dir / name).mkdir(parents=True)
        (bench_dir / name / "run.py").write_text(body)
    monkeypatch.setattr(run_all, "BENCH_DIR", bench_dir)
    monkeypatch.setattr(run_all, "RESULTS_DIR", results)
    monkeypatch.setattr(common, "RESULTS_DIR", results)
    monkeypatch.setattr(run_all, "DOCS_DIR", tmp_path / "docs")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "performance.md").write_text(
        "# Performance\n\n<!-- latest:start -->\nold\n<!-- latest:end -->\n"
    )
    return tmp_path


def test_result_computes_ratio_and_target() -> None:
    r = common.result("b", "m", 50.0, "ms", baseline_value=25.0, target=40.0, better="lower")
    assert r["ratio"] == 2.0
    assert r["meets_target"] is False
    assert common.result("b", "m", 5.0, "x/s")["meets_target"] is None


def test_percentile() -> None:
    assert common.percentile([1, 2, 3, 4, 5], 50) == 3
    assert common.percentile([1, 2], 100) == 2


def test_run_all_merges_and_tolerates_failures(fake_bench: Path) -> None:
    assert run_all.discover() == ["gateway", "tracer", "reporter", "extra"]
    code = run_all.main(["--timeout", "120", "--watch-before", "0.2"])
    assert code == 1  # two benchmarks failed
    report = json.loads((fake_bench / "bench/results/latest.json").read_text())
    assert {"cpu_model", "cores", "memory_gib", "python", "kernel", "date"} <= report[
        "machine"
    ].keys()
    status = {run["benchmark"]: run["status"] for run in report["runs"]}
    assert status == {"gateway": "ok", "tracer": "failed", "reporter": "failed", "extra": "ok"}
    rows = report["results"]
    assert [tuple(r) for r in rows] == [common.RESULT_KEYS] * len(rows)
    gateway = [r for r in rows if r["benchmark"] == "gateway"]
    assert gateway[0]["ratio"] == 0.5
    assert gateway[0]["meets_target"] is True
    failed = [r for r in rows if r["benchmark"] == "tracer"]
    assert failed[0]["meets_target"] is False
    latest = (fake_bench / "bench/results/latest.md").read_text()
    assert "| gateway | scans_per_second |" in latest
    # a repeated figure: the median, its min and max and the count; its note as a footnote
    p99 = gateway[1]
    assert (p99["value"], p99["min"], p99["max"], p99["runs"]) == (12.5, 11.0, 14.0, 3)
    assert "| gateway | p99 [1] | 12.5 | 11 – 14 (3) | ms |" in latest
    assert "[1] gateway p99: pinned to core 0" in latest
    # the machine's load: before the run and one window per benchmark, in the JSON and the page
    assert set(report["load"]["windows"]) == {"before", "gateway", "tracer", "reporter", "extra"}
    assert "| before |" in latest
    assert "Machine load" in latest
    doc = (fake_bench / "docs" / "performance.md").read_text()
    assert "old" not in doc
    assert "| gateway | p99 [1] |" in doc
    for figure in ("perf-throughput.png", "perf-latency.png"):
        assert (fake_bench / "docs" / figure).read_bytes().startswith(b"\x89PNG")
