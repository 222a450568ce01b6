"""POST /v1/scans: one scan or an array of up to 1000, JSON or msgpack."""

from __future__ import annotations

import time
from typing import Any

import msgspec
from fastapi import APIRouter, Request, Response

from scantrace_gateway import metrics
from scantrace_gateway.intake import (
    BodyError,
    Context,
    ScanIn,
    body_format,
    decode_scans,
)
from scantrace_gateway.publisher import Unavailable
from scantrace_gateway.responses import error, intake_result
from scantrace_gateway.state import HttpError, client_address, gateway_of, read_body

router = APIRouter(tags=["scans"])

# Label children resolved once: `labels()` costs more than the increment itself.
_ACCEPTED = metrics.SCANS.labels(outcome="accepted")
_DUPLICATE = metrics.SCANS.labels(outcome="duplicate")
_REJECTED = metrics.SCANS.labels(outcome="rejected")

_scan_schema = msgspec.json.schema(ScanIn)
_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        media: {"schema": {"oneOf": [_scan_schema, {"type": "array", "items": _scan_schema}]}}
        for media in ("application/json", "application/msgpack")
    },
}
_RESULT = {
    "type": "object",
    "properties": {
        "accepted": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "scan_id": {"type": ["string", "null"]},
                    "error": {"type": "string"},
                },
            },
        },
    },
}
_ERROR: dict[str, Any] = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"error": {"type": "string"}}}
        }
    }
}


@router.post(
    "/v1/scans",
    status_code=202,
    summary="Submit one scan or an array of up to 1000 scans",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        202: {
            "description": "every accepted scan is durable (Kafka acks=all or fsynced spool)",
            "content": {"application/json": {"schema": _RESULT}},
        },
        400: {"description": "unparseable body", **_ERROR},
        401: {"description": "no valid device token", **_ERROR},
        403: {"description": "not a device token", **_ERROR},
        413: {"description": "body over 1 MiB or more than 1000 scans", **_ERROR},
        415: {"description": "not JSON or msgpack", **_ERROR},
        422: {"description": "a single scan that is invalid", **_ERROR},
        429: {"description": "rate limited; see Retry-After", **_ERROR},
        503: {"description": "neither Kafka nor the spool can take it; see Retry-After", **_ERROR},
    },
)
async def post_scans(request: Request) -> Response:
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
        judged = decode_scans(body, fmt, ctx, gateway.scans_topic)
    except HttpError as exc:
        return error(exc.status, str(exc), exc.headers)
    except BodyError as exc:
        return error(exc.status, str(exc))

    rejected = judged.rejected
    if rejected:
        _REJECTED.inc(len(rejected))
        for rejection in rejected:
            metrics.SCANS_REJECTED.labels(reason=rejection.reason).inc()
        if judged.single:
            return error(422, rejected[0].error)

    accepted = judged.accepted
    fresh = await gateway.scan_deduper.claim([scan_id for scan_id, _, _ in accepted])
    to_publish = []
    claimed = []
    scanned: list[int] = []
    for (scan_id, record, scanned_at), is_new in zip(accepted, fresh, strict=True):
        if is_new:
            to_publish.append(record)
            claimed.append(scan_id)
            scanned.append(scanned_at)
    duplicates = len(accepted) - len(to_publish)
    try:
        await gateway.publisher.publish(to_publish)
    except Unavailable as exc:
        await gateway.scan_deduper.release(claimed)
        return error(503, f"cannot store scans now: {exc}", {"Retry-After": str(exc.retry_after_s)})
    if to_publish:
        _ACCEPTED.inc(len(to_publish))
        metrics.observe_skews(received_at, scanned)
    if duplicates:
        _DUPLICATE.inc(duplicates)
    return intake_result(
        len(to_publish),
        duplicates,
        [{"index": r.index, "scan_id": r.id, "error": r.error} for r in rejected],
    )
