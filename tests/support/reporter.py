"""A reporter app in-process against the session's Kafka and Redis, and the helpers its tests share."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

from scantrace_common.auth import mint_staff_token
from scantrace_common.qr import QrSigner, b64url_encode
from scantrace_reporter.app import create_reporter_app
from scantrace_reporter.settings import ReporterSettings

SECRET = "reporter-test-secret-0123456789abcdef"


def new_signer() -> QrSigner:
    return QrSigner.from_env_value("k1:" + b64url_encode(uuid.uuid4().bytes * 2))


def auth(role: str = "admin", units: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_staff_token(SECRET, f"{role}-1", role, units=units)}


ADMIN = auth()


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> None:
    """Eventual consistency through Kafka: poll, bounded."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.2)


@asynccontextmanager
async def running_reporter(
    *, redis_url: str, kafka_bootstrap: str, namespace: str, signer: QrSigner, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with real secrets (so the production default applies), ready to serve."""
    settings = ReporterSettings(
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        namespace=namespace,
        auth_secret=SecretStr(SECRET),
        qr_signing_key=SecretStr(
            f"{signer.key_id}:{b64url_encode(signer.private_key.private_bytes_raw())}"
        ),
        **overrides,
    )
    app = create_reporter_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://reporter", timeout=30
        ) as client,
    ):

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_until(ready)
        yield client


async def make_tree(client: httpx.AsyncClient) -> None:
    """P (province) with districts D1 and D2, and commune C1 under D1."""
    units = [
        {"unit_id": "P", "name": "Tỉnh Đồng Nai", "parent_id": None, "level": "province"},
        {"unit_id": "D1", "name": "Thành phố Biên Hòa", "parent_id": "P", "level": "district"},
        {"unit_id": "D2", "name": "Huyện Long Thành", "parent_id": "P", "level": "district"},
        {"unit_id": "C1", "name": "Phường Tân Phong", "parent_id": "D1", "level": "commune"},
    ]
    for unit in units:
        assert (await client.post("/v1/units", json=unit, headers=ADMIN)).status_code == 201


async def drop_namespace(redis: Redis, ns: str) -> None:
    """Delete every key of the namespace (registry keys and the per-day hash-tagged ones)."""
    keys = [k async for k in redis.scan_iter(match=f"{ns}*")]
    keys += [k async for k in redis.scan_iter(match=f"{{{ns}*")]
    if keys:
        await redis.delete(*keys)
