"""POST /v1/declarations: a daily health declaration from a device (a fast route)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from scantrace_gateway import metrics
from scantrace_gateway.deps import device_call
from scantrace_gateway.intake import Invalid, decode_declaration
from scantrace_gateway.openapi import (
    DECLARATION_BODY,
    DEVICE_TOKEN,
    intake_errors,
    json_content,
    request_body,
)
from scantrace_gateway.responses import intake_result

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
    call = await device_call(request)
    gateway = call.gateway
    try:
        declaration_id, record = decode_declaration(
            call.body, call.fmt, call.ctx, gateway.declarations_topic
        )
    except Invalid:
        metrics.DECLARATIONS.labels(outcome="rejected").inc()
        raise

    # Look only; the id is marked after the publish made it durable (see dedup.py).
    (seen,) = await gateway.declaration_deduper.seen([declaration_id])
    if seen:
        metrics.DECLARATIONS.labels(outcome="duplicate").inc()
        return intake_result(0, 1, [])
    await gateway.publisher.publish([record])  # Unavailable: 503, see app.TRANSLATIONS
    await gateway.declaration_deduper.mark([declaration_id])
    metrics.DECLARATIONS.labels(outcome="accepted").inc()
    return intake_result(1, 0, [])
