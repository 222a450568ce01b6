"""Staff and device tokens (SPEC section 2): HS256 JWTs with a role and, for officials, unit scopes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Final, Literal, cast

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from scantrace_common.errors import ApiError, error_doc
from scantrace_common.ids import is_valid_id

Role = Literal["admin", "epidemiologist", "official", "operator", "device", "venue"]
STAFF_ROLES: Final[frozenset[str]] = frozenset({"admin", "epidemiologist", "official", "operator"})
_ALGORITHM: Final = "HS256"
_DEVICE_TTL_S: Final = 365 * 24 * 3600
#: A venue owner's token (SPEC 10) lives 90 days; the owner asks for a new one after that.
VENUE_TTL_S: Final = 90 * 24 * 3600
#: A staff token lives at most 12 hours (SPEC 8: sessions at most 12 h ahead); one whose `exp`
#: lies further ahead is refused, whoever minted it.
MAX_STAFF_TTL_S: Final = 12 * 3600
#: Clock difference tolerated between the minting and the checking host.
_CLOCK_SKEW_S: Final = 60


#: The 401 of a valid token whose account an admin has disabled.
ACCOUNT_DISABLED: Final = "this staff account is disabled: ask an admin"


class AuthError(Exception):
    """The token is missing, malformed, expired or not signed by our secret."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a staff member (sub = staff id) or a device (sub = device_id, bound to person_id)."""

    sub: str
    role: Role
    units: tuple[str, ...] | None = None
    person_id: str | None = None
    #: The token's `exp` (epoch seconds): whoever caches a verified token caches it no longer.
    expires_at: int | None = None
    #: The venue a venue token (role `venue`, SPEC 10) is bound to.
    venue_id: str | None = None


def mint_staff_token(
    secret: str,
    sub: str,
    role: str,
    units: Iterable[str] | None = None,
    ttl_s: int = MAX_STAFF_TTL_S,
) -> str:
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {sorted(STAFF_ROLES)}")
    if not 0 < ttl_s <= MAX_STAFF_TTL_S:
        raise ValueError(f"a staff token lives 1 s to {MAX_STAFF_TTL_S} s")
    claims: dict[str, object] = {"sub": sub, "role": role, "exp": int(time.time()) + ttl_s}
    if units is not None:
        claims["units"] = list(units)
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def mint_device_token(secret: str, device_id: str, person_id: str) -> str:
    claims = {
        "sub": device_id,
        "role": "device",
        "pid": person_id,
        "exp": int(time.time()) + _DEVICE_TTL_S,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def mint_venue_token(secret: str, venue_id: str, ttl_s: int = VENUE_TTL_S) -> str:
    """A venue owner's token: role `venue`, claim `venue_id` (sub is the venue id too)."""
    claims = {
        "sub": venue_id,
        "role": "venue",
        "venue_id": venue_id,
        "exp": int(time.time()) + ttl_s,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def verify_token(secret: str, token: str, now: float | None = None) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[_ALGORITHM], options={"require": ["sub", "exp", "role"]}
        )
    except jwt.PyJWTError as exc:
        raise AuthError(str(exc)) from exc
    sub, role = claims.get("sub"), claims.get("role")
    if not isinstance(sub, str) or role not in STAFF_ROLES | {"device", "venue"}:
        raise AuthError("token has no valid sub or role")
    if (
        role in STAFF_ROLES
        and claims["exp"] > (now or time.time()) + MAX_STAFF_TTL_S + _CLOCK_SKEW_S
    ):
        raise AuthError(
            f"a staff token may live at most {MAX_STAFF_TTL_S // 3600} h: sign in again"
        )
    units = claims.get("units")
    if units is not None and not (
        isinstance(units, list) and all(isinstance(u, str) for u in units)
    ):
        raise AuthError("units claim must be a list of unit ids")
    person_id = claims.get("pid")
    if role == "device" and not isinstance(person_id, str):
        raise AuthError("device token has no person")
    venue_id = claims.get("venue_id")
    if role == "venue" and not (isinstance(venue_id, str) and is_valid_id(venue_id)):
        raise AuthError("venue token has no valid venue_id")
    return Principal(
        sub=sub,
        role=cast(Role, role),
        units=tuple(units) if units is not None else None,
        person_id=person_id if isinstance(person_id, str) else None,
        expires_at=int(claims["exp"]),
        venue_id=venue_id if role == "venue" and isinstance(venue_id, str) else None,
    )


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers={"WWW-Authenticate": "Bearer"})


def principal_from_request(request: Request, secret: str) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    try:
        principal = verify_token(secret, token.strip())
    except AuthError as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc
    # Set by `create_app(..., staff_tokens=True)`: a disabled account's tokens are refused
    # although their signature and `exp` are still good (scantrace_common.disabled_staff).
    disabled = getattr(request.app.state, "disabled_staff", None)
    if principal.role in STAFF_ROLES and disabled is not None and principal.sub in disabled:
        raise _unauthorized(ACCOUNT_DISABLED)
    return principal


#: Declares the bearer scheme in the OpenAPI documents of the operations that need a token. The
#: token itself is read and checked by `principal_from_request` (whose 401 says what to send).
BEARER: Final = HTTPBearer(
    auto_error=False,
    scheme_name="bearerToken",
    description="a staff token (HS256 JWT with role and, for officials, units): "
    "Authorization: Bearer <token>",
)
_Declared = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


#: The errors every operation behind `require_roles` can answer, for its OpenAPI document.
AUTH_RESPONSES: Final[dict[int | str, dict[str, object]]] = {
    401: error_doc("no bearer token, or one that is malformed, expired or not ours"),
    403: error_doc(
        "a valid token of a role that may not call this (or outside an official's units)"
    ),
}


def require_roles(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: 401 without a valid token, 403 for another role.

    Async, so FastAPI runs it on the event loop rather than in its thread pool (a hop per call).

    The secret is read from `request.app.state.auth_secret`, set by `scantrace_common.http.create_app`.
    """
    allowed = frozenset(roles)

    async def dependency(request: Request, _declared: _Declared = None) -> Principal:
        principal = principal_from_request(request, request.app.state.auth_secret)
        # for whoever audits the call (the tracer), also when the role is refused below
        request.state.principal = principal
        if principal.role not in allowed:
            raise ApiError(403, f"role {principal.role!r} may not call this endpoint")
        return principal

    return dependency


def staff_or_device(request: Request) -> Principal:
    return principal_from_request(request, request.app.state.auth_secret)


AnyPrincipal = Annotated[Principal, Depends(staff_or_device)]
