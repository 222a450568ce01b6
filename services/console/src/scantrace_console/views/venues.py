"""Epidemiologists: a venue's visits over a window and how many are there now (SPEC 5)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from scantrace_common.ids import is_valid_id
from scantrace_console.deps import Api
from scantrace_console.pages import render
from scantrace_console.tables import Column, table
from scantrace_console.upstream import Refused
from scantrace_console.views.persons import Epidemiologist, visit_row, window_of

router = APIRouter()
COLUMNS = (
    Column("person_id", "venue.person"),
    Column("start", "visits.start"),
    Column("end", "visits.end"),
    Column("minutes", "visits.minutes", numeric=True),
    Column("closed_by", "visits.closed_by"),
)


@router.get("/venues", summary="Find a venue (the form is on the find page)")
async def find_venue(session: Epidemiologist, venue_id: str = "") -> Response:
    venue_id = venue_id.strip()
    if venue_id and is_valid_id(venue_id):
        return RedirectResponse(f"/venues/{venue_id}", status_code=303)
    return RedirectResponse(f"/persons?person_id={quote(venue_id)}", status_code=303)


@router.get("/venues/{venue_id}", summary="A venue's visits and its live occupancy")
async def venue(request: Request, session: Epidemiologist, api: Api, venue_id: str) -> Response:
    span = window_of(request)
    base: dict[str, Any] = {"venue_id": venue_id, "from": span["from"], "to": span["to"]}
    try:
        visits, occupancy = await asyncio.gather(
            api.call(
                "tracer",
                "GET",
                f"/v1/venues/{venue_id}/visits",
                token=session.token,
                params={"from": span["start"], "to": span["end"]},
            ),
            api.call("tracer", "GET", f"/v1/venues/{venue_id}/occupancy", token=session.token),
        )
    except Refused as exc:
        refused = {**base, "visits": [], "present": None, "refused": exc.message}
        return render(
            request, "venue.html", refused, session=session, status=exc.status, title="venue.title"
        )
    rows = [visit_row(v) for v in visits["visits"]]
    data = {**base, "visits": rows, "present": occupancy["present"], "at": occupancy["at"]}
    extra = {"table": table(COLUMNS, rows, dict(request.query_params), default_sort="start")}
    return render(request, "venue.html", data, session=session, extra=extra, title="venue.title")
