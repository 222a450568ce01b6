"""A child server process in its own process group, logging to a file, stopped without orphans."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

#: Called while waiting with the seconds spent so far (for "waiting for kafka ... 3.2 s").
Progress = Callable[[float], None]

_PR_SET_PDEATHSIG = 1


class ServerError(RuntimeError):
    """A local server could not start or died; the message says what to do next."""


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the parent dies, so a killed launcher leaves no server."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ManagedProcess:
    """One child process: started in a new session (its own process group), output to `log_path`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"=== {stamp} starting {self.name}: {' '.join(self.argv)}\n".encode())
            log.flush()
            # The child keeps its own copy of the log descriptor; ours closes with this block.
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # only calls prctl: safe after fork
            )

    def _signal_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        # The group outlives its leader when the leader forked; signal the group, not just the pid.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the process group, wait up to `timeout` s, then SIGKILL it. Returns the exit code."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self._proc.wait()
        self._signal_group(signal.SIGKILL)  # stragglers of the group, if any
        return self._proc.returncode

    def kill(self) -> int | None:
        """SIGKILL the process group at once (a crash, for reliability tests)."""
        if self._proc is None:
            return None
        self._signal_group(signal.SIGKILL)
        return self._proc.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 64 * 1024))
                text = log.read().decode(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_until(
    check: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    process: ManagedProcess | None = None,
    progress: Progress | None = None,
    interval: float = 0.2,
) -> float:
    """Poll `check` until it is true; returns the seconds it took.

    Raises `ServerError` when `process` exits first (with its log tail) or on timeout.
    """
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if check():
            return elapsed
        if process is not None and not process.alive:
            raise ServerError(
                f"{what} exited with code {process.returncode} before it was ready; "
                f"last lines of {process.log_path}:\n{process.log_tail()}"
            )
        if elapsed > timeout:
            where = f"; see {process.log_path}" if process is not None else ""
            raise ServerError(f"{what} was not ready after {timeout:.0f} s{where}")
        if progress is not None:
            progress(elapsed)
        time.sleep(interval)
