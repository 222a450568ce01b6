"""`scantrace staff add` against the reporter process creates the first admin, who then signs in
(`POST /v1/sessions`) and reaches the console; the same CLI lists and disables accounts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.conftest import E2EStack

pytestmark = pytest.mark.e2e

PASSWORD = "một mật khẩu rất dài"


def scantrace(
    stack: E2EStack, reporter_url: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.env, "SCANTRACE_REPORTER_URL": reporter_url}
    return subprocess.run(
        [sys.executable, "-m", "scantrace_cli", "staff", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_the_first_admin_is_made_by_the_cli_and_signs_in(
    e2e_stack: E2EStack, reporter_url: str, console_url: str
) -> None:
    staff_id = f"admin-{time.time_ns() % 10**9}"
    added = scantrace(
        e2e_stack,
        reporter_url,
        "add",
        staff_id,
        "--name",
        "Quản trị viên",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert '"role": "admin"' in added.stdout
    assert "argon2" not in added.stdout
    again = scantrace(
        e2e_stack,
        reporter_url,
        "add",
        staff_id,
        "--name",
        "X",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert again.returncode == 1
    assert "409" in again.stderr
    session = httpx.post(
        f"{reporter_url}/v1/sessions", json={"staff_id": staff_id, "password": PASSWORD}
    )
    assert session.status_code == 201, session.text
    assert staff_id in scantrace(e2e_stack, reporter_url, "list").stdout
    # the console is up beside the services and answers the sign-in page in Vietnamese
    page = httpx.get(f"{console_url}/signin")
    assert page.status_code == 200
    assert "Đăng nhập" in page.text
    assert httpx.get(f"{console_url}/readyz").status_code == 200


def test_the_cli_says_what_to_do_when_the_reporter_is_not_there(e2e_stack: E2EStack) -> None:
    listed = scantrace(e2e_stack, "http://127.0.0.1:9", "list")
    assert listed.returncode != 0
    assert "start the stack first" in listed.stderr
