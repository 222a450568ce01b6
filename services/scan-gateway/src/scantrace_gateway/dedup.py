"""Best-effort duplicate detection of scan and declaration ids (downstream dedups in any case).

`claim` marks ids as seen and says which were new; `release` forgets ids whose request failed
with a 503, so the phone's retry is not taken for a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from scantrace_gateway.coalesce import Coalescer

log = logging.getLogger(__name__)


class Deduper(Protocol):
    async def claim(self, ids: Sequence[str]) -> list[bool]:
        """For each id, True when it was not seen before (and is now marked seen)."""
        ...

    async def release(self, ids: Sequence[str]) -> None: ...


class LocalDeduper:
    """An in-process LRU of recent ids: one worker's memory only."""

    def __init__(self, capacity: int = 500_000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    async def claim(self, ids: Sequence[str]) -> list[bool]:
        return self.claim_now(ids)

    def claim_now(self, ids: Sequence[str]) -> list[bool]:
        seen = self._seen
        fresh: list[bool] = []
        for id_ in ids:
            if id_ in seen:
                fresh.append(False)
                continue
            seen[id_] = None
            fresh.append(True)
        while len(seen) > self._capacity:
            seen.popitem(last=False)
        return fresh

    async def release(self, ids: Sequence[str]) -> None:
        for id_ in ids:
            self._seen.pop(id_, None)


#: One round trip and one command for a whole batch: the ids come as one string of fixed-width
#: (36-character UUID) ids, since redis-py packs each argument in Python at a cost that
#: dominated the batch path. Runs SET NX EX per id and answers "1" (new) / "0" (seen) per id.
#: The keys are built inside the script, so this suits a single Redis (not Redis Cluster).
_ID_WIDTH = 36
_CLAIM_SCRIPT = """
local prefix, ttl, ids, width = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local out = {}
for i = 1, #ids, width do
  local key = prefix .. string.sub(ids, i, i + width - 1)
  if redis.call('SET', key, '1', 'NX', 'EX', ttl) then out[#out + 1] = '1' else out[#out + 1] = '0' end
end
return table.concat(out)
"""


class RedisDeduper:
    """`SET key 1 NX EX ttl` for every id, batched over concurrent requests into one script call.

    Shared by all workers and gateways. When Redis is slow or down the check fails open
    (every id counts as new): intake must not stop for a best-effort feature.
    """

    def __init__(self, redis: Redis, *, prefix: str, ttl_s: int, timeout_s: float) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._coalescer: Coalescer[str, bool] = Coalescer(self._claim_batch)
        self._script = redis.register_script(_CLAIM_SCRIPT)

    async def claim(self, ids: Sequence[str]) -> list[bool]:
        if not ids:
            return []
        if any(len(id_) != _ID_WIDTH for id_ in ids):  # intake lets only UUIDs through
            raise ValueError("RedisDeduper takes 36-character UUIDs only")
        return await self._coalescer.submit(list(ids))

    async def _claim_batch(self, ids: list[str]) -> list[bool]:
        try:
            async with asyncio.timeout(self._timeout_s):
                answer = await self._script(
                    keys=[], args=[self._prefix, self._ttl_s, "".join(ids), _ID_WIDTH]
                )
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("duplicate check skipped, Redis failed: %s", exc)
            return [True] * len(ids)
        return [flag == 49 for flag in answer]  # b"1"

    async def release(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._redis.delete(*(self._prefix + id_ for id_ in ids))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not release ids after a failed request: %s", exc)

    async def close(self) -> None:
        await self._coalescer.close()
