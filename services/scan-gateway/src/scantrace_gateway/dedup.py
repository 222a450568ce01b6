"""Best-effort duplicate detection of scan and declaration ids (downstream dedups in any case).

Two steps, so that a crash can never turn a lost item into a "duplicate": `seen` only looks
(claims nothing) before the items are published, and `mark` records the ids only after they
are durable (Kafka acks or the fsynced spool). A gateway that dies in between has marked
nothing, so the phone's retry is accepted and stored. The price: two identical requests
arriving at the same time may both be published; SPEC section 3 makes duplicates best effort
at the gateway and every consumer deduplicates by id.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import NoScriptError, RedisError

from scantrace_gateway.coalesce import Coalescer

log = logging.getLogger(__name__)


class Deduper(Protocol):
    async def seen(self, ids: Sequence[str]) -> list[bool]:
        """For each id, True when it was marked before. Marks nothing."""
        ...

    async def mark(self, ids: Sequence[str]) -> None:
        """Remember ids whose items are now durable."""
        ...


def first_occurrences(ids: Sequence[str], seen: Sequence[bool]) -> list[bool]:
    """For each id, True when it is new: not `seen` before and not earlier in `ids` itself
    (an id repeated inside one request is a duplicate of its first occurrence)."""
    here: set[str] = set()
    fresh: list[bool] = []
    for id_, was_seen in zip(ids, seen, strict=True):
        if was_seen or id_ in here:
            fresh.append(False)
        else:
            here.add(id_)
            fresh.append(True)
    return fresh


class LocalDeduper:
    """An in-process LRU of recent ids: one worker's memory only (unit tests, no Redis)."""

    def __init__(self, capacity: int = 500_000) -> None:
        self._marked: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    async def seen(self, ids: Sequence[str]) -> list[bool]:
        return [id_ in self._marked for id_ in ids]

    async def mark(self, ids: Sequence[str]) -> None:
        marked = self._marked
        for id_ in ids:
            marked[id_] = None
            marked.move_to_end(id_)
        while len(marked) > self._capacity:
            marked.popitem(last=False)


#: Marks every key it is given; the keys come as KEYS (none is built inside the script), which
#: Redis Cluster requires. One command for a whole batch: a pipeline of one SET per id cost
#: about ten times more client CPU per id (redis-py parses each reply on its own).
_MARK_SCRIPT = """
for i = 1, #KEYS do redis.call('SET', KEYS[i], '1', 'EX', ARGV[1]) end
return #KEYS
"""


_MARK_SHA = hashlib.sha1(_MARK_SCRIPT.encode(), usedforsecurity=False).hexdigest().encode()


def _bulk(args: Sequence[bytes]) -> bytes:
    if not args:
        return b""
    lengths = {len(arg) for arg in args}
    if len(lengths) == 1:  # keys of one prefix and UUIDs: one join, no formatting per key
        size = b"$%d\r\n" % lengths.pop()
        return size + (b"\r\n" + size).join(args) + b"\r\n"
    return b"".join([b"$%d\r\n%b\r\n" % (len(arg), arg) for arg in args])


def _pack(head: Sequence[bytes], keys: Sequence[bytes], tail: Sequence[bytes] = ()) -> bytes:
    """One RESP command. redis-py packs (and type-checks) every argument in Python, which cost
    about 2.5 µs per key, more than the rest of a scan's intake; this is a few joins."""
    count = len(head) + len(keys) + len(tail)
    return b"*%d\r\n" % count + _bulk(head) + _bulk(keys) + _bulk(tail)


class RedisDeduper:
    """Looks ids up with `MGET` before publishing; sets `<prefix><id>` with the TTL after.

    Every key is passed to Redis as a key, so it works on Redis Cluster: there the look is
    split by slot (`mget_nonatomic`) and the mark is a pipeline of `SET key 1 EX ttl` that the
    cluster client routes key by key; on a single Redis the mark is one script call over all
    the keys. Checks and marks of concurrent requests are batched (group commit): one round
    trip per batch. Shared by all workers and gateways. When Redis is slow or down the check
    fails open (every id counts as new) and a failed mark is only logged: intake must not
    stop for a best-effort feature.
    """

    def __init__(
        self, redis: Redis | RedisCluster, *, prefix: str, ttl_s: int, timeout_s: float
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._checks: Coalescer[str, bool] = Coalescer(self._seen_batch)
        self._marks: Coalescer[str, None] = Coalescer(self._mark_batch)
        self._mark_script = (
            None if isinstance(redis, RedisCluster) else redis.register_script(_MARK_SCRIPT)
        )

    async def seen(self, ids: Sequence[str]) -> list[bool]:
        if not ids:
            return []
        return await self._checks.submit(list(ids))

    async def mark(self, ids: Sequence[str]) -> None:
        if ids:
            await self._marks.submit(list(ids))

    async def _raw(self, redis: Redis, packed: bytes) -> Any:
        """Send a packed command on a pooled connection and read its reply. Any failure or
        cancellation drops the connection: a half-read reply must not reach the next user."""
        pool = redis.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.send_packed_command(packed)
            return await conn.read_response()
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        finally:
            await pool.release(conn)

    async def _seen_batch(self, ids: list[str]) -> list[bool]:
        prefix = self._prefix
        redis = self._redis
        try:
            async with asyncio.timeout(self._timeout_s):
                if isinstance(redis, RedisCluster):
                    values = await redis.mget_nonatomic([prefix + id_ for id_ in ids])
                else:
                    keys = [(prefix + id_).encode() for id_ in ids]
                    values = await self._raw(redis, _pack((b"MGET",), keys))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("duplicate check skipped, Redis failed: %s", exc)
            return [False] * len(ids)
        return [value is not None for value in values]

    async def _mark_batch(self, ids: list[str]) -> list[None]:
        prefix = self._prefix
        keys = [prefix + id_ for id_ in dict.fromkeys(ids)]  # a batch may repeat an id
        redis = self._redis
        try:
            async with asyncio.timeout(self._timeout_s):
                if isinstance(redis, RedisCluster):
                    async with redis.pipeline(transaction=False) as pipe:
                        for key in keys:
                            pipe.set(key, b"1", ex=self._ttl_s)
                        await pipe.execute()
                else:
                    head = (b"EVALSHA", _MARK_SHA, b"%d" % len(keys))
                    packed = _pack(head, [key.encode() for key in keys], (b"%d" % self._ttl_s,))
                    try:
                        await self._raw(redis, packed)
                    except NoScriptError:  # first use on this server: redis-py loads it
                        assert self._mark_script is not None
                        await self._mark_script(keys=keys, args=[self._ttl_s])
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not record %d ids for the duplicate check: %s", len(ids), exc)
        return [None] * len(ids)

    async def close(self) -> None:
        await self._checks.close()
        await self._marks.close()
