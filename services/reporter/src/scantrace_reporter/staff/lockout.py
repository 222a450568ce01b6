"""5 failed sign-ins within 15 minutes lock a staff id for 15 minutes (SPEC 8).

The counter lives in Redis, not in the process: every reporter replica must see the same
failures (an attacker would otherwise get 5 tries per replica and per restart), the counts are
short-lived by nature (key expiry does the forgetting), and they are not facts worth a Kafka event.
Unknown ids are counted and locked like real ones, so a lock does not reveal that an id exists.

| key | type | holds |
|---|---|---|
| `<ns>rp:signin-fail:<staff_id>` | zset | a member per failure, score = epoch ms; expires after the window |
| `<ns>rp:signin-lock:<staff_id>` | string | present while the id is locked (TTL = what is left of it) |
"""

from __future__ import annotations

import secrets
from typing import Final

from redis.asyncio import Redis

MAX_FAILURES: Final = 5
WINDOW_S: Final = 15 * 60
LOCK_S: Final = 15 * 60


class Lockout:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace

    def _failures(self, staff_id: str) -> str:
        return f"{self._ns}rp:signin-fail:{staff_id}"

    def _lock(self, staff_id: str) -> str:
        return f"{self._ns}rp:signin-lock:{staff_id}"

    async def locked_for(self, staff_id: str) -> int:
        """Seconds the id stays locked; 0 when it is not."""
        ttl = int(await self._redis.ttl(self._lock(staff_id)))
        return max(ttl, 0)

    async def failed(self, staff_id: str, now_ms: int) -> int:
        """Record a failure; returns the seconds of the lock it caused (0: not locked yet)."""
        key = self._failures(staff_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, 0, now_ms - WINDOW_S * 1000)
            pipe.zadd(key, {f"{now_ms}:{secrets.token_hex(4)}": now_ms})
            pipe.zcard(key)
            pipe.expire(key, WINDOW_S)
            _, _, count, _ = await pipe.execute()
        if int(count) < MAX_FAILURES:
            return 0
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._lock(staff_id), b"1", ex=LOCK_S)
            pipe.delete(key)
            await pipe.execute()
        return LOCK_S

    async def succeeded(self, staff_id: str) -> None:
        await self._redis.delete(self._failures(staff_id))
