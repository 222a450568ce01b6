"""What a route takes from its request: the gateway state, the calling device, the body.

FastAPI routes receive them as `Annotated` dependencies (`GatewayDep`); the fast routes
(`fastroutes.py`) skip FastAPI's dependency machinery, which costs more per request than the
whole intake, and call the same functions. Every refusal is an `ApiError`, rendered once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from scantrace_common.errors import ApiError
from scantrace_gateway.intake import Context, Format, body_format
from scantrace_gateway.settings import MAX_BODY_BYTES
from scantrace_gateway.state import Gateway


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(gateway_of)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refused with 413 as soon as it passes `limit` (never read whole first)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(slots=True)
class DeviceCall:
    """A device's intake request, authenticated and within its limits: body and judging context."""

    gateway: Gateway
    body: bytes
    fmt: Format
    ctx: Context


async def device_call(request: Request) -> DeviceCall:
    """Authenticate, rate-limit, read the body and set the context; raises `ApiError`."""
    received_at = time.time_ns() // 1_000_000
    gateway = gateway_of(request)
    principal = gateway.device(request.headers.get("authorization"))
    gateway.limit("device", principal.sub)
    gateway.limit("address", client_address(request))
    fmt = body_format(request.headers.get("content-type"))
    body = await read_body(request)
    ctx = Context(
        person_id=principal.person_id or "",
        device_id=principal.sub,
        received_at=received_at,
        min_time=received_at - gateway.retention_ms,
        max_time=received_at + gateway.max_future_ms,
        verify_qr=gateway.verify_qr,
        revoked=gateway.revoked,
    )
    return DeviceCall(gateway, body, fmt, ctx)
