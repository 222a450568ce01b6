"""HTTP plumbing of the live driver: aiohttp, retries on 429/5xx (honouring Retry-After), a rate cap.

aiohttp rather than httpx on purpose: on this 2-core machine the load generator shares the CPU
with the stack it drives, and for small requests aiohttp spent about a ninth of httpx's client
CPU (1,500 enrolments: 0.8 s against 7.2 s), so the figures measure the stack, not the client.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import aiohttp

RETRY_STATUSES: Final = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS: Final = 8
#: What a failed call may raise: the connection broke, or no answer in time.
HttpError: Final = (aiohttp.ClientError, asyncio.TimeoutError)


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes
    headers: Mapping[str, str]

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class RateCap:
    """Paces callers to at most `per_second` units of work (0: no cap)."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self._next = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, units: int) -> None:
        if self.per_second <= 0:
            return
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(self._next, now) + units / self.per_second
        if wait > 0:
            await asyncio.sleep(wait)


def open_session(
    concurrency: int = 32, timeout_s: float = 30.0, local_addr: str | None = None
) -> aiohttp.ClientSession:
    """A session with at most `concurrency` connections, optionally from source address `local_addr`."""
    connector = aiohttp.TCPConnector(
        limit=max(1, concurrency), local_addr=(local_addr, 0) if local_addr else None
    )
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s)
    )


def retry_after_s(headers: Mapping[str, str], attempt: int) -> float:
    try:
        return min(30.0, max(0.05, float(headers.get("retry-after", ""))))
    except ValueError:
        return min(5.0, 0.1 * (1 << attempt))


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    token: str | None = None,
    json: Any = None,
    content: bytes | None = None,
    content_type: str | None = None,
    params: Mapping[str, str | int | float] | None = None,
    attempts: int = MAX_ATTEMPTS,
) -> Reply:
    """One call, retried while the server says "later" (429/5xx) or the connection drops."""
    headers = {"accept": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    data = content
    if json is not None:
        data = jsonlib.dumps(json, ensure_ascii=False).encode()
        content_type = content_type or "application/json"
    if content_type is not None:
        headers["content-type"] = content_type
    query = {k: str(v) for k, v in (params or {}).items()}
    reply: Reply | None = None
    for attempt in range(attempts):
        try:
            async with session.request(
                method, url, headers=headers, data=data, params=query
            ) as response:
                reply = Reply(response.status, await response.read(), dict(response.headers))
        except HttpError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(min(5.0, 0.2 * (1 << attempt)))
            continue
        if reply.status_code not in RETRY_STATUSES:
            return reply
        await asyncio.sleep(retry_after_s(reply.headers, attempt))
    assert reply is not None
    return reply
