"""`make bench`: run every `bench/<name>/run.py` in turn, then merge and plot their results.

Writes `bench/results/latest.json` (`{"machine", "load", "results", "runs"}`),
`bench/results/latest.md` and the figures `docs/perf-throughput.png` and `docs/perf-latency.png`.
A benchmark that is missing, fails or writes no valid results is recorded as failed and the
others still run. The machine's load before and during each benchmark (`bench/machine_load.py`)
is recorded beside the figures, with a warning when other processes used the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from bench.common import (
    BENCH_DIR,
    REPO_ROOT,
    RESULT_KEYS,
    RESULTS_DIR,
    Result,
    machine_info,
    read_results,
    result,
    results_path,
)
from bench.machine_load import LoadWatch, mark_this_run

#: Run first, in this order; any other `bench/<name>/run.py` follows alphabetically.
PREFERRED_ORDER: Final = ("gateway", "tracer", "reporter")
DOCS_DIR: Final = REPO_ROOT / "docs"
THROUGHPUT_UNITS: Final = ("/s",)
LATENCY_UNITS: Final = frozenset({"ms", "s", "us", "µs"})
LATEST_START: Final = "<!-- latest:start -->"
LATEST_END: Final = "<!-- latest:end -->"


def discover(only: Sequence[str] = ()) -> list[str]:
    found = sorted(p.parent.name for p in BENCH_DIR.glob("*/run.py"))
    # The three issue benchmarks are always listed, so a missing one shows up as failed.
    names = list(PREFERRED_ORDER) + [n for n in found if n not in PREFERRED_ORDER]
    if only:
        names = [n for n in names if n in only] + [n for n in only if n not in names]
    return names


def run_one(name: str, timeout_s: float) -> dict[str, Any]:
    """Run `bench/<name>/run.py` with the repository on PYTHONPATH; its output goes to `<name>.log`."""
    script = BENCH_DIR / name / "run.py"
    log_path = RESULTS_DIR / f"{name}.log"
    run: dict[str, Any] = {"benchmark": name, "status": "ok", "seconds": 0.0, "returncode": None}
    if not script.exists():
        return {
            **run,
            "status": "failed",
            "error": f"{script.relative_to(REPO_ROOT)} does not exist",
        }
    stale = results_path(name)
    if stale.exists():
        stale.unlink()  # a failed run must not pass off the previous run's figures as its own
    env = dict(os.environ)
    env["SCANTRACE_BENCH_RESULTS_DIR"] = str(RESULTS_DIR)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    started = time.monotonic()
    with log_path.open("w") as log:
        try:
            completed = subprocess.run(
                [sys.executable, str(script)],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
            run["returncode"] = completed.returncode
            if completed.returncode != 0:
                run.update(
                    status="failed", error=f"exit code {completed.returncode}; see {log_path.name}"
                )
        except subprocess.TimeoutExpired:
            run.update(
                status="failed", error=f"timed out after {timeout_s:.0f} s; see {log_path.name}"
            )
    run["seconds"] = round(time.monotonic() - started, 1)
    return run


def collect(name: str, run: dict[str, Any]) -> list[Result]:
    """The benchmark's records, or one failed record saying why there are none."""
    if run["status"] == "ok":
        try:
            records = read_results(name)
            if records:
                return records
            run.update(status="failed", error=f"{name}.json has no results")
        except (OSError, ValueError) as exc:
            run.update(status="failed", error=f"no valid {name}.json: {exc}")
    failed = result(name, "run", None, "")
    failed["meets_target"] = False
    return [failed]


def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


#: The table's columns: the record's keys, with min, max and runs in one cell, the note as a footnote.
_TABLE_KEYS: Final = tuple(k for k in RESULT_KEYS if k not in ("min", "max", "runs", "note"))


def spread(r: Result) -> str:
    """`min – max (n)` of a repeated figure, `—` for one measured once."""
    if not r.get("runs"):
        return "—"
    return f"{fmt(r.get('min'))} – {fmt(r.get('max'))} ({r['runs']})"


