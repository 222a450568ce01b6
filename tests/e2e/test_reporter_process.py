"""`python -m scantrace_reporter` as a real process: operations endpoints, then a province
imported with `scantrace registry import` and read back over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scantrace_cli.main import main as scantrace
from scantrace_common.auth import mint_staff_token
from scantrace_common.qr import b64url_encode

pytestmark = pytest.mark.e2e

SECRET = "reporter-e2e-secret-0123456789abcdefgh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


@pytest.fixture
def reporter(redis_url: str, kafka_bootstrap: str, namespace: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    seed = uuid.uuid4().bytes * 2
    env = {
        **os.environ,
        "SCANTRACE_REDIS_URL": redis_url,
        "SCANTRACE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SCANTRACE_NAMESPACE": namespace,
        "SCANTRACE_AUTH_SECRET": SECRET,
        "SCANTRACE_QR_SIGNING_KEY": "k1:" + b64url_encode(seed),
        "SCANTRACE_REPORTER_PORT": str(port),
        "SCANTRACE_STATE_DIR": str(tmp_path),
    }
    log = (tmp_path / "reporter.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "scantrace_reporter"], env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while fetch(url + "/readyz")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError((tmp_path / "reporter.log").read_text()[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
            log.close()
    # uvicorn re-raises the SIGTERM it handled after a clean shutdown.
    assert process.returncode in (0, -15), (tmp_path / "reporter.log").read_text()[-3000:]


def test_operations_endpoints(reporter: str) -> None:
    assert fetch(reporter + "/healthz")[0] == 200
    status, body = fetch(reporter + "/openapi.json")
    assert status == 200
    paths = json.loads(body)["paths"]
    assert {"/v1/compliance", "/v1/compliance.csv", "/v1/venues/{venue_id}/qr.png"} <= set(paths)
    status, metrics = fetch(reporter + "/metrics")
    assert status == 200
    assert b"scantrace_reporter_consumer_lag_messages" in metrics
    assert fetch(reporter + "/v1/compliance?unit_id=x&date=2021-05-17")[0] == 401


def test_registry_import(
    reporter: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    units = tmp_path / "units.csv"
    units.write_text(
        "unit_id,name,parent_id,level\n"
        "C1,Phường Tân Phong,D1,commune\n"  # before its parent: the import orders them
        "D1,Thành phố Biên Hòa,P,district\n"
        "P,Tỉnh Đồng Nai,,province\n"
        "bad id,Bad,,province\n"
        "X,Orphan,nowhere,commune\n",
        encoding="utf-8",
    )
    venues = tmp_path / "venues.csv"
    rows = [f"v{i},Quán cà phê số {i},cafe,C1,\n" for i in range(1200)]
    venues.write_text(
        "venue_id,name,kind,unit_id,default_dwell_minutes\n"
        + "".join(rows)
        + "vx,Bad kind,casino,C1,\n"
        + "vy,Bad dwell,shop,C1,abc\n"
        + ",Generated id,shop,D1,90\n",
        encoding="utf-8",
    )
    token = mint_staff_token(SECRET, "admin-1", "admin")
    qr_out = tmp_path / "qr.csv"
    argv = ["registry", "import", str(units), str(venues), "--url", reporter, "--token", token]
    code = scantrace([*argv, "--qr-out", str(qr_out), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "units: 3 created, 0 already registered, 2 rejected" in out
    assert "venues: 1201 created, 0 already registered, 2 rejected" in out
    assert "units.csv:5" in err
    assert "venues.csv:1203" in err
    assert len(qr_out.read_text().splitlines()) == 1 + 1201

    status, body = fetch(reporter + "/v1/venues/v7", token)
    assert status == 200
    venue: dict[str, Any] = json.loads(body)
    assert venue["name"] == "Quán cà phê số 7"
    assert venue["qr"].startswith("ST1.v7.k1.")

    # Importing again: all already registered (a row without venue_id gets a new id each time).
    code = scantrace([*argv, "--quiet"])
    out, _ = capsys.readouterr()
    assert "units: 0 created, 3 already registered" in out
    assert "venues: 1 created, 1200 already registered" in out
    assert code == 1
