"""What the local broker and Redis have in common: a port, a log, start/stop/kill/restart."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from scantrace_cli.stack.ports import pick_port, port_in_use
from scantrace_cli.stack.process import ManagedProcess, Progress, ServerError, wait_until


class LocalServer(ABC):
    """A server child process on 127.0.0.1:`port` (0 picks a free port once, kept across restarts)."""

    name: str
    #: The variable that moves this server to another port, named in "port busy" errors.
    port_variable: str

    def __init__(
        self,
        *,
        port: int,
        log_path: Path,
        progress: Progress | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        self.port = pick_port(port)
        self.log_path = log_path
        self.progress = progress
        self.start_timeout = start_timeout
        self.process: ManagedProcess | None = None
        #: Seconds the last start() took, from spawn to ready.
        self.last_start_seconds: float | None = None
        self._spawned_at = 0.0

    @property
    @abstractmethod
    def address(self) -> str:
        """What clients connect to (a bootstrap address or a redis:// URL)."""

    @abstractmethod
    def ready(self) -> bool:
        """One readiness probe."""

    @abstractmethod
    def _argv(self) -> list[str]: ...

    @abstractmethod
    def _prepare(self) -> None:
        """Work before the process starts (config files, storage format)."""

    def _env(self) -> Mapping[str, str] | None:
        return None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive

    def start(self) -> None:
        """Start the server and return once it answers; raises ServerError saying what to do.

        Call it from a thread that lives as long as the server: the child gets SIGKILL when
        the thread that spawned it ends (so a killed launcher leaves no orphan).
        """
        if self.alive:
            return
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process without waiting for it to answer (servers that need each other,
        as a KRaft quorum does, are all spawned first, then waited for)."""
        if port_in_use(self.port):
            raise ServerError(
                f"{self.name}: port {self.port} on 127.0.0.1 is already in use. Stop what listens "
                f"there (`ss -ltnp 'sport = :{self.port}'` shows it) or choose another port "
                f"with {self.port_variable}."
            )
        self._spawned_at = time.monotonic()
        self._prepare()
        self.process = ManagedProcess(self.name, self._argv(), self.log_path, env=self._env())
        self.process.start()

    def wait_ready(self) -> None:
        """Return once the spawned process answers; stop it and raise ServerError if it never does."""
        assert self.process is not None, "spawn() first"
        try:
            wait_until(
                self.ready,
                what=self.name,
                timeout=self.start_timeout,
                process=self.process,
                progress=self.progress,
            )
        except BaseException:
            self.process.stop(timeout=5)
            raise
        self.last_start_seconds = time.monotonic() - self._spawned_at

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, wait, then SIGKILL; data on disk is kept."""
        if self.process is not None:
            self.process.stop(timeout)

    def kill(self) -> None:
        """SIGKILL at once, as a crash would."""
        if self.process is not None:
            self.process.kill()

    def restart(self) -> None:
        """Stop (if running) and start again on the same port and state."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
