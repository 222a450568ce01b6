"""The per-process gateway state the routes use, and the helpers every route shares."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Container
from dataclasses import dataclass, field

from fastapi import Request

from scantrace_common.auth import AuthError, Principal, verify_token
from scantrace_gateway import metrics
from scantrace_gateway.dedup import Deduper
from scantrace_gateway.intake import BodyError
from scantrace_gateway.publisher import Publisher
from scantrace_gateway.ratelimit import RateLimiter
from scantrace_gateway.settings import MAX_BODY_BYTES, GatewaySettings

#: A verified token is trusted this long without re-checking its signature and expiry.
_TOKEN_CACHE_S = 60.0


class HttpError(Exception):
    """A refusal with a status, an `{"error": ...}` body and optional headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


class TokenCache:
    """Verified tokens for a short while: HS256 verification is the dearest step per request."""

    def __init__(self, secret: str, capacity: int = 100_000) -> None:
        self._secret = secret
        self._capacity = capacity
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def principal(self, token: str) -> Principal:
        now = time.monotonic()
        hit = self._cache.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = verify_token(self._secret, token)  # raises AuthError
        self._cache[token] = (principal, now + _TOKEN_CACHE_S)
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return principal


@dataclass
class Gateway:
    """Everything a request needs, built in the lifespan (or by a test)."""

    settings: GatewaySettings
    publisher: Publisher
    scan_deduper: Deduper
    declaration_deduper: Deduper
    limiter: RateLimiter
    verify_qr: Callable[[str], str]
    revoked: Container[str]
    tokens: TokenCache
    scans_topic: str
    declarations_topic: str
    retention_ms: int = field(init=False)
    max_future_ms: int = field(init=False)

    def __post_init__(self) -> None:
        self.retention_ms = self.settings.retention_days * 86_400_000
        self.max_future_ms = self.settings.gateway_max_future_s * 1000

    def device(self, request: Request) -> Principal:
        """The calling device: 401 without a valid token, 403 for a staff token."""
        header = request.headers.get("authorization")
        if header is None or header[:7].lower() != "bearer ":
            raise HttpError(401, "missing bearer token", {"WWW-Authenticate": "Bearer"})
        try:
            principal = self.tokens.principal(header[7:].strip())
        except AuthError as exc:
            raise HttpError(401, f"invalid token: {exc}", {"WWW-Authenticate": "Bearer"}) from None
        if principal.role != "device" or principal.person_id is None:
            raise HttpError(403, "this endpoint needs a device token")
        return principal

    def limit(self, scope: str, key: str) -> None:
        wait = self.limiter.check(scope, key)
        if wait > 0:
            metrics.RATE_LIMITED.labels(scope=scope).inc()
            raise HttpError(
                429, f"rate limit ({scope}) exceeded", {"Retry-After": str(math.ceil(wait))}
            )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyError(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
