"""What every device route does first: authenticate, rate-limit, read the body, set the context."""

from __future__ import annotations

import time

from fastapi import Request

from scantrace_gateway.intake import Context, Format, body_format
from scantrace_gateway.state import Gateway, client_address, read_body


async def device_request(request: Request, gateway: Gateway) -> tuple[bytes, Format, Context]:
    """The body, its format and the judging context; raises `HttpError` or `BodyError`."""
    received_at = time.time_ns() // 1_000_000
    principal = gateway.device(request)
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
    return body, fmt, ctx
