"""POST /v1/declarations: a daily health declaration from a device."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from scantrace_gateway import metrics
from scantrace_gateway.intake import (
    BodyError,
    Context,
    Invalid,
    body_format,
    decode_declaration,
)
from scantrace_gateway.openapi import (
    DECLARATION_BODY,
    DEVICE_TOKEN,
    intake_errors,
    json_content,
    request_body,
)
from scantrace_gateway.publisher import Unavailable
from scantrace_gateway.responses import error, intake_result
from scantrace_gateway.state import HttpError, client_address, gateway_of, read_body

router = APIRouter(tags=["declarations"])


@router.post(
    "/v1/declarations",
    status_code=202,
    summary="Submit a daily health declaration",
    openapi_extra={"requestBody": request_body(DECLARATION_BODY), "security": DEVICE_TOKEN},
    responses={
        202: {"description": "durable; `rejected` is always empty", **json_content("IntakeResult")},
        **intake_errors(too_large="body over 1 MiB", invalid="invalid declaration"),
    },
)
async def post_declaration(request: Request) -> Response:
    gateway = gateway_of(request)
    received_at = time.time_ns() // 1_000_000
    try:
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
        declaration_id, record = decode_declaration(body, fmt, ctx, gateway.declarations_topic)
    except HttpError as exc:
        return error(exc.status, str(exc), exc.headers)
    except BodyError as exc:
        return error(exc.status, str(exc))
    except Invalid as exc:
        metrics.DECLARATIONS.labels(outcome="rejected").inc()
        return error(422, str(exc))

    # Look only; the id is marked after the publish made it durable (see dedup.py).
    (seen,) = await gateway.declaration_deduper.seen([declaration_id])
    if seen:
        metrics.DECLARATIONS.labels(outcome="duplicate").inc()
        return intake_result(0, 1, [])
    try:
        await gateway.publisher.publish([record])
    except Unavailable as exc:
        return error(
            503, f"cannot store the declaration now: {exc}", {"Retry-After": str(exc.retry_after_s)}
        )
    await gateway.declaration_deduper.mark([declaration_id])
    metrics.DECLARATIONS.labels(outcome="accepted").inc()
    return intake_result(1, 0, [])
