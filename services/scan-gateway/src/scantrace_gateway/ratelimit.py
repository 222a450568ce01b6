"""Token-bucket rate limits, kept in process (one set of buckets per worker).

In process rather than in Redis: a Redis round trip per request would cost more than the
rest of the hot path, and these limits stop abuse rather than meter use. A client keeps its
keep-alive connection on one worker, so its limit holds; a client spreading connections over
W workers can get at most W times its rate, which is documented in docs/gateway.md.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

SCOPES = ("device", "address", "enrol")


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float  # tokens per second
    burst: float  # bucket capacity


def parse_rate_limits(spec: str) -> dict[str, Limit]:
    """`off` -> {}; otherwise `scope=rate[:burst]` pairs separated by commas."""
    text = spec.strip().lower()
    if text in ("off", "none", "0", "false", "disabled"):
        return {}
    if text in ("on", "default", ""):
        from scantrace_gateway.settings import DEFAULT_RATE_LIMITS

        text = DEFAULT_RATE_LIMITS
    limits: dict[str, Limit] = {}
    for part in text.split(","):
        scope, sep, value = part.strip().partition("=")
        if not sep or scope not in SCOPES:
            raise ValueError(f"rate limit {part!r}: expected scope=rate[:burst], scope in {SCOPES}")
        rate_text, _, burst_text = value.partition(":")
        rate = float(rate_text)
        burst = float(burst_text) if burst_text else max(rate, 1.0)
        if not (rate > 0 and burst >= 1 and math.isfinite(rate) and math.isfinite(burst)):
            raise ValueError(f"rate limit {part!r}: rate must be > 0 and burst >= 1")
        limits[scope] = Limit(rate, burst)
    return limits


class TokenBuckets:
    """Buckets of one scope, keyed by client; the least recently used are forgotten past `capacity`."""

    __slots__ = ("_buckets", "_capacity", "_limit")

    def __init__(self, limit: Limit, capacity: int = 100_000) -> None:
        self._limit = limit
        self._capacity = capacity
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token: 0.0 when allowed, else the seconds until a token is available."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._capacity:
                self._buckets.popitem(last=False)
            bucket = [self._limit.burst, now]
            self._buckets[key] = bucket
        else:
            self._buckets.move_to_end(key)
            tokens = min(self._limit.burst, bucket[0] + (now - bucket[1]) * self._limit.rate)
            bucket[0], bucket[1] = tokens, now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self._limit.rate


class RateLimiter:
    """All scopes; a scope missing from the configuration is unlimited."""

    def __init__(self, limits: dict[str, Limit]) -> None:
        self._scopes = {scope: TokenBuckets(limit) for scope, limit in limits.items()}

    def check(self, scope: str, key: str) -> float:
        """0.0 when allowed, else seconds to wait (for `Retry-After`)."""
        buckets = self._scopes.get(scope)
        return 0.0 if buckets is None else buckets.take(key)