def load_lines(load: dict[str, Any]) -> list[str]:
    """The machine-load table and its warnings, for latest.md."""
    lines = [
        "Machine load (`bench/machine_load.py`: processes without this run's mark are others'):",
        "",
        "| window | seconds | load avg mean / max | machine busy, cores | this run, cores | others, cores | busiest other |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for name, w in load.get("windows", {}).items():
        top = w["other_processes_top"][0] if w["other_processes_top"] else None
        busiest = f"{top['process']} {top['cores']:.2f}" if top else "—"
        lines.append(
            f"| {name} | {w['seconds']} | {w['loadavg_mean']} / {w['loadavg_max']} | "
            f"{w['machine_busy_cores']} | {w['bench_cores']} | {w['other_processes_cores']} | "
            f"{fmt(busiest)} |"
        )
    warnings = load.get("warnings", [])
    lines.append("")
    lines += [f"**WARNING**: {fmt(w)}" for w in warnings] or [
        "No other process used more than a tenth of a core in any window."
    ]
    return lines


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine.get('cpu_model')}, {machine.get('cores')} cores, "
        f"{machine.get('memory_gib')} GiB, Python {machine.get('python')}, kernel "
        f"{machine.get('kernel')}; run at {machine.get('date')} (commit {machine.get('commit')}).",
        "A value with a spread is the median of that many runs in this `make bench` (min – max).",
        "",
        "| benchmark | metric | value | min – max (runs) | unit | baseline | baseline value | ratio | target | meets |",
        "|---|---|---:|---|---|---|---:|---:|---:|---|",
    ]
    notes: list[str] = []
    for r in report["results"]:
        cells = [fmt(r.get(k)) for k in _TABLE_KEYS]
        cells.insert(3, spread(r))
        if r.get("note"):
            notes.append(f"{r['benchmark']} {r['metric']}: {r['note']}")
            cells[1] += f" [{len(notes)}]"
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines += [""] + [f"[{i}] {fmt(note)}" for i, note in enumerate(notes, 1)]
    lines += ["", "| benchmark | status | seconds | note |", "|---|---|---:|---|"]
    for run in report["runs"]:
        lines.append(
            f"| {run['benchmark']} | {run['status']} | {run['seconds']} | {fmt(run.get('error', ''))} |"
        )
    if report.get("load"):
        lines += ["", *load_lines(report["load"])]
    return "\n".join(lines) + "\n"


