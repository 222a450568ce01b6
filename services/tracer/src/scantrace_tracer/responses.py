"""JSON bodies of the API, encoded once with msgspec; times as RFC 3339 UTC strings."""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi.responses import Response

from scantrace_common.timeparse import format_time
from scantrace_tracer.exposures import ContactOut, ExposuresOut
from scantrace_tracer.store import Found
from scantrace_tracer.visits import Visit

_JSON = msgspec.json.Encoder()


class JsonBody(Response):
    media_type = "application/json"


def json_response(body: Any, status_code: int = 200) -> Response:
    return JsonBody(_JSON.encode(body), status_code=status_code)


def person_visit(v: Visit) -> dict[str, Any]:
    return {
        "venue_id": v.venue_id,
        "start": format_time(v.start),
        "end": format_time(v.end),
        "closed_by": v.closed_by,
    }


def venue_visit(venue_id: str, f: Found) -> dict[str, Any]:
    return {
        "person_id": f.person_id,
        "venue_id": venue_id,
        "start": format_time(f.start),
        "end": format_time(f.end),
        "closed_by": f.closed_by,
    }


def contact(c: ContactOut) -> dict[str, Any]:
    return {
        "person_id": c.person_id,
        "depth": c.depth,
        "via": c.via,
        "total_overlap_minutes": c.total_overlap_minutes,
        "encounters": [
            {
                "venue_id": e.venue_id,
                "start": format_time(e.start),
                "end": format_time(e.end),
                "overlap_minutes": e.overlap_minutes,
            }
            for e in c.encounters
        ],
    }


def exposures(out: ExposuresOut) -> dict[str, Any]:
    """The plain form of an exposures answer; the API writes the same bytes with `jsonbody`."""
    return {
        "person_id": out.person_id,
        "from": format_time(out.from_),
        "to": format_time(out.to),
        "min_overlap_minutes": out.min_overlap_minutes,
        "depth": out.depth,
        "contacts": [contact(c) for c in out.contacts],
    }
