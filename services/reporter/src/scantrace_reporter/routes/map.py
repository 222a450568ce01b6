"""The public safety map of SPEC 10: `GET /v1/map/venues.geojson`, no token, nothing about persons.

Each venue's status is computed at the request's instant (`map_status`), so a venue turns
`overdue` the moment its assessment's `valid_until` passes, without any job. The body carries a
strong ETag (a hash of its bytes) and a short Cache-Control, so a map polling it gets a 304 while
nothing changed.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Final

import msgspec
from fastapi import APIRouter, Header, Query
from starlette.responses import Response

from scantrace_common.errors import ApiError, error_doc
from scantrace_common.events import SafetyLevel
from scantrace_common.ids import IdStr
from scantrace_common.timeparse import format_time, now_ms
from scantrace_common.venue_kinds import VENUE_KINDS
from scantrace_reporter.deps import SafetyDep, ServiceDep
from scantrace_reporter.map_status import Status

router = APIRouter(tags=["safety map"])

MEDIA_TYPE: Final = "application/geo+json"
#: How long a cache may keep the map: a venue turning overdue shows up at most this late there.
MAX_AGE_S: Final = 30
REPORT_WINDOW_MS: Final = 30 * 24 * 3600 * 1000
_JSON: Final = msgspec.json.Encoder()


@router.get(
    "/v1/map/venues.geojson",
    responses={
        200: {
            "description": "a GeoJSON FeatureCollection (RFC 7946) of located, unrevoked venues",
            "content": {MEDIA_TYPE: {}},
        },
        304: {"description": "not modified since the ETag of If-None-Match"},
        404: error_doc("no such unit"),
        422: error_doc("an unknown kind, level or status"),
    },
    summary="The public safety map: venues with their status now (no token)",
)
async def venues_geojson(
    service: ServiceDep,
    safety: SafetyDep,
    unit_id: Annotated[IdStr | None, Query(description="the unit and its descendants")] = None,
    kind: Annotated[str | None, Query(json_schema_extra={"enum": sorted(VENUE_KINDS)})] = None,
    level: Annotated[SafetyLevel | None, Query()] = None,
    status: Annotated[Status | None, Query()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    registry = service.registry
    if kind is not None and kind not in VENUE_KINDS:
        raise ApiError(422, f"kind must be one of {', '.join(sorted(VENUE_KINDS))}")
    if unit_id is not None and unit_id not in registry.units:
        raise ApiError(404, f"no unit {unit_id!r}")
    scope = (unit_id,) if unit_id is not None else None
    t = now_ms()
    features: list[dict[str, Any]] = []
    for venue_id in sorted(registry.venues):
        venue = registry.venues[venue_id]
        if venue.location is None or venue.revoked_at is not None:
            continue
        if kind is not None and venue.kind != kind:
            continue
        if scope is not None and not registry.within(venue.unit_id, scope):
            continue
        now = safety.store.status(venue_id, t)
        if (status is not None and now.status != status) or (
            level is not None and now.level != level
        ):
            continue
        features.append(
            {
                "type": "Feature",
                "id": venue_id,
                "geometry": {
                    "type": "Point",
                    "coordinates": [venue.location.lon, venue.location.lat],
                },
                "properties": {
                    "venue_id": venue_id,
                    "name": venue.name,
                    "kind": venue.kind,
                    "unit_id": venue.unit_id,
                    "status": now.status,
                    "level": now.level,
                    "valid_until": None
                    if now.valid_until is None
                    else format_time(now.valid_until),
                    "reports_30d": safety.store.reports_since(venue_id, t - REPORT_WINDOW_MS, t),
                },
            }
        )
    body = _JSON.encode({"type": "FeatureCollection", "features": features})
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={MAX_AGE_S}"}
    if if_none_match is not None and etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