def plot(results: Sequence[Result], docs_dir: Path) -> list[Path]:
    """Bar charts of the figures next to their baselines: throughput (x/s) and latency (ms, s)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = {
        "perf-throughput.png": (
            "Throughput (higher is better)",
            [r for r in results if r["value"] is not None and r["unit"].endswith(THROUGHPUT_UNITS)],
        ),
        "perf-latency.png": (
            "Latency (lower is better)",
            [r for r in results if r["value"] is not None and r["unit"] in LATENCY_UNITS],
        ),
    }
    docs_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for file_name, (title, rows) in groups.items():
        fig, ax = plt.subplots(figsize=(12, 0.55 * max(len(rows), 2) + 1.6))
        if rows:
            labels = [f"{r['benchmark']}: {r['metric']} ({r['unit']})" for r in rows]
            ys = range(len(rows))
            values = [float(r["value"] or 0) for r in rows]
            # a baseline of another kind (the paced rate next to a delay) is context, not a bar
            baselines = [
                float(r["baseline_value"] or 0)
                if r["ratio"] is not None and 1e-3 <= r["ratio"] <= 1e3
                else 0.0
                for r in rows
            ]
            ax.barh([y + 0.2 for y in ys], values, height=0.4, label="scantrace", color="#2b6cb0")
            ax.barh(
                [y - 0.2 for y in ys],
                baselines,
                height=0.4,
                label="baseline (same run)",
                color="#a0aec0",
            )
            targets = [
                (float(r["target"]), y + 0.2) for y, r in zip(ys, rows, strict=True) if r["target"]
            ]
            if targets:
                ax.scatter(
                    [t for t, _ in targets], [y for _, y in targets], marker="|", s=400,
                    color="#c53030", linewidths=2.5, label="target", zorder=3,
                )  # fmt: skip
            ax.set_yticks(list(ys), labels)
            ax.invert_yaxis()
            if (
                max(values + baselines) / max(min(v for v in values + baselines if v > 0), 1e-9)
                > 100
            ):
                ax.set_xscale("log")
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=3, frameon=False)
        else:
            ax.text(0.5, 0.5, "no figures in this run", ha="center", va="center")
            ax.set_axis_off()
        ax.set_title(title)
        fig.tight_layout()
        path = docs_dir / file_name
        fig.savefig(path, dpi=110, bbox_inches="tight")  # long labels: keep them and the legend
        plt.close(fig)
        written.append(path)
    return written


def update_performance_doc(doc: Path, table: str) -> bool:
    """Put `table` between the `latest:start`/`latest:end` markers of docs/performance.md."""
    if not doc.exists():
        return False
    text = doc.read_text()
    start, end = text.find(LATEST_START), text.find(LATEST_END)
    if start < 0 or end < start:
        return False
    doc.write_text(text[: start + len(LATEST_START)] + "\n" + table.strip() + "\n" + text[end:])
    return True


def previous_load() -> dict[str, Any]:
    """With --no-run, the load the last real run recorded (the figures are that run's)."""
    try:
        load: dict[str, Any] = json.loads((RESULTS_DIR / "latest.json").read_text())["load"]
        return load
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__)
    parser.add_argument(
        "--only", nargs="*", default=[], help="benchmark names to run (default: all)"
    )
    parser.add_argument(
        "--no-run",
        action="store_true",
        help="merge and plot the existing bench/results/<name>.json only",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("SCANTRACE_BENCH_TIMEOUT", "1800")),
        help="seconds per benchmark (default 1800, env SCANTRACE_BENCH_TIMEOUT)",
    )
    parser.add_argument(
        "--watch-before",
        type=float,
        default=5.0,
        help="seconds of the machine's load recorded before the first benchmark (default 5)",
    )
    args = parser.parse_args(argv)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    names = discover(args.only)
    if args.no_run:
        names = [n for n in names if results_path(n).exists()] or names
    runs: list[dict[str, Any]] = []
    results: list[Result] = []
    watch: LoadWatch | None = None
    if not args.no_run:
        watch = LoadWatch(mark_this_run())
        print("bench: watching the machine's load for 5 s before starting ...", flush=True)
        watch.start(before_s=args.watch_before)
    for name in names:
        if args.no_run:
            run: dict[str, Any] = {
                "benchmark": name,
                "status": "ok",
                "seconds": 0.0,
                "returncode": None,
            }
        else:
            print(f"bench: running {name} ...", flush=True)
            if watch is not None:
                watch.segment(name)
            run = run_one(name, args.timeout)
        results.extend(collect(name, run))
        runs.append(run)
        print(
            f"bench: {name}: {run['status']} ({run['seconds']} s) {run.get('error', '')}",
            flush=True,
        )
    load = watch.report() if watch is not None else previous_load()
    for warning in load.get("warnings", []):
        print(f"bench: WARNING: {warning}", flush=True)
    report = {"machine": machine_info(), "load": load, "results": results, "runs": runs}
    (RESULTS_DIR / "latest.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    (RESULTS_DIR / "latest.md").write_text(markdown(report))
    figures = plot(results, DOCS_DIR)
    # The document shows the table without its title line (the page has its own headings).
    update_performance_doc(DOCS_DIR / "performance.md", markdown(report).split("\n", 2)[2])
    print(markdown(report))
    print("wrote", RESULTS_DIR / "latest.json", RESULTS_DIR / "latest.md", *figures)
    return 0 if runs and all(r["status"] == "ok" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
