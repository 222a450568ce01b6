"""What else the machine was doing while `make bench` ran: load average and other processes' CPU.

On a shared 2-core machine a benchmark's figure moves with whatever runs beside it (an idle
scantrace stack, another engineer's tests), and nothing in the figures says so. `run_all` marks
its own environment with `SCANTRACE_BENCH_RUN=<id>`; every process it starts inherits it (the
benchmarks, their brokers, Redis, PostgreSQL, wrk, the services), so a process whose environment
lacks the mark is someone else's. A thread samples /proc every `interval` seconds: the load
average, the machine's busy CPU (/proc/stat) and the CPU time each other process used, per
benchmark; `report()` says how much of the machine the others took and warns past a threshold.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

MARK: Final = "SCANTRACE_BENCH_RUN"
#: Processes that compete with a benchmark for CPU, memory or ports even when idle.
NEIGHBOURS: Final = (
    "scantrace",
    "kafka.Kafka",
    "redis-server",
    "valkey-server",
    "postgres",
    "pytest",
    "wrk",
)
#: Others using more than this many cores on average (5% of a 2-core machine) get a warning.
WARN_CORES: Final = 0.1
_TICK: Final = os.sysconf("SC_CLK_TCK")


def mark_this_run() -> str:
    """Set the mark in this process's environment (children inherit it); returns the run id."""
    run = os.environ.get(MARK) or uuid.uuid4().hex[:12]
    os.environ[MARK] = run
    return run


def busy_and_total() -> tuple[float, float]:
    """CPU seconds (all cores) the machine spent busy, and in all, since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already in user
    return (total - idle) / _TICK, total / _TICK


def _loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass(slots=True)
class _Process:
    name: str
    ours: bool
    cpu_s: float


@dataclass(slots=True)
class Window:
    """What one stretch of time (before the run, or one benchmark) saw."""

    seconds: float = 0.0
    loadavg: list[float] = field(default_factory=list)
    busy_cpu_s: float = 0.0
    ours_cpu_s: float = 0.0
    #: "name (pid)" -> CPU seconds of each process without the mark
    others_cpu_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def summary(self, cores: int) -> dict[str, Any]:
        others = sum(self.others_cpu_s.values())
        top = sorted(self.others_cpu_s.items(), key=lambda kv: -kv[1])[:5]
        span = max(self.seconds, 1e-9)
        return {
            "seconds": round(self.seconds, 1),
            "loadavg_mean": round(sum(self.loadavg) / len(self.loadavg), 2)
            if self.loadavg
            else None,
            "loadavg_max": max(self.loadavg) if self.loadavg else None,
            "machine_busy_cores": round(self.busy_cpu_s / span, 2),
            "bench_cores": round(self.ours_cpu_s / span, 2),
            "other_processes_cores": round(others / span, 3),
            "other_processes_top": [
                {"process": name, "cores": round(cpu / span, 3)} for name, cpu in top if cpu > 0
            ],
            "cores": cores,
        }


def _name(pid: str) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"? ({pid})"
    words = [a.decode(errors="replace") for a in argv if a][:3]
    return f"{' '.join(words)[:80] or '[kernel]'} ({pid})"


def _is_ours(pid: str, run: str) -> bool:
    if int(pid) == os.getpid():
        return True  # /proc/self/environ shows the environment at exec, before the mark was set
    try:
        return f"{MARK}={run}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False  # gone, or not readable: counted as another's


def neighbours(run: str) -> list[str]:
    """Processes without this run's mark that look like a stack or a test run (NEIGHBOURS)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and not _is_ours(proc.name, run):
            name = _name(proc.name)
            if any(word in name for word in NEIGHBOURS):
                found.append(name)
    return sorted(found)


class LoadWatch:
    """Samples the machine in a thread; `segment(name)` starts a new window, `report()` ends."""

    def __init__(self, run: str, interval: float = 2.0) -> None:
        self.run = run
        self.interval = interval
        self.cores = os.cpu_count() or 1
        self.windows: dict[str, Window] = {}
        self.neighbours: list[str] = []
        self._current = "before"
        self._known: dict[tuple[str, str], _Process] = {}  # (pid, start time) -> process
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_busy, self._last_at = busy_and_total()[0], time.monotonic()

    def _sample(self) -> None:
        window = self.windows.setdefault(self._current, Window())
        busy, now = busy_and_total()[0], time.monotonic()
        window.busy_cpu_s += busy - self._last_busy
        window.seconds += now - self._last_at
        self._last_busy, self._last_at = busy, now
        window.loadavg.append(_loadavg())
        seen: set[tuple[str, str]] = set()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            key = (proc.name, stat[19])  # pid and start time: a reused pid is a new process
            cpu = (int(stat[11]) + int(stat[12])) / _TICK
            seen.add(key)
            known = self._known.get(key)
            if known is None:
                # first sight: only what it uses from now on counts
                self._known[key] = _Process(_name(proc.name), _is_ours(proc.name, self.run), cpu)
                continue
            used, known.cpu_s = cpu - known.cpu_s, cpu
            if known.ours:
                window.ours_cpu_s += used
            elif used > 0:
                window.others_cpu_s[known.name] += used
        for gone in self._known.keys() - seen:
            del self._known[gone]

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                self._sample()

    def start(self, before_s: float = 5.0) -> None:
        """Watch `before_s` seconds of the machine before anything starts, then keep sampling."""
        self.neighbours = neighbours(self.run)
        with self._lock:
            self._sample()  # first sight of every process
        time.sleep(before_s)
        with self._lock:
            self._sample()
        self._thread = threading.Thread(target=self._loop, name="load-watch", daemon=True)
        self._thread.start()

    def segment(self, name: str) -> None:
        with self._lock:
            self._sample()
            self._current = name

    def report(self) -> dict[str, Any]:
        """{"windows": {name: summary}, "warnings": [...]}; stops the sampling thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        summaries = {name: w.summary(self.cores) for name, w in self.windows.items()}
        found = warnings(summaries)
        if self.neighbours:
            found.insert(
                0,
                f"before the run, {len(self.neighbours)} other stack or test processes were "
                f"running (idle or not): {'; '.join(self.neighbours[:6])}",
            )
        return {"windows": summaries, "neighbours": self.neighbours, "warnings": found}


def warnings(summaries: dict[str, dict[str, Any]]) -> list[str]:
    """A line for each window in which other processes took more than WARN_CORES."""
    lines = []
    for name, s in summaries.items():
        if s["other_processes_cores"] > WARN_CORES:
            top = ", ".join(
                f"{t['process']} {t['cores']:.2f}" for t in s["other_processes_top"][:3]
            )
            lines.append(
                f"{name}: other processes used {s['other_processes_cores']:.2f} of "
                f"{s['cores']} cores on average (load average up to {s['loadavg_max']}): {top}"
            )
        scantrace = [t["process"] for t in s["other_processes_top"] if "scantrace" in t["process"]]
        if scantrace:
            lines.append(f"{name}: a scantrace process outside the benchmark ran: {scantrace[0]}")
    return lines


__all__ = [
    "MARK",
    "NEIGHBOURS",
    "WARN_CORES",
    "LoadWatch",
    "Window",
    "busy_and_total",
    "mark_this_run",
    "neighbours",
    "warnings",
]
