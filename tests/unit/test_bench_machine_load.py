"""bench/machine_load.py: whose CPU is whose, and when the report warns.

Two busy children, one started with this run's mark and one without: the first counts as the
benchmark's, the second as another process's, named in the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from bench.machine_load import MARK, WARN_CORES, LoadWatch, warnings

pytestmark = pytest.mark.unit

BUSY = "import time\nend = time.process_time() + 1.5\nwhile time.process_time() < end: pass"


def _summary(others: float, top: list[dict[str, object]]) -> dict[str, object]:
    return {
        "other_processes_cores": others,
        "other_processes_top": top,
        "cores": 2,
        "loadavg_max": 1.5,
    }


def test_warnings_name_the_busiest_others_and_any_scantrace_process() -> None:
    quiet = _summary(WARN_CORES / 2, [{"process": "sshd (1)", "cores": 0.01}])
    busy = _summary(0.8, [{"process": "pytest -m unit (42)", "cores": 0.79}])
    stack = _summary(0.0, [{"process": "python -m scantrace_tracer (7)", "cores": 0.001}])
    found = warnings({"before": quiet, "tracer": busy, "gateway": stack})
    assert len(found) == 2
    assert found[0].startswith("tracer: other processes used 0.80 of 2 cores")
    assert "pytest -m unit (42) 0.79" in found[0]
    assert (
        found[1]
        == "gateway: a scantrace process outside the benchmark ran: python -m scantrace_tracer (7)"
    )


def test_marked_children_count_as_the_run_and_others_do_not() -> None:
    run = uuid.uuid4().hex[:12]
    watch = LoadWatch(run, interval=0.2)
    watch.start(before_s=0)
    watch.segment("work")
    ours = subprocess.Popen([sys.executable, "-c", BUSY], env={**os.environ, MARK: run})
    other = subprocess.Popen([sys.executable, "-c", BUSY], env={**os.environ, MARK: "another"})
    assert ours.wait(60) == 0
    assert other.wait(60) == 0
    report = watch.report()
    work = report["windows"]["work"]
    # every other process, not only the busiest five the report shows (the machine is shared)
    names = list(watch.windows["work"].others_cpu_s)
    assert any(f"({other.pid})" in name for name in names), names
    assert not any(f"({ours.pid})" in name for name in names), names
    assert work["bench_cores"] > 0
    assert work["seconds"] > 0
    assert work["cores"] == os.cpu_count()
