"""`scantrace up kafka redis` in a subprocess: starts, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scantrace_cli.stack.ports import free_port, port_in_use
from scantrace_cli.stack.probes import kafka_ready, redis_ready

pytestmark = pytest.mark.integration

READY_TIMEOUT_S = 240.0


def _children(pid: int) -> set[int]:
    """Every descendant of `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_up_kafka_redis_then_sigterm_leaves_nothing(tmp_path: Path) -> None:
    kafka_port, redis_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SCANTRACE_KAFKA_BOOTSTRAP", "SCANTRACE_REDIS_URL")
    }
    env |= {
        "SCANTRACE_STATE_DIR": str(tmp_path / "state"),
        "SCANTRACE_LOCAL_KAFKA_PORT": str(kafka_port),
        "SCANTRACE_LOCAL_REDIS_PORT": str(redis_port),
        "PYTHONUNBUFFERED": "1",
    }
    if os.environ.get("SCANTRACE_TEST_BROKER"):
        env["SCANTRACE_LOCAL_BROKER"] = os.environ["SCANTRACE_TEST_BROKER"]
    output = tmp_path / "up.out"
    with output.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "scantrace_cli", "up", "kafka", "redis"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "all ready" not in output.read_text() and up.poll() is None:
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.5)
        assert up.poll() is None, output.read_text()
        assert kafka_ready(f"127.0.0.1:{kafka_port}")
        assert redis_ready(redis_port)
        children = _children(up.pid)
        assert len(children) >= 2  # the broker and redis

        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0, output.read_text()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()

    text = output.read_text()
    assert text.index("stopping redis") < text.index("stopping kafka")  # reverse order
    assert not [pid for pid in children if _alive(pid)]
    assert not port_in_use(kafka_port)
    assert not port_in_use(redis_port)
    assert (tmp_path / "state" / "logs" / "kafka.log").stat().st_size > 0
    assert (tmp_path / "state" / "logs" / "redis.log").stat().st_size > 0


def test_up_exits_1_with_the_log_tail_when_a_child_dies(tmp_path: Path) -> None:
    redis_port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "SCANTRACE_REDIS_URL"}
    env |= {
        "SCANTRACE_STATE_DIR": str(tmp_path / "state"),
        "SCANTRACE_LOCAL_REDIS_PORT": str(redis_port),
        "PYTHONUNBUFFERED": "1",
    }
    output = tmp_path / "up.out"
    with output.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "scantrace_cli", "up", "redis"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "all ready" not in output.read_text() and up.poll() is None:
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        (redis_pid,) = _children(up.pid)
        os.kill(redis_pid, signal.SIGKILL)
        assert up.wait(timeout=60) == 1, output.read_text()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert "redis exited unexpectedly" in output.read_text()
    assert not port_in_use(redis_port)
