"""Staff accounts and sessions of SPEC 8 over HTTP, with a real Kafka and a real Redis: creation,
the view never showing a hash, sign-in, one answer for unknown ids and wrong passwords, the
lockout, disabling refused by the reporter and the tracer within 5 s, and the rebuild from
`staff.v1`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from scantrace_common.auth import MAX_STAFF_TTL_S, mint_staff_token, verify_token
from scantrace_common.timeparse import parse_time
from scantrace_reporter.app import create_reporter_app
from scantrace_reporter.settings import ReporterSettings
from scantrace_tracer.api import create_tracer_app
from scantrace_tracer.settings import TracerSettings
from tests.support.asgi import served

pytestmark = [
    pytest.mark.integration,
    # On the embedded Tansu broker an aiokafka connection of a stopped reporter is sometimes
    # collected unclosed during a later test's teardown (seen once in the Tansu tier); to be found
    # and closed (closing note of 2026-12-04).
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

SECRET = "staff-test-secret-0123456789abcdef0123"
PASSWORD = "correct horse battery"
#: SPEC 8: a disabled account's tokens are refused by every service within this.
DISABLE_DEADLINE_S = 5.0


@asynccontextmanager
async def reporter(
    redis_url: str, kafka_bootstrap: str, namespace: str, group_prefix: str = "reporter"
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ReporterSettings(
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        namespace=namespace,
        auth_secret=SecretStr(SECRET),
        environment="development",
        reporter_group_prefix=group_prefix,
    )
    async with served(create_reporter_app(settings), "http://reporter") as client:
        await wait_until(lambda: _ready(client))
        yield client


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float = 60.0) -> float:
    """Polls until `check` holds; returns the seconds it took (bounded)."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout_s:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


