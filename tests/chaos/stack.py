"""The chaos tests' own servers: a broker behind the delay proxy, Redis, and the services.

Everything is started with the stack launcher's classes (`LocalKafka`, `LocalRedis`,
`LocalService`) on free ports in temp folders, so it can be SIGKILLed and restarted on the
same data. Start and restart only from the main thread: a child gets SIGKILL when the thread
that spawned it ends (the launcher's orphan guard).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scantrace_cli.stack import LocalKafka
from scantrace_cli.stack.ports import HOST
from scantrace_cli.stack.probes import http_ready
from scantrace_cli.stack.process import ManagedProcess, wait_until
from scantrace_cli.stack.services import SERVICES, LocalService
from scantrace_common.auth import mint_staff_token
from scantrace_common.qr import QrSigner, b64url_encode
from tests.chaos.proxy import DelayProxy

RESULTS_DIR = Path(__file__).parent / "results"


class ProxiedKafka(LocalKafka):
    """Apache Kafka that advertises the delay proxy's port, so every client goes through it."""

    def __init__(self, state_dir: Path) -> None:
        super().__init__(state_dir, 0)
        self.proxy = DelayProxy(self.port)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.proxy.port}"

    def _write_config(self) -> Path:
        path = super()._write_config()
        text = path.read_text().replace(
            f"advertised.listeners=PLAINTEXT://{HOST}:{self.port}",
            f"advertised.listeners=PLAINTEXT://{HOST}:{self.proxy.port}",
        )
        path.write_text(text)
        return path


class ChaosService(LocalService):
    """A service whose readiness probe can be /healthz (a gateway must start with Kafka down)."""

    ready_path = "/readyz"

    def ready(self) -> bool:
        return http_ready(f"{self.address}{self.ready_path}")


@dataclass
class ChaosStack:
    """One test's services on the chaos broker and Redis, isolated by a namespace."""

    kafka: ProxiedKafka
    redis_url: str
    namespace: str
    state_dir: Path
    auth_secret: str
    signer: QrSigner
    overrides: dict[str, str] = field(default_factory=dict)
    services: dict[str, ChaosService] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        base = {key: value for key, value in os.environ.items() if not key.startswith("SCANTRACE_")}
        base.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return {
            **base,
            "SCANTRACE_KAFKA_BOOTSTRAP": self.kafka.address,
            "SCANTRACE_REDIS_URL": self.redis_url,
            "SCANTRACE_NAMESPACE": self.namespace,
            "SCANTRACE_AUTH_SECRET": self.auth_secret,
            "SCANTRACE_QR_SIGNING_KEY": (
                f"{self.signer.key_id}:{b64url_encode(self.signer.private_key.private_bytes_raw())}"
            ),
            "SCANTRACE_QR_VERIFY_KEYS": self.signer.public_env_value(),
            "SCANTRACE_STATE_DIR": str(self.state_dir),
            "SCANTRACE_RATE_LIMITS": "off",
            "SCANTRACE_GATEWAY_WORKERS": "1",
            "SCANTRACE_GATEWAY_PRODUCE_TIMEOUT_S": "1.0",
            "SCANTRACE_LOG_LEVEL": "INFO",
            "SCANTRACE_GATEWAY_PORT": "0",
            "SCANTRACE_TRACER_PORT": "0",
            "SCANTRACE_REPORTER_PORT": "0",
            **self.overrides,
        }

    def token(self, role: str, units: list[str] | None = None) -> str:
        return mint_staff_token(self.auth_secret, f"{role}-chaos", role, units=units)

    def start(self, name: str, *, ready_path: str = "/readyz") -> ChaosService:
        service = self.services.get(name)
        if service is None:
            service = ChaosService(SERVICES[name], self.env, self.state_dir / "logs")
            self.services[name] = service
        service.ready_path = ready_path
        service.start()
        return service

    def url(self, name: str) -> str:
        return self.services[name].address

    def kill(self, name: str) -> None:
        self.services[name].kill()

    def restart(
        self, name: str, *, ready_path: str = "/readyz", env: dict[str, str] | None = None
    ) -> None:
        service = self.services[name]
        if env:
            service.env.update(env)
        service.ready_path = ready_path
        service.stop()
        service.start()

    def respawn(self, name: str) -> None:
        """Start a killed service again without waiting for it to be ready (kills can then land
        anywhere, start-up included); `wait_ready` waits later."""
        service = self.services[name]
        service.stop()
        service.process = ManagedProcess(
            service.name, service._argv(), service.log_path, env=service._env()
        )
        service.process.start()

    def wait_ready(self, *names: str, timeout_s: float = 180.0) -> float:
        started = time.monotonic()
        for name in names:
            service = self.services[name]
            wait_until(service.ready, what=name, timeout=timeout_s, process=service.process)
        return time.monotonic() - started

    def check_alive(self) -> None:
        """Fail with the log tail of any service that exited by itself."""
        dead = [s for s in self.services.values() if s.process is not None and not s.alive]
        if dead:
            tails = "\n".join(
                f"--- {s.name} exited ({s.process.returncode if s.process else None}):\n"
                f"{s.process.log_tail(15) if s.process else ''}"
                for s in dead
            )
            raise AssertionError(f"services died on their own:\n{tails}")

    def stop_all(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()

    def cli(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the `scantrace` command with this stack's environment."""
        return subprocess.run(
            [sys.executable, "-m", "scantrace_cli", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


def wait_for(
    check: Callable[[], bool], *, what: str, timeout_s: float, interval_s: float = 0.5
) -> float:
    """Poll until `check` holds; returns the seconds it took; fails the test on timeout."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what}: not reached after {timeout_s:.0f} s")
        time.sleep(interval_s)
    return time.monotonic() - started


def metric_value(url: str, name: str) -> float | None:
    """The first sample of `name` on a /metrics page, or None."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            return float(line.rsplit(" ", 1)[1])
    return None


def add_result(name: str, key: str, figures: Any) -> None:
    """Add one entry to tests/chaos/results/<name>.json (for tests that are parametrized)."""
    path = RESULTS_DIR / f"{name}.json"
    RESULTS_DIR.mkdir(exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current[key] = figures
    path.write_text(json.dumps(current, indent=2, sort_keys=True, default=str) + "\n")


def save_result(name: str, figures: dict[str, Any]) -> None:
    """Write the figures to tests/chaos/results/<name>.json and print them (docs quote them)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    figures = {"test": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    text = json.dumps(figures, indent=2, sort_keys=True, default=str)
    (RESULTS_DIR / f"{name}.json").write_text(text + "\n")
    print(f"\nCHAOS RESULT {name}: {text}")
