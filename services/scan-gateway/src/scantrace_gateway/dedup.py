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
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

from redis.asyncio import Redis, RedisCluster
from redis.exceptions import RedisError

from scantrace_gateway.coalesce import Coalescer

log = logging.getLogger(__name__)


class Deduper(Protocol):
    async def seen(self, ids: Sequence[str], since_ms: int | None = None) -> list[bool]:
        """For each id, True when it was marked before. Marks nothing. `since_ms`: none of
        the ids can have been marked before this time (epoch ms); a hint that narrows the look."""
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

    async def seen(self, ids: Sequence[str], since_ms: int | None = None) -> list[bool]:
        return [id_ in self._marked for id_ in ids]

    async def mark(self, ids: Sequence[str]) -> None:
        marked = self._marked
        for id_ in ids:
            marked[id_] = None
            marked.move_to_end(id_)
        while len(marked) > self._capacity:
            marked.popitem(last=False)


def _bulk(args: Sequence[bytes]) -> bytes:
    if not args:
        return b""
    lengths = {len(arg) for arg in args}
    if len(lengths) == 1:  # keys of one prefix and UUIDs: one join, no formatting per key
        size = b"$%d\r\n" % lengths.pop()
        return size + (b"\r\n" + size).join(args) + b"\r\n"
    return b"".join([b"$%d\r\n%b\r\n" % (len(arg), arg) for arg in args])


def _command(*head: bytes, members: Sequence[str] = ()) -> bytes:
    """One RESP command. redis-py packs (and type-checks) every argument in Python, which cost
    about 2.5 µs per id, more than the rest of a scan's intake; this is a few joins."""
    packed = b"*%d\r\n" % (len(head) + len(members)) + _bulk(head)
    return packed + _members(members) if members else packed


#: Shard and bucket parts of a key are built from these only: an id's first character is used
#: as its shard when it is one of them (validated UUIDs always are).
_SHARD_CHARS = frozenset("0123456789abcdefABCDEF")

#: Gateways' clocks are taken to be within this of each other: a gateway ahead may already
#: write marks into the next bucket, so looks include it.
_CLOCK_SLACK_S = 300

#: An EXPIREAT is re-sent for a bucket key at most this often per process. The expiry is
#: absolute and the same from every gateway, so once is enough; re-sending bounds how long a
#: set recreated by SADD (after a flush or a failover) can live without one.
_EXPIRE_REFRESH_S = 10.0


