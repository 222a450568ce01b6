"""Signed-in sessions, kept server-side in Redis; the browser holds only a random id.

The staff token never reaches the browser: a script injected into a page could not read it even
if the cookie were not HttpOnly, and signing out deletes the session at once (a token, once given
out, would live until its `exp`). Redis holds the SHA-256 of the id, not the id, so a copy of
Redis does not give anyone a usable cookie. A session lives as long as its token.

CSRF: every form carries `HMAC(key, cookie)` of the session's cookie (or, before signing in, of
an anonymous cookie), so another site can neither read nor forge it; the cookies are also
SameSite=Strict.

| key | type | holds |
|---|---|---|
| `<ns>console:session:<sha256 of the id>` | string | msgpack `Session`; expires with the token |
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final, cast

import msgspec
from redis.asyncio import Redis

SESSION_COOKIE: Final = "st_session"
ANON_COOKIE: Final = "st_anon"


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A signed-in person: their token (for the APIs) and what the pages need to know of it."""

    token: str
    staff_id: str
    role: str
    units: list[str] | None = None
    expires_at_ms: int


_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODER: Final = msgspec.msgpack.Decoder(Session)


def new_cookie_value() -> str:
    return secrets.token_urlsafe(32)


class Sessions:
    def __init__(self, redis: Redis, namespace: str, auth_secret: str) -> None:
        self._redis = redis
        self._ns = namespace
        # a key of its own, so a CSRF token is never anything else the secret signs
        self._csrf_key = hmac.new(auth_secret.encode(), b"console-csrf", hashlib.sha256).digest()

    def _key(self, cookie: str) -> str:
        return f"{self._ns}console:session:{hashlib.sha256(cookie.encode()).hexdigest()}"

    async def create(self, session: Session, now_ms: int) -> str:
        """Stores the session; returns the cookie value that names it."""
        cookie = new_cookie_value()
        ttl_ms = max(1000, session.expires_at_ms - now_ms)
        await self._redis.set(self._key(cookie), _ENCODER.encode(session), px=ttl_ms)
        return cookie

    async def get(self, cookie: str | None) -> Session | None:
        if not cookie or len(cookie) > 128:
            return None
        raw = cast("bytes | None", await self._redis.get(self._key(cookie)))
        if raw is None:
            return None
        try:
            return _DECODER.decode(raw)
        except msgspec.DecodeError:
            return None

    async def delete(self, cookie: str | None) -> None:
        if cookie and len(cookie) <= 128:
            await self._redis.delete(self._key(cookie))

    def csrf_token(self, cookie: str) -> str:
        return hmac.new(self._csrf_key, cookie.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, cookie: str | None, submitted: str | None) -> bool:
        if not cookie or not submitted:
            return False
        # compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError,
        # a 500, on a forged form field)
        return hmac.compare_digest(self.csrf_token(cookie).encode(), submitted.encode())
