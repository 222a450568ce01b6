"""The app factory: health, readiness, uniform errors and the request body limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from scantrace_common.http import create_app
from scantrace_common.settings import CommonSettings

pytestmark = pytest.mark.unit


async def _failing(_: FastAPI) -> None:
    raise ConnectionError("broker unreachable")


async def _ok(_: FastAPI) -> None:
    return None


def _app(ready: bool = True) -> FastAPI:
    app = create_app(
        title="t",
        settings=CommonSettings(),
        readiness_checks={"kafka": _ok if ready else _failing, "redis": _ok},
        max_body_bytes=1000,
    )

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return app


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_health_and_readiness() -> None:
    async with _client(_app()) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
    async with _client(_app(ready=False)) as client:
        answer = await client.get("/readyz")
        assert answer.status_code == 503
        assert "broker unreachable" in answer.json()["checks"]["kafka"]


async def test_body_under_the_limit_is_read() -> None:
    async with _client(_app()) as client:
        assert (await client.post("/echo", content=b"x" * 1000)).json() == {"size": 1000}


async def test_declared_body_over_the_limit_is_refused() -> None:
    async with _client(_app()) as client:
        answer = await client.post("/echo", content=b"x" * 1001)
        assert answer.status_code == 413
        assert "error" in answer.json()


async def test_streamed_body_over_the_limit_is_refused() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"x" * 300

    async with _client(_app()) as client:
        answer = await client.post("/echo", content=chunks())
        assert answer.status_code == 413