def _group_by_shard(ids: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for id_ in ids:
        group = groups.get(id_[:1])
        if group is None:
            groups[id_[:1]] = [id_]
        else:
            group.append(id_)
    return groups


def _members(ids: Sequence[str]) -> bytes:
    """The RESP bulk strings of ids: one join and one encode when they all have one length and
    are ASCII (the usual case: UUIDs), otherwise one by one."""
    lengths = set(map(len, ids))
    if len(lengths) == 1:
        length = lengths.pop()
        size = f"${length}\r\n"
        packed = (size + ("\r\n" + size).join(ids) + "\r\n").encode()
        if len(packed) == len(ids) * (len(size) + length + 2):  # else not all ASCII
            return packed
    return _bulk([id_.encode() for id_ in ids])


class RedisDeduper:
    """Marks ids as members of time-bucketed sets, `<prefix>seen:<bucket>:<shard>`.

    Each bucket covers `bucket_s` of mark time and is split into shards by the id's first
    character; it expires `ttl_s` after its end, so an id is remembered between `ttl_s` and
    `ttl_s + bucket_s`. Marking is one `SADD` per shard (and an absolute `EXPIREAT` per key
    now and then); looking is one `SMISMEMBER` per shard and bucket. A key per id with its own
    expiry (`SET key 1 EX ttl`) cost Redis 4–6 µs of CPU per id; a set member costs a fraction
    of that, which matters because Redis shares the cores with the gateway.

    A look only reads the buckets that can hold the id: its first mark came after the item's
    own time minus the clock tolerance (`since_ms`), so fresh scans read one or two buckets,
    not the whole TTL. Every command has one key, so it works on Redis Cluster unchanged (the
    cluster client routes each command of a pipeline); shards spread a bucket over nodes and
    keep each set small enough to free on expiry without a long pause.

    Checks and marks of concurrent requests are batched (group commit). When Redis is slow or
    down the check fails open (every id counts as new) and a failed mark is only logged:
    intake must not stop for a best-effort feature.
    """

    def __init__(
        self,
        redis: Redis | RedisCluster,
        *,
        prefix: str,
        ttl_s: int,
        timeout_s: float,
        bucket_s: int = 7200,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._bucket_s = max(1, min(bucket_s, ttl_s))
        self._keys: dict[tuple[int, str], str] = {}
        self._expire_sent: dict[str, float] = {}
        self._checks: Coalescer[tuple[Sequence[str], int | None], list[bool]] = Coalescer(
            self._seen_batch
        )
        self._marks: Coalescer[str, None] = Coalescer(self._mark_batch)

    async def seen(self, ids: Sequence[str], since_ms: int | None = None) -> list[bool]:
        """`since_ms`: no id can have been marked before this time (epoch ms); None looks
        back the whole TTL."""
        if not ids:
            return []
        (found,) = await self._checks.submit([(ids, since_ms)])
        return found

    async def mark(self, ids: Sequence[str]) -> None:
        if ids:
            await self._marks.submit(list(ids))

    def key(self, bucket: int, shard: str) -> str:
        key = self._keys.get((bucket, shard))
        if key is None:
            part = shard if shard in _SHARD_CHARS else f"x{ord(shard):x}" if shard else "_"
            key = self._keys[(bucket, shard)] = f"{self._prefix}seen:{bucket}:{part}"
            if len(self._keys) > 10_000:  # old buckets: start again
                self._keys = {(bucket, shard): key}
        return key

    async def _raw(self, redis: Redis, packed: bytes, replies: int) -> list[Any]:
        """Send packed commands on a pooled connection and read their replies. Any failure or
        cancellation drops the connection: a half-read reply must not reach the next user."""
        pool = redis.connection_pool
        conn = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            await conn.send_packed_command(packed)
            # No read timeout per reply (the caller bounds the whole exchange): redis-py's
            # timeout context per reply cost more than the reply, dozens of them per flush.
            return [await conn.read_response(timeout=math.inf) for _ in range(replies)]
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        finally:
            await pool.release(conn)

    async def _seen_batch(
        self, requests: list[tuple[Sequence[str], int | None]]
    ) -> list[list[bool]]:
        now = time.time()
        size = self._bucket_s
        newest = int((now + _CLOCK_SLACK_S) // size)
        oldest = int((now - self._ttl_s) // size)
        by_first: dict[int, list[str]] = {}
        for ids, since_ms in requests:
            first = oldest if since_ms is None else int(since_ms // 1000 // size)
            first = min(max(first, oldest), newest)
            group = by_first.get(first)
            if group is None:
                by_first[first] = list(ids)
            else:
                group.extend(ids)
        looks = [
            (self.key(bucket, shard), members)
            for first, ids in by_first.items()
            for shard, members in _group_by_shard(ids).items()
            for bucket in range(first, newest + 1)
        ]
        redis = self._redis
        try:
            async with asyncio.timeout(self._timeout_s):
                if isinstance(redis, RedisCluster):
                    async with redis.pipeline(transaction=False) as pipe:
                        for key, members in looks:
                            pipe.smismember(key, members)
                        replies = await pipe.execute()
                else:
                    packed = b"".join(
                        [_command(b"SMISMEMBER", key.encode(), members=ids) for key, ids in looks]
                    )
                    replies = await self._raw(redis, packed, len(looks))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("duplicate check skipped, Redis failed: %s", exc)
            return [[False] * len(ids) for ids, _ in requests]
        found: set[str] = set()
        for (_, members), reply in zip(looks, replies, strict=True):
            if 1 in reply:
                found.update(m for m, hit in zip(members, reply, strict=True) if hit)
        if not found:  # the usual case: no loop per id
            return [[False] * len(ids) for ids, _ in requests]
        return [[id_ in found for id_ in ids] for ids, _ in requests]

    async def _mark_batch(self, ids: list[str]) -> list[None]:
        now = time.time()
        bucket = int(now // self._bucket_s)
        expire_at = (bucket + 1) * self._bucket_s + self._ttl_s
        adds = [
            (self.key(bucket, shard), members) for shard, members in _group_by_shard(ids).items()
        ]
        clock = time.monotonic()
        sent = self._expire_sent
        expires = [
            key for key, _ in adds if clock - sent.get(key, -_EXPIRE_REFRESH_S) >= _EXPIRE_REFRESH_S
        ]
        redis = self._redis
        try:
            async with asyncio.timeout(self._timeout_s):
                if isinstance(redis, RedisCluster):
                    async with redis.pipeline(transaction=False) as pipe:
                        for key, members in adds:
                            pipe.sadd(key, *members)
                        for key in expires:
                            pipe.expireat(key, expire_at)
                        await pipe.execute()
                else:
                    at = b"%d" % expire_at
                    packed = b"".join(
                        [_command(b"SADD", key.encode(), members=ids) for key, ids in adds]
                        + [_command(b"EXPIREAT", key.encode(), at) for key in expires]
                    )
                    await self._raw(redis, packed, len(adds) + len(expires))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not record %d ids for the duplicate check: %s", len(ids), exc)
        else:
            if len(sent) > 10_000:
                sent.clear()
            for key in expires:
                sent[key] = clock
        return [None] * len(ids)

    async def close(self) -> None:
        await self._checks.close()
        await self._marks.close()