@pytest.fixture
async def client(
    redis_url: str, kafka_bootstrap: str, namespace: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with reporter(redis_url, kafka_bootstrap, namespace) as test_client:
        yield test_client


def admin() -> dict[str, str]:
    return {"Authorization": "Bearer " + mint_staff_token(SECRET, "root", "admin")}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


async def add(
    client: httpx.AsyncClient, staff_id: str, role: str = "epidemiologist", **extra: Any
) -> httpx.Response:
    body = {"staff_id": staff_id, "name": f"Cán bộ {staff_id}", "role": role, "password": PASSWORD}
    return await client.post("/v1/staff", json=body | extra, headers=admin())


async def sign_in(
    client: httpx.AsyncClient, staff_id: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/v1/sessions", json={"staff_id": staff_id, "password": password})


async def test_accounts_are_created_listed_and_never_show_a_hash(client: httpx.AsyncClient) -> None:
    created = await add(client, "cb-bh", role="official", units=["dn-bh"])
    assert created.status_code == 201, created.text
    assert created.json()["units"] == ["dn-bh"]
    assert (await add(client, "cb-bh")).status_code == 409
    listed = await client.get("/v1/staff", headers=admin())
    one = await client.get("/v1/staff/cb-bh", headers=admin())
    for text in (created.text, listed.text, one.text):
        assert "argon2" not in text
        assert "password" not in text
    assert [a["staff_id"] for a in listed.json()["staff"]] == ["cb-bh"]
    assert one.json()["disabled"] is False
    assert (await client.get("/v1/staff/nobody", headers=admin())).status_code == 404


async def test_creation_is_validated_and_for_admins_only(client: httpx.AsyncClient) -> None:
    assert (await add(client, "short", password="eleven chrs")).status_code == 422
    assert (await add(client, "bad id")).status_code == 422
    assert (await add(client, "r", role="superuser")).status_code == 422
    epi = mint_staff_token(SECRET, "epi", "epidemiologist")
    body = {"staff_id": "x", "name": "X", "role": "admin", "password": PASSWORD}
    assert (await client.post("/v1/staff", json=body, headers=bearer(epi))).status_code == 403
    assert (await client.post("/v1/staff", json=body)).status_code == 401
    assert (await client.get("/v1/staff", headers=bearer(epi))).status_code == 403


async def test_a_session_is_a_staff_token_of_the_account(client: httpx.AsyncClient) -> None:
    await add(client, "cb-1", role="official", units=["dn-a", "dn-b"])
    answer = await sign_in(client, "cb-1")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    principal = verify_token(SECRET, body["token"])
    assert (principal.sub, principal.role, principal.units) == (
        "cb-1",
        "official",
        ("dn-a", "dn-b"),
    )
    lifetime_s = parse_time(body["expires_at"]) / 1000 - time.time()
    assert 8 * 3600 - 60 < lifetime_s <= 8 * 3600 <= MAX_STAFF_TTL_S
    assert body["expires_at"].endswith("Z")


async def test_unknown_id_and_wrong_password_get_one_answer(client: httpx.AsyncClient) -> None:
    await add(client, "epi-1")
    wrong = await sign_in(client, "epi-1", "not the password at all")
    unknown = await sign_in(client, "nobody-here", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_five_failures_lock_the_account(client: httpx.AsyncClient) -> None:
    await add(client, "epi-2")
    statuses = [(await sign_in(client, "epi-2", "wrong password!")).status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    locked = await sign_in(client, "epi-2")  # the right password, during the lock
    assert locked.status_code == 429
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    # unknown ids lock alike, so a lock tells nothing about an id's existence
    unknown = [(await sign_in(client, "ghost", "wrong password!")).status_code for _ in range(5)]
    assert unknown == statuses


async def test_a_success_forgets_earlier_failures(client: httpx.AsyncClient) -> None:
    await add(client, "epi-3")
    for _ in range(4):
        assert (await sign_in(client, "epi-3", "wrong password!")).status_code == 401
    assert (await sign_in(client, "epi-3")).status_code == 201
    for _ in range(4):
        assert (await sign_in(client, "epi-3", "wrong password!")).status_code == 401


async def test_disabled_accounts_are_refused_by_the_reporter_within_5_s(
    client: httpx.AsyncClient,
) -> None:
    await add(client, "adm-2", role="admin")
    token = (await sign_in(client, "adm-2")).json()["token"]
    assert (await client.get("/v1/staff", headers=bearer(token))).status_code == 200
    # a token minted by `scantrace token` for that id is refused as well
    minted = mint_staff_token(SECRET, "adm-2", "admin")
    assert (await client.delete("/v1/staff/nobody", headers=admin())).status_code == 404
    disabled = await client.delete("/v1/staff/adm-2", headers=admin())
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True

    async def refused() -> bool:
        answers = [await client.get("/v1/staff", headers=bearer(t)) for t in (token, minted)]
        return all(a.status_code == 401 for a in answers)

    assert await wait_until(refused, timeout_s=DISABLE_DEADLINE_S) < DISABLE_DEADLINE_S
    assert "disabled" in (await client.get("/v1/staff", headers=bearer(token))).json()["error"]
    assert (await sign_in(client, "adm-2")).status_code == 401


async def test_an_admin_cannot_disable_themselves(client: httpx.AsyncClient) -> None:
    await add(client, "adm-3", role="admin")
    token = mint_staff_token(SECRET, "adm-3", "admin")
    assert (await client.delete("/v1/staff/adm-3", headers=bearer(token))).status_code == 409


async def test_disabled_accounts_are_refused_by_the_tracer_within_5_s(
    client: httpx.AsyncClient, redis_url: str, kafka_bootstrap: str, namespace: str
) -> None:
    settings = TracerSettings(
        redis_url=redis_url,
        kafka_bootstrap=kafka_bootstrap,
        namespace=namespace,
        auth_secret=SecretStr(SECRET),
        environment="development",
        tracer_worker=False,
    )
    async with served(create_tracer_app(settings), "http://tracer") as tracer:
        await add(client, "epi-9")
        token = (await sign_in(client, "epi-9")).json()["token"]
        path = "/v1/persons/p-1/visits?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"
        assert (await tracer.get(path, headers=bearer(token))).status_code == 200
        assert (await client.delete("/v1/staff/epi-9", headers=admin())).status_code == 200

        async def refused() -> bool:
            return (await tracer.get(path, headers=bearer(token))).status_code == 401

        assert await wait_until(refused, timeout_s=DISABLE_DEADLINE_S) < DISABLE_DEADLINE_S


async def test_accounts_are_rebuilt_from_staff_v1(
    redis_url: str, kafka_bootstrap: str, namespace: str
) -> None:
    async with reporter(redis_url, kafka_bootstrap, namespace) as first:
        await add(first, "epi-a")
        await add(first, "epi-b")
        await first.delete("/v1/staff/epi-b", headers=admin())
    from scantrace_common.redis_client import connect

    redis = connect(redis_url)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{namespace}*")]
        await redis.delete(*keys)
    finally:
        await redis.aclose()
    async with reporter(redis_url, kafka_bootstrap, namespace, group_prefix="rebuilt") as second:
        listed = (await second.get("/v1/staff", headers=admin())).json()["staff"]
        assert [(a["staff_id"], a["disabled"]) for a in listed] == [
            ("epi-a", False),
            ("epi-b", True),
        ]
        assert (await sign_in(second, "epi-a")).status_code == 201
        assert (await sign_in(second, "epi-b")).status_code == 401
