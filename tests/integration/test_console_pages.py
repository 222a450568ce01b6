"""The console over HTTP against a real reporter and tracer (served in this process, with the
session's real Kafka and Redis): sign-in and sign-out, CSRF, the pages of each role and their JSON
twins, an official's scope, the CSV, a disabled account's session ended within 5 s, and the page a
person sees when a service is down."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from scantrace_common.auth import mint_staff_token
from scantrace_console.app import create_console_app
from scantrace_console.security import CSP
from scantrace_console.settings import ConsoleSettings
from scantrace_reporter.app import create_reporter_app
from scantrace_reporter.settings import ReporterSettings
from scantrace_tracer.api import create_tracer_app
from scantrace_tracer.settings import TracerSettings
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.integration

SECRET = "console-test-secret-0123456789abcdef012"
PASSWORD = "mật khẩu đủ dài 123"
UNITS = [
    {"unit_id": "dn", "name": "Tỉnh Đồng Nai", "parent_id": None, "level": "province"},
    {"unit_id": "dn-bh", "name": "Thành phố Biên Hòa", "parent_id": "dn", "level": "district"},
    {"unit_id": "dn-bh-tp", "name": "Phường Tân Phong", "parent_id": "dn-bh", "level": "commune"},
    {"unit_id": "dn-lk", "name": "Thành phố Long Khánh", "parent_id": "dn", "level": "district"},
]
ACCOUNTS = [
    ("adm", "admin", None),
    ("cb-bh", "official", ["dn-bh"]),
    ("epi", "epidemiologist", None),
]


@dataclass
class Stack:
    reporter: httpx.AsyncClient
    console_for: Any  # () -> async context manager of a console client


@asynccontextmanager
async def lifespan_of(app: FastAPI) -> AsyncIterator[httpx.ASGITransport]:
    async with app.router.lifespan_context(app):
        yield httpx.ASGITransport(app=app)


@pytest.fixture
async def stack(redis_url: str, kafka_bootstrap: str, namespace: str) -> AsyncIterator[Stack]:
    common: dict[str, Any] = {
        "redis_url": redis_url,
        "kafka_bootstrap": kafka_bootstrap,
        "namespace": namespace,
        "auth_secret": SecretStr(SECRET),
        "environment": "development",
    }
    async with AsyncExitStack() as exits:
        reporter_t = await exits.enter_async_context(
            lifespan_of(create_reporter_app(ReporterSettings(**common)))
        )
        tracer_t = await exits.enter_async_context(
            lifespan_of(create_tracer_app(TracerSettings(**common, tracer_worker=False)))
        )
        reporter = await exits.enter_async_context(
            httpx.AsyncClient(transport=reporter_t, base_url="http://reporter", timeout=30)
        )
        await _until(lambda: _status(reporter, "/readyz"), 200)
        admin = {"Authorization": "Bearer " + mint_staff_token(SECRET, "root", "admin")}
        for unit in UNITS:
            assert (await reporter.post("/v1/units", json=unit, headers=admin)).status_code == 201
        for staff_id, role, units in ACCOUNTS:
            body: dict[str, Any] = {
                "staff_id": staff_id,
                "name": f"Cán bộ {staff_id}",
                "role": role,
            }
            body |= {"password": PASSWORD} | ({"units": units} if units else {})
            assert (await reporter.post("/v1/staff", json=body, headers=admin)).status_code == 201

        @asynccontextmanager
        async def console_for(
            tracer_down: bool = False,
        ) -> AsyncIterator[httpx.AsyncClient]:
            transports: dict[str, httpx.AsyncBaseTransport] = {"reporter": reporter_t}
            if not tracer_down:
                transports["tracer"] = tracer_t
            settings = ConsoleSettings(
                **common,
                console_root_unit="dn",
                tracer_url=f"http://127.0.0.1:{free_port()}" if tracer_down else "http://tracer",
                reporter_url="http://reporter",
            )
            app = create_console_app(settings, transports)  # type: ignore[arg-type]
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://console", timeout=30
                ) as client,
            ):
                yield client

        yield Stack(reporter=reporter, console_for=console_for)


async def _status(client: httpx.AsyncClient, path: str) -> int:
    return (await client.get(path)).status_code


async def _until(check: Any, expected: Any, timeout_s: float = 60.0) -> float:
    started = time.monotonic()
    while await check() != expected:
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not {expected!r} in time")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def sign_in(
    console: httpx.AsyncClient, staff_id: str, password: str = PASSWORD
) -> httpx.Response:
    form = await console.get("/signin")
    return await console.post(
        "/signin",
        data={"csrf": csrf_of(form.text), "staff_id": staff_id, "password": password},
    )


async def test_signing_in_sets_a_strict_httponly_session_and_lands_by_role(stack: Stack) -> None:
    async with stack.console_for() as console:
        assert (await console.get("/compliance")).headers["location"].startswith("/signin?next=")
        answer = await sign_in(console, "adm")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/compliance"
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "eyJ" not in cookie  # the token stays on the server
        page = await console.get("/compliance")
        assert page.status_code == 200
        assert "Tỉnh Đồng Nai" in page.text
        assert page.headers["content-security-policy"] == CSP
        assert "<script>" not in page.text
        assert " style=" not in page.text
        # sign out: the session is gone at once
        out = await console.post("/signout", data={"csrf": csrf_of(page.text)})
        assert out.headers["location"] == "/signin?reason=signed_out"
        assert (await console.get("/compliance")).status_code == 303


async def test_wrong_credentials_and_missing_csrf_are_refused(stack: Stack) -> None:
    async with stack.console_for() as console:
        wrong = await sign_in(console, "adm", "not the password!")
        assert wrong.status_code == 401
        assert "Mã cán bộ hoặc mật khẩu không đúng" in wrong.text
        forged = await console.post("/signin", data={"staff_id": "adm", "password": PASSWORD})
        assert forged.status_code == 403
        assert "session" not in forged.headers.get("set-cookie", "")


async def test_admin_compliance_with_children_history_and_csv(stack: Stack) -> None:
    async with stack.console_for() as console:
        await sign_in(console, "adm")
        data = (await console.get("/compliance?unit_id=dn&format=json")).json()
        assert data["unit"]["name"] == "Tỉnh Đồng Nai"
        assert sorted(c["name"] for c in data["children"]) == [
            "Thành phố Biên Hòa",
            "Thành phố Long Khánh",
        ]
        assert len(data["history"]) == 30
        assert data["history"][-1]["date"] == data["date"]
        down = (await console.get("/compliance?unit_id=dn-bh-tp&format=json")).json()
        assert [u["unit_id"] for u in down["lineage"]] == ["dn", "dn-bh"]
        day = data["date"]
        csv = await console.get(f"/compliance.csv?unit_id=dn&from={day}&to={day}")
        assert csv.status_code == 200
        assert csv.headers["content-type"].startswith("text/csv")
        assert len(csv.text.strip().splitlines()) == 1 + len(UNITS)


async def test_an_official_sees_only_their_units(stack: Stack) -> None:
    async with stack.console_for() as console:
        await sign_in(console, "cb-bh")
        mine = (await console.get("/compliance?format=json")).json()
        assert mine["unit_id"] == "dn-bh"
        assert [c["unit_id"] for c in mine["children"]] == ["dn-bh-tp"]
        assert mine["lineage"] == []  # the province is above their units
        outside = await console.get("/compliance?unit_id=dn-lk")
        assert outside.status_code == 403
        assert "Thành phố Long Khánh" not in outside.text
        assert "nằm ngoài phạm vi" in outside.text
        assert (
            await console.get("/compliance.csv?unit_id=dn&from=2026-01-01&to=2026-01-01")
        ).status_code == 403
        assert (await console.get("/persons")).status_code == 403
        assert (await console.get("/staff")).status_code == 403


async def test_an_epidemiologist_reads_visits_and_exposures(stack: Stack) -> None:
    async with stack.console_for() as console:
        answer = await sign_in(console, "epi")
        assert answer.headers["location"] == "/persons"
        found = await console.get("/persons?person_id=p-000123")
        assert found.headers["location"] == "/persons/p-000123"
        visits = (await console.get("/persons/p-000123?format=json")).json()
        assert visits["visits"] == []
        exposures = (await console.get("/persons/p-000123/exposures?depth=2&format=json")).json()
        assert exposures["depth"] == 2
        assert exposures["contacts"] == []
        page = await console.get("/persons/p-000123/exposures?depth=2")
        assert "<svg" in page.text
        form = {"csrf": csrf_of(page.text), "person_id": "p-000123"}
        opened = await console.post(
            "/cases", data=form | {"infectious_from": "2026-01-01", "infectious_to": "2026-01-03"}
        )
        assert opened.status_code == 303
        case_path = opened.headers["location"]

        async def status() -> str:
            answer: str = (await console.get(f"{case_path}?format=json")).json()["status"]
            return answer

        await _until(status, "done")
        venue = (await console.get("/venues/v-1?format=json")).json()
        assert venue["present"] == 0
        assert venue["visits"] == []
        assert (await console.get("/venues?venue_id=v-1")).headers["location"] == "/venues/v-1"
        assert (await console.get("/compliance")).status_code == 403


async def test_a_disabled_account_is_signed_out_within_5_s(stack: Stack) -> None:
    async with stack.console_for() as admin, stack.console_for() as epi:
        await sign_in(epi, "epi")
        assert (await epi.get("/persons/p-1?format=json")).status_code == 200
        await sign_in(admin, "adm")
        page = await admin.get("/staff")
        assert "cb-bh" in page.text
        disabled = await admin.post("/staff/epi/disable", data={"csrf": csrf_of(page.text)})
        assert disabled.status_code == 303
        listed = (await admin.get("/staff?format=json")).json()["staff"]
        assert {a["staff_id"]: a["disabled"] for a in listed}["epi"] is True

        async def epi_page() -> int:
            status: int = (await epi.get("/persons/p-1?format=json")).status_code
            return status

        assert await _until(epi_page, 303, timeout_s=5.0) < 5.0


async def test_an_admin_creates_an_account_in_the_console(stack: Stack) -> None:
    async with stack.console_for() as console:
        await sign_in(console, "adm")
        page = await console.get("/staff")
        form = {"csrf": csrf_of(page.text), "staff_id": "epi-2", "name": "Phạm Thị D"}
        created = await console.post(
            "/staff", data=form | {"role": "epidemiologist", "password": PASSWORD}
        )
        assert created.headers["location"] == "/staff?created=epi-2"
        short = await console.post("/staff", data=form | {"role": "official", "password": "short"})
        assert short.status_code == 422
        assert "Không thực hiện được" in short.text


async def test_a_service_down_shows_a_message_not_an_error(stack: Stack) -> None:
    async with stack.console_for(tracer_down=True) as console:
        await sign_in(console, "epi")
        page = await console.get("/persons/p-1")
        assert page.status_code == 503
        assert "Dịch vụ tạm thời không khả dụng" in page.text
        assert "dịch vụ truy vết" in page.text
        assert "Traceback" not in page.text
        assert (await console.get("/readyz")).status_code == 503


async def test_english_is_one_click_away(stack: Stack) -> None:
    async with stack.console_for() as console:
        assert "Đăng nhập" in (await console.get("/signin")).text
        switched = await console.get("/lang/en?next=/signin")
        assert switched.headers["location"] == "/signin"
        assert "Sign in" in (await console.get("/signin")).text
