"""POST /v1/declarations: a daily health declaration from a device."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from scantrace_gateway import metrics
from scantrace_gateway.intake import (
    BodyError,
    Invalid,
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
from scantrace_gateway.routes.device_request import device_request
from scantrace_gateway.state import HttpError, gateway_of

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
    try:
        body, fmt, ctx = await device_request(request, gateway)
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
