"""Redis connections and key naming shared by the services."""

from __future__ import annotations

from redis.asyncio import Redis


def connect(url: str) -> Redis:
    """A pooled asyncio client returning bytes; commands time out instead of hanging."""
    return Redis.from_url(
        url,
        decode_responses=False,
        socket_timeout=5.0,
        socket_connect_timeout=2.0,
        health_check_interval=15,
    )


async def ping(client: Redis) -> None:
    """Raises unless Redis answers (readiness)."""
    if not await client.ping():
        raise ConnectionError("Redis did not answer PING")
