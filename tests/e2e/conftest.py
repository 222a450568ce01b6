"""The services and the console started as real processes against the session's Kafka and Redis.

One set of services for the whole e2e session (starting them costs seconds on two cores);
each test isolates itself by the ids it uses.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from scantrace_common.auth import mint_staff_token
from scantrace_common.qr import QrSigner

SERVICES = {
    "gateway": "scantrace_gateway",
    "tracer": "scantrace_tracer",
    "reporter": "scantrace_reporter",
    # last: it is ready once the tracer and the reporter answer
    "console": "scantrace_console",
}
READY_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass(frozen=True)
class E2EStack:
    env: dict[str, str]
    auth_secret: str
    signer: QrSigner
    namespace: str
    state_dir: Path

    def token(self, role: str, sub: str | None = None, units: list[str] | None = None) -> str:
        return mint_staff_token(self.auth_secret, sub or f"{role}-e2e", role, units=units)


def _wait_ready(service: ServiceProcess) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited early:\n{service.log_tail()}")
        try:
            if httpx.get(f"{service.url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{service.name} not ready after {READY_TIMEOUT_S}s:\n{service.log_tail()}")


@pytest.fixture(scope="session")
def e2e_stack(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> E2EStack:
    import asyncio

    from scantrace_common.settings import DEFAULT_RETENTION_DAYS
    from scantrace_common.topics import ensure_topics

    namespace = f"e2e{uuid.uuid4().hex[:8]}."
    asyncio.run(
        ensure_topics(
            kafka_bootstrap, namespace, partitions_override=2, retention_days=DEFAULT_RETENTION_DAYS
        )
    )
    signer = QrSigner.generate("e2e1")
    seed = signer.private_key.private_bytes_raw()
    from scantrace_common.qr import b64url_encode

    auth_secret = secrets.token_urlsafe(32)
    state_dir = tmp_path_factory.mktemp("e2e-state")
    env = {
        "SCANTRACE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SCANTRACE_REDIS_URL": redis_url,
        "SCANTRACE_NAMESPACE": namespace,
        "SCANTRACE_AUTH_SECRET": auth_secret,
        "SCANTRACE_QR_SIGNING_KEY": f"e2e1:{b64url_encode(seed)}",
        "SCANTRACE_QR_VERIFY_KEYS": signer.public_env_value(),
        "SCANTRACE_STATE_DIR": str(state_dir),
        "SCANTRACE_RATE_LIMITS": "off",
        "SCANTRACE_GATEWAY_WORKERS": "1",
        "SCANTRACE_LOG_LEVEL": "INFO",
    }
    return E2EStack(env, auth_secret, signer, namespace, state_dir)


@pytest.fixture(scope="session")
def e2e_services(e2e_stack: E2EStack) -> Iterator[dict[str, ServiceProcess]]:
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        **e2e_stack.env,
        "SCANTRACE_GATEWAY_PORT": str(ports["gateway"]),
        "SCANTRACE_TRACER_PORT": str(ports["tracer"]),
        "SCANTRACE_REPORTER_PORT": str(ports["reporter"]),
        "SCANTRACE_CONSOLE_PORT": str(ports["console"]),
    }
    started: dict[str, ServiceProcess] = {}
    try:
        for name, module in SERVICES.items():
            log_path = e2e_stack.state_dir / f"{name}.log"
            with log_path.open("wb") as log_file:
                process = subprocess.Popen(
                    [sys.executable, "-m", module],
                    env=env,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            started[name] = ServiceProcess(
                name, f"http://127.0.0.1:{ports[name]}", process, log_path
            )
        for service in started.values():
            _wait_ready(service)
        yield started
    finally:
        for service in reversed(list(started.values())):
            service.stop()


@pytest.fixture(scope="session")
def gateway_url(e2e_services: dict[str, ServiceProcess]) -> str:
    return e2e_services["gateway"].url


@pytest.fixture(scope="session")
def tracer_url(e2e_services: dict[str, ServiceProcess]) -> str:
    return e2e_services["tracer"].url


@pytest.fixture(scope="session")
def reporter_url(e2e_services: dict[str, ServiceProcess]) -> str:
    return e2e_services["reporter"].url


@pytest.fixture(scope="session")
def console_url(e2e_services: dict[str, ServiceProcess]) -> str:
    return e2e_services["console"].url
