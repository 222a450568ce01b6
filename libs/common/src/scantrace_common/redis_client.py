"""Redis connections and key naming shared by the services."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def connect(url: str) -> Redis:
    """A pooled asyncio client returning bytes; commands time out instead of hanging.

    Connection errors are retried a few times with backoff, so the first commands after a
    Redis restart reconnect instead of failing the request.
    """
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=5.0,
        socket_connect_timeout=2.0,
        health_check_interval=15,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


async def ping(client: Redis) -> None:
    """Raises unless Redis answers (readiness)."""
    if not await client.ping():
        raise ConnectionError("Redis did not answer PING")
