"""The duplicate check's time-bucketed sets on a real Redis.

Marks are members of `<prefix>seen:<bucket>:<shard>` sets; a look reads only the buckets from
the item's `since_ms` on. These tests use one-second buckets so that marks land in buckets
older than the look's current one (the sleeps only make the clock cross a bucket boundary).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from scantrace_common.redis_client import connect
from scantrace_gateway.dedup import RedisDeduper

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


async def keys(redis: Redis, prefix: str) -> list[bytes]:
    return sorted([key async for key in redis.scan_iter(prefix + "*")])


async def test_a_mark_in_an_older_bucket_is_found_from_the_items_own_time(
    redis: Redis, namespace: str
) -> None:
    prefix = f"{namespace}gateway:scan:"
    deduper = RedisDeduper(redis, prefix=prefix, ttl_s=600, timeout_s=5.0, bucket_s=1)
    try:
        ids = [str(uuid.uuid4()) for _ in range(50)]
        scanned_at = int(time.time() * 1000)
        await deduper.mark(ids[:30])
        await asyncio.sleep(2.1)  # the marks' bucket is now at least two buckets old
        since = scanned_at - 300_000  # what the route passes: the scan's time minus tolerance
        assert await deduper.seen(ids, since) == [True] * 30 + [False] * 20
        assert await deduper.seen(ids) == [True] * 30 + [False] * 20  # whole TTL
        # A look from after the marks' bucket does not read it: that is the narrowing.
        assert await deduper.seen(ids, int(time.time() * 1000)) == [False] * 50
    finally:
        await deduper.close()


async def test_marks_are_sharded_sets_with_an_absolute_expiry(redis: Redis, namespace: str) -> None:
    prefix = f"{namespace}gateway:scan:"
    deduper = RedisDeduper(redis, prefix=prefix, ttl_s=600, timeout_s=5.0, bucket_s=60)
    try:
        ids = [f"{digit}{uuid.uuid4()}"[:36] for digit in "0123456789abcdefABCDEF"]
        assert await deduper.seen(ids) == [False] * len(ids)
        assert await keys(redis, prefix) == []  # looking claims nothing
        before = time.time()
        await deduper.mark([*ids, ids[0]])  # a repeat within one batch is fine
        found = await keys(redis, prefix)
        bucket = int(before // 60)
        assert {key.decode().rsplit(":", 2)[1] for key in found} <= {str(bucket), str(bucket + 1)}
        assert {key.decode().rsplit(":", 1)[1] for key in found} == set("0123456789abcdefABCDEF")
        for key in found:
            assert await redis.type(key) == b"set"
            expire_at = await redis.expiretime(key.decode())
            # The end of the key's bucket plus the TTL: every gateway sets the same instant.
            assert expire_at == (int(key.decode().rsplit(":", 2)[1]) + 1) * 60 + 600
        assert sum([await redis.scard(key) for key in found]) == len(ids)
        assert await deduper.seen(ids, int(before * 1000)) == [True] * len(ids)
    finally:
        await deduper.close()


async def test_ids_of_any_shape_stay_in_their_own_namespace(redis: Redis, namespace: str) -> None:
    """Declaration and scan ids are UUIDs, but nothing breaks the key layout if one is not:
    no id character reaches a key except a hex digit (no `{...}` hash tag by accident)."""
    prefix = f"{namespace}gateway:declaration:"
    deduper = RedisDeduper(redis, prefix=prefix, ttl_s=600, timeout_s=5.0)
    try:
        ids = ["{tag}x", "é-1", "ab", "abc", ""]
        await deduper.mark(ids)
        assert await deduper.seen([*ids, "zz"]) == [True] * len(ids) + [False]
        for key in await keys(redis, prefix):
            assert b"{" not in key
    finally:
        await deduper.close()
