"""POST /v1/scans: one scan or an array of up to 1000, JSON or msgpack (a fast route)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from scantrace_common.errors import ApiError
from scantrace_gateway import metrics
from scantrace_gateway.dedup import first_occurrences
from scantrace_gateway.deps import device_call
from scantrace_gateway.intake import decode_scans
from scantrace_gateway.openapi import (
    DEVICE_TOKEN,
    SCAN_BODY,
    intake_errors,
    json_content,
    request_body,
)
from scantrace_gateway.responses import intake_result
from scantrace_gateway.spool import Record

router = APIRouter(tags=["scans"])

# Label children resolved once: `labels()` costs more than the increment itself.
_ACCEPTED = metrics.SCANS.labels(outcome="accepted")
_DUPLICATE = metrics.SCANS.labels(outcome="duplicate")
_REJECTED = metrics.SCANS.labels(outcome="rejected")


@router.post(
    "/v1/scans",
    status_code=202,
    summary="Submit one scan or an array of up to 1000 scans",
    openapi_extra={"requestBody": request_body(SCAN_BODY), "security": DEVICE_TOKEN},
    responses={
        202: {
            "description": "every accepted scan is durable (Kafka acks=all or fsynced spool)",
            **json_content("IntakeResult"),
        },
        **intake_errors(
            too_large="body over 1 MiB or more than 1000 scans",
            invalid="a single scan that is invalid",
        ),
    },
)
async def post_scans(request: Request) -> Response:
    call = await device_call(request)
    gateway, ctx = call.gateway, call.ctx
    gateway.require_revocations()
    judged = decode_scans(call.body, call.fmt, ctx, gateway.scans_topic)

    rejected = judged.rejected
    if rejected:
        _REJECTED.inc(len(rejected))
        for rejection in rejected:
            metrics.SCANS_REJECTED.labels(reason=rejection.reason).inc()
        if judged.single:
            raise ApiError(422, rejected[0].error)

    ids, records, times = judged.ids, judged.records, judged.times
    # Look only; the ids are marked after the publish made them durable (see dedup.py). No
    # scan can have been marked before its own time minus the clock tolerance.
    since = min(times) - gateway.max_future_ms if times else None
    seen = await gateway.scan_deduper.seen(ids, since)
    to_publish: list[Record]
    if not any(seen) and len(set(ids)) == len(ids):  # the usual case: no loop per scan
        to_publish, new_ids, scanned = records, ids, times
    else:
        to_publish, new_ids, scanned = [], [], []
        for scan_id, record, scanned_at, is_new in zip(
            ids, records, times, first_occurrences(ids, seen), strict=True
        ):
            if is_new:
                to_publish.append(record)
                new_ids.append(scan_id)
                scanned.append(scanned_at)
    duplicates = len(ids) - len(to_publish)
    await gateway.publisher.publish(to_publish)  # Unavailable: 503, see app.TRANSLATIONS
    await gateway.scan_deduper.mark(new_ids)
    if to_publish:
        _ACCEPTED.inc(len(to_publish))
        metrics.observe_skews(ctx.received_at, scanned)
    if duplicates:
        _DUPLICATE.inc(duplicates)
    return intake_result(
        len(to_publish),
        duplicates,
        [{"index": r.index, "scan_id": r.id, "error": r.error} for r in rejected],
    )
