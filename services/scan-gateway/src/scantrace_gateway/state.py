"""The per-process gateway state the routes use: clients, limits, the verified-token cache."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from scantrace_common.auth import AuthError, Principal, verify_token
from scantrace_common.errors import ApiError
from scantrace_common.ids import is_valid_id
from scantrace_gateway import metrics
from scantrace_gateway.dedup import Deduper
from scantrace_gateway.publisher import Publisher
from scantrace_gateway.ratelimit import RateLimiter
from scantrace_gateway.revocations import Revocations
from scantrace_gateway.settings import GatewaySettings

#: A verified token is trusted this long without re-checking its signature (never past its `exp`).
_TOKEN_CACHE_S = 60.0


class TokenCache:
    """Verified tokens for a short while: HS256 verification is the dearest step per request.

    An entry lives until min(60 s, the token's `exp`), so an expired token is never accepted
    (finding 10). A device token whose person or device is not an id (minted before ids were
    checked whole, finding 7) is refused: scans judged against it would carry that id.
    """

    def __init__(self, secret: str, capacity: int = 100_000) -> None:
        self._secret = secret
        self._capacity = capacity
        self._cache: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    def principal(self, token: str) -> Principal:
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = verify_token(self._secret, token)  # raises AuthError
        if principal.role == "device" and not (
            is_valid_id(principal.sub) and is_valid_id(principal.person_id or "")
        ):
            raise AuthError("its device or person is not a valid id: enrol again")
        expires_at = now + _TOKEN_CACHE_S
        if principal.expires_at is not None:
            expires_at = min(expires_at, principal.expires_at)
        self._cache[token] = (principal, expires_at)
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
    revoked: Revocations
    tokens: TokenCache
    scans_topic: str
    declarations_topic: str
    retention_ms: int = field(init=False)
    max_future_ms: int = field(init=False)

    def __post_init__(self) -> None:
        self.retention_ms = self.settings.retention_ms
        self.max_future_ms = self.settings.gateway_max_future_s * 1000

    def device(self, authorization: str | None) -> Principal:
        """The calling device: 401 without a valid token, 403 for a staff token."""
        if authorization is None or authorization[:7].lower() != "bearer ":
            raise ApiError(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        try:
            principal = self.tokens.principal(authorization[7:].strip())
        except AuthError as exc:
            raise ApiError(
                401, f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}
            ) from None
        if principal.role != "device" or principal.person_id is None:
            raise ApiError(403, "this endpoint needs a device token")
        return principal

    def limit(self, scope: str, key: str) -> None:
        wait = self.limiter.check(scope, key)
        if wait > 0:
            metrics.RATE_LIMITED.labels(scope=scope).inc()
            raise ApiError(429, f"rate limit ({scope}) exceeded", retry_after_s=math.ceil(wait))

    def require_revocations(self) -> None:
        """503 until the revocations of `venues.v1` were read to their end (finding 8)."""
        if not self.revoked.caught_up:
            raise ApiError(
                503,
                "the gateway is still reading venue revocations after its start: retry shortly",
                retry_after_s=1,
            )
