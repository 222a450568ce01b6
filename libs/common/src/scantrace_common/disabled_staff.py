"""Disabled staff accounts, as every service that admits staff tokens sees them (SPEC 8).

A staff token is a self-contained JWT: disabling an account cannot recall the tokens it holds, so
each service refuses tokens whose `sub` is a disabled account. The reporter keeps the Redis set
`<ns>staff:disabled` (written when it disables an account, rebuilt from `staff.v1`); each service
reads the whole set every `interval_s` seconds into memory, so checking a token costs no round
trip and a disabled account is refused everywhere within `interval_s` plus one Redis call.

When Redis does not answer, the last set read stays in force (an outage must not lock every
epidemiologist out, nor re-admit anyone disabled before it); the failure is logged once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from scantrace_common.redis_client import connect

log = logging.getLogger(__name__)

#: Seconds between two reads of the set: with the reporter's write and one read, well within
#: the 5 s of SPEC 8.
DEFAULT_INTERVAL_S: Final = 1.0


def disabled_staff_key(namespace: str) -> str:
    """The Redis set of disabled staff ids (written by the reporter only)."""
    return f"{namespace}staff:disabled"


class DisabledStaff:
    """The set of disabled staff ids, refreshed in the background; `sub in disabled` to check."""

    def __init__(
        self, redis: Redis, namespace: str, interval_s: float = DEFAULT_INTERVAL_S
    ) -> None:
        self._redis = redis
        self._key = disabled_staff_key(namespace)
        self._interval_s = interval_s
        self._ids: frozenset[str] = frozenset()
        self._failing = False

    def __contains__(self, staff_id: object) -> bool:
        return staff_id in self._ids

    async def refresh(self) -> None:
        """Read the set once; on failure keep the last one (see the module's docstring)."""
        try:
            members = await self._redis.smembers(self._key)
        except (RedisError, OSError) as exc:
            if not self._failing:
                log.warning("disabled staff not refreshed (keeping the last list): %s", exc)
            self._failing = True
            return
        if self._failing:
            log.info("disabled staff refreshed again")
        self._failing = False
        self._ids = frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.refresh()


@contextlib.asynccontextmanager
async def watching(
    redis_url: str, namespace: str, interval_s: float = DEFAULT_INTERVAL_S
) -> AsyncIterator[DisabledStaff]:
    """A `DisabledStaff` read once before it is yielded (no window at start-up), then kept fresh."""
    redis = connect(redis_url)
    disabled = DisabledStaff(redis, namespace, interval_s)
    await disabled.refresh()
    task = asyncio.create_task(disabled.run(), name="disabled-staff")
    try:
        yield disabled
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await redis.aclose()
