"""The scantrace services as child processes (`python -m scantrace_<name>`), started in this
order, each once the one before is ready: the console last, as it is ready only when the tracer
and the reporter answer."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from scantrace_cli.stack.ports import HOST
from scantrace_cli.stack.probes import http_ready
from scantrace_cli.stack.process import Progress
from scantrace_cli.stack.server import LocalServer


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    module: str
    port_variable: str
    default_port: int


SERVICES: dict[str, ServiceSpec] = {
    spec.name: spec
    for spec in (
        ServiceSpec("gateway", "scantrace_gateway", "SCANTRACE_GATEWAY_PORT", 8000),
        ServiceSpec("tracer", "scantrace_tracer", "SCANTRACE_TRACER_PORT", 8001),
        ServiceSpec("reporter", "scantrace_reporter", "SCANTRACE_REPORTER_PORT", 8002),
        ServiceSpec("console", "scantrace_console", "SCANTRACE_CONSOLE_PORT", 8003),
    )
}


class LocalService(LocalServer):
    """One service on its SPEC port (or the port its variable names); ready when /readyz is 200."""

    def __init__(
        self,
        spec: ServiceSpec,
        env: Mapping[str, str],
        log_dir: Path,
        *,
        progress: Progress | None = None,
        start_timeout: float = 120.0,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.port_variable = spec.port_variable
        self.env = dict(env)
        port = int(self.env.get(spec.port_variable) or spec.default_port)
        super().__init__(
            port=port,
            log_path=log_dir / f"{spec.name}.log",
            progress=progress,
            start_timeout=start_timeout,
        )
        self.env[spec.port_variable] = str(self.port)

    @property
    def address(self) -> str:
        return f"http://{HOST}:{self.port}"

    def ready(self) -> bool:
        return http_ready(f"{self.address}/readyz")

    def _prepare(self) -> None:
        pass

    def _env(self) -> Mapping[str, str]:
        return self.env

    def _argv(self) -> list[str]:
        return [sys.executable, "-m", self.spec.module]
