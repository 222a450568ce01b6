"""Rate limits hold under a burst; oversized bodies are refused before they are read whole.

The rate-limit tests start a gateway of their own with tight limits (the shared e2e gateway runs
with SCANTRACE_RATE_LIMITS=off). The body tests speak raw HTTP/1.1 over a socket: they declare
(or stream) a body far larger than 1 MiB and never finish sending it, so any answer at all
proves the server refused it before reading it whole.
"""

from __future__ import annotations

import math
import select
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from scantrace_cli.stack.services import SERVICES
from scantrace_common.auth import mint_device_token
from tests.chaos.stack import ChaosService, add_result, save_result

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LIMITS = "device=2:5,address=20:40,enrol=1:3"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def limited_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    stack = request.getfixturevalue("e2e_stack")
    import os

    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(stack.env)
    env.update(
        {
            "SCANTRACE_RATE_LIMITS": LIMITS,
            "SCANTRACE_GATEWAY_PORT": "0",
            "SCANTRACE_STATE_DIR": str(tmp_path_factory.mktemp("limited-gw")),
        }
    )
    gateway = ChaosService(SERVICES["gateway"], env, Path(env["SCANTRACE_STATE_DIR"]) / "logs")
    gateway.start()
    try:
        yield gateway.address
    finally:
        gateway.stop()


def a_scan(request: pytest.FixtureRequest, person: str) -> dict[str, Any]:
    stack = request.getfixturevalue("e2e_stack")
    return {
        "scan_id": str(uuid.uuid4()),
        "person_id": person,
        "qr": stack.signer.sign("limits-venue"),
        "direction": "in",
        "scanned_at": int(time.time() * 1000),
    }


def burst(
    client: httpx.Client, requests: list[tuple[str, dict[str, Any], dict[str, str]]]
) -> tuple[Counter[int], list[str], float]:
    statuses: Counter[int] = Counter()
    retry_after: list[str] = []
    started = time.monotonic()
    for path, body, headers in requests:
        response = client.post(path, json=body, headers=headers)
        statuses[response.status_code] += 1
        if response.status_code == 429:
            retry_after.append(response.headers.get("retry-after", ""))
    return statuses, retry_after, time.monotonic() - started


def allowed_at_most(rate: float, burst_size: float, seconds: float) -> int:
    """What a token bucket can let through in `seconds`: the burst plus the refill."""
    return int(burst_size + math.ceil(rate * seconds)) + 1


def test_rate_limits_hold_under_a_burst(
    request: pytest.FixtureRequest, limited_gateway: str
) -> None:
    stack = request.getfixturevalue("e2e_stack")
    figures: dict[str, Any] = {"limits": LIMITS}
    with httpx.Client(base_url=limited_gateway, timeout=30) as client:
        # One device, 30 requests at once.
        token = mint_device_token(stack.auth_secret, "dev-burst", "burst-person")
        auth = {"authorization": f"Bearer {token}"}
        statuses, retry_after, seconds = burst(
            client, [("/v1/scans", a_scan(request, "burst-person"), auth) for _ in range(30)]
        )
        figures["device_burst_30"] = {"statuses": dict(statuses), "seconds": round(seconds, 2)}
        assert statuses[429] > 0, statuses
        assert statuses[202] <= allowed_at_most(2, 5, seconds), statuses
        assert all(value.isdigit() and int(value) >= 1 for value in retry_after), retry_after

        # Enrolment from one address, 20 requests.
        statuses, retry_after, seconds = burst(
            client, [("/v1/devices", {"person_id": f"enrol-{i}"}, {}) for i in range(20)]
        )
        figures["enrol_burst_20"] = {"statuses": dict(statuses), "seconds": round(seconds, 2)}
        assert statuses[429] > 0, statuses
        assert statuses[201] <= allowed_at_most(1, 3, seconds), statuses
        assert all(value.isdigit() for value in retry_after), retry_after

        # Many devices from one address: the address limit stops them.
        requests = []
        for i in range(80):
            person = f"addr-{i}"
            token = mint_device_token(stack.auth_secret, f"dev-addr-{i}", person)
            requests.append(
                ("/v1/scans", a_scan(request, person), {"authorization": f"Bearer {token}"})
            )
        statuses, retry_after, seconds = burst(client, requests)
        figures["address_burst_80_devices"] = {
            "statuses": dict(statuses),
            "seconds": round(seconds, 2),
        }
        assert statuses[429] > 0, statuses
        assert statuses[202] <= allowed_at_most(20, 40, seconds), statuses
    save_result("rate_limits", figures)


# -- oversized bodies ---------------------------------------------------------------------------


def oversized_post(url: str, path: str, token: str, *, chunked: bool) -> tuple[int | None, int]:
    """POST a body of 100 MiB (declared) or an endless chunked one; never finish it.

    Returns (status of the answer or None when none came within 10 s, body bytes sent).
    """
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.hostname}:{parts.port}",
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
    ]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {100 * MIB}")
    sent = 0
    piece = b"[" + b" " * (64 * 1024 - 1)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        deadline = time.monotonic() + 10
        answered = False
        while time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0 if sent < 8 * MIB else 0.5)
            if readable:
                answered = True
                break
            if sent < 8 * MIB:  # never all of it: 8 MiB at most of a 100 MiB / endless body
                data = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
                try:
                    sock.sendall(data)
                except OSError:
                    answered = True  # the server closed on us: read what it said
                    break
                sent += len(piece)
                piece = b" " * len(piece)
        if not answered:
            return None, sent
        try:
            answer = sock.recv(4096)
        except OSError:
            return None, sent
    if not answer.startswith(b"HTTP/1.1 "):
        return None, sent
    return int(answer.split(b" ", 2)[1]), sent


BODY_ENDPOINTS = [
    pytest.param("gateway", "/v1/scans", "device", id="gateway-scans"),
    pytest.param("gateway", "/v1/declarations", "device", id="gateway-declarations"),
    pytest.param("gateway", "/v1/devices", "none", id="gateway-devices"),
    pytest.param(
        "reporter",
        "/v1/venues/batch",
        "admin",
        id="reporter-venues-batch",
    ),
    pytest.param(
        "tracer",
        "/v1/cases",
        "epidemiologist",
        id="tracer-cases",
    ),
]


@pytest.mark.parametrize(("service", "path", "role"), BODY_ENDPOINTS)
@pytest.mark.parametrize("chunked", [False, True], ids=["declared-100MiB", "chunked-endless"])
def test_oversized_bodies_are_refused_before_being_read_whole(
    request: pytest.FixtureRequest, service: str, path: str, role: str, chunked: bool
) -> None:
    stack = request.getfixturevalue("e2e_stack")
    url: str = request.getfixturevalue(f"{service}_url")
    token = (
        mint_device_token(stack.auth_secret, "dev-big", "big-person")
        if role == "device"
        else stack.token(role)
        if role != "none"
        else "none"
    )
    status, sent = oversized_post(url, path, token, chunked=chunked)
    add_result(
        "oversized_bodies",
        f"{service} {path} {'chunked' if chunked else 'declared'}",
        {"status": status, "body_bytes_sent_before_answer": sent},
    )
    assert status == 413, (status, sent)
    assert sent < 8 * MIB
