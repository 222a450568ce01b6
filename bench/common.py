"""Helpers every benchmark shares: the result record, its file, percentiles and the machine's description.

A benchmark's `run.py` measures, builds records with `result(...)` (figure, its baseline from the
same run, the ratio and whether it meets its target) and saves them with `write_results(name, ...)`
to `bench/results/<name>.json`; `bench/run_all.py` merges every file into `latest.json`.
A headline figure is measured `REPEATS` times in the same run: its value is the median of the
runs (`median`), and the record keeps their min, max and count (`samples=`), so a reader can tell
a regression from the machine's noise.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import subprocess
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, TypedDict

BENCH_DIR: Final = Path(__file__).resolve().parent
REPO_ROOT: Final = BENCH_DIR.parent
#: Tests point this elsewhere; `run_all` passes it on to every benchmark it starts.
RESULTS_DIR: Final = Path(os.environ.get("SCANTRACE_BENCH_RESULTS_DIR") or BENCH_DIR / "results")

#: Runs of each headline figure within one `make bench` (SCANTRACE_BENCH_REPEATS, at least 3).
REPEATS: Final = max(3, int(os.environ.get("SCANTRACE_BENCH_REPEATS", "3")))

#: The keys of one result, in the order they are written.
RESULT_KEYS: Final = (
    "benchmark",
    "metric",
    "value",
    "min",
    "max",
    "runs",
    "unit",
    "baseline_metric",
    "baseline_value",
    "ratio",
    "target",
    "meets_target",
    "note",
)


class Result(TypedDict):
    benchmark: str
    metric: str
    value: float | None
    #: Smallest and largest of the repeated runs (None for a figure measured once).
    min: float | None
    max: float | None
    runs: int | None
    unit: str
    baseline_metric: str | None
    baseline_value: float | None
    ratio: float | None
    target: float | None
    meets_target: bool | None
    #: How the figure was taken when the table alone would mislead (pinning, a short window).
    note: str | None


def median(samples: Sequence[float]) -> float:
    """The middle of the repeated runs (the mean of the two middle ones for an even count)."""
    return percentile(samples, 50)


def result(
    benchmark: str,
    metric: str,
    value: float | None,
    unit: str,
    *,
    baseline_metric: str | None = None,
    baseline_value: float | None = None,
    target: float | None = None,
    better: Literal["higher", "lower"] = "higher",
    samples: Sequence[float] | None = None,
    note: str | None = None,
) -> Result:
    """One figure; `ratio` = value / baseline, `meets_target` compares with `target` in the `better` direction.

    `samples`: the figure of each repeated run; `value` should be their `median`.
    """
    ratio = None
    if value is not None and baseline_value:
        ratio = round(value / baseline_value, 4)
    meets = None
    if target is not None and value is not None:
        meets = value >= target if better == "higher" else value <= target
    spread = [float(x) for x in samples] if samples else []
    return Result(
        benchmark=benchmark,
        metric=metric,
        value=value,
        min=_significant(min(spread)) if spread else None,
        max=_significant(max(spread)) if spread else None,
        runs=len(spread) or None,
        unit=unit,
        baseline_metric=baseline_metric,
        baseline_value=baseline_value,
        ratio=ratio,
        target=target,
        meets_target=meets,
        note=note,
    )


def _significant(x: float) -> float:
    """Four significant digits: enough for a spread, short in the JSON."""
    return float(f"{x:.4g}")


def results_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def write_results(name: str, results: Sequence[Result]) -> Path:
    """Save a benchmark's records as `bench/results/<name>.json` (a JSON list)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = results_path(name)
    path.write_text(json.dumps(list(results), indent=2, ensure_ascii=False) + "\n")
    return path


def read_results(name: str) -> list[Result]:
    """The records of one benchmark; raises ValueError when the file is not a list of records."""
    data = json.loads(results_path(name).read_text())
    if not isinstance(data, list):
        raise ValueError(f"{name}.json is not a list")
    found: list[Result] = []
    for item in data:
        if (
            not isinstance(item, dict)
            or not {"benchmark", "metric", "value", "unit"} <= item.keys()
        ):
            raise ValueError(f"{name}.json has a record without benchmark/metric/value/unit")
        found.append(Result(**{key: item.get(key) for key in RESULT_KEYS}))  # type: ignore[typeddict-item]
    return found


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, Python, kernel, date and commit: enough to compare two runs."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
            or None
        )
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "os": platform.platform(),
        "date": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "commit": commit,
    }


@contextlib.contextmanager
def servers(state: Path) -> Iterator[tuple[str, str]]:
    """(bootstrap, redis_url): the configured ones, else a local broker and Redis of our own."""
    bootstrap = os.environ.get("SCANTRACE_KAFKA_BOOTSTRAP")
    redis_url = os.environ.get("SCANTRACE_REDIS_URL")
    with contextlib.ExitStack() as stack:
        if not bootstrap:
            from scantrace_cli.stack import make_local_broker
            from scantrace_cli.stack.broker import choose_local_broker

            broker = make_local_broker(choose_local_broker(), state, 0)
            broker.start()
            stack.callback(broker.stop)
            bootstrap = broker.address
        if not redis_url:
            from scantrace_cli.stack import LocalRedis

            redis = LocalRedis(state, 0, persist=False)
            redis.start()
            stack.callback(redis.stop)
            redis_url = redis.address
        yield bootstrap, redis_url
