"""A query Redis cannot serve answers 503 with Retry-After, not 500 (the tracer's translations)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from scantrace_common.http import create_app
from scantrace_common.settings import CommonSettings
from scantrace_tracer.api import ERRORS, STORE_UNAVAILABLE
from scantrace_tracer.fastpipe import RedisReplyError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "error",
    [TimeoutError(), RedisConnectionError("down"), RedisReplyError("LOADING"), ConnectionError()],
)
def test_store_failures_are_503(error: Exception) -> None:
    app = create_app(
        title="t",
        settings=CommonSettings(environment="development"),
        readiness_checks={},
        translate=ERRORS,
    )

    @app.get("/q")
    async def query() -> None:
        raise error

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get("/q")

    response = asyncio.run(call())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {"error": STORE_UNAVAILABLE}
