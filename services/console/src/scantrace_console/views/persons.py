"""Epidemiologists: find a person, their visits on a timeline, their exposures (depth 1 or 2) as
a table and as a graph. Every call goes to the tracer with the person's own token: the tracer
audits each of them as it audits its API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from scantrace_common.ids import is_valid_id
from scantrace_console.days import parse_day, today, window
from scantrace_console.deps import Api, roles
from scantrace_console.graph import exposure_graph
from scantrace_console.pages import render
from scantrace_console.sessions import Session
from scantrace_console.tables import Column, table
from scantrace_console.timeline import visits_timeline
from scantrace_console.upstream import Refused

router = APIRouter()
Epidemiologist = Annotated[Session, roles("epidemiologist")]
#: The default window: the last two weeks (the tracer allows 31 days).
DEFAULT_DAYS: Final = 14
#: Contacts fetched for one page (the tracer's largest page); beyond, the page says so.
MAX_CONTACTS: Final = 5000
VISIT_COLUMNS = (
    Column("venue_id", "visits.venue"),
    Column("start", "visits.start"),
    Column("end", "visits.end"),
    Column("minutes", "visits.minutes", numeric=True),
    Column("closed_by", "visits.closed_by"),
)
CONTACT_COLUMNS = (
    Column("person_id", "exposures.person"),
    Column("depth", "exposures.depth", numeric=True),
    Column("via", "exposures.via"),
    Column("total_overlap_minutes", "exposures.minutes", numeric=True),
    Column("encounter_count", "exposures.encounters", numeric=True),
    Column("venues_text", "exposures.venues"),
)


def window_of(request: Request) -> dict[str, str]:
    tz: str = request.app.state.settings.tz
    last = parse_day(request.query_params.get("to"), today(tz))
    first = parse_day(request.query_params.get("from"), last - timedelta(days=DEFAULT_DAYS - 1))
    start, end = window(first, last, tz)
    return {"from": first.isoformat(), "to": last.isoformat(), "start": start, "end": end}


@router.get("/persons", summary="Find a person")
async def find_person(request: Request, session: Epidemiologist, person_id: str = "") -> Response:
    person_id = person_id.strip()
    if person_id and is_valid_id(person_id):
        return RedirectResponse(f"/persons/{person_id}", status_code=303)
    data = {"person_id": person_id, "invalid": bool(person_id)}
    return render(request, "find.html", data, session=session, title="find.title")


@router.get("/persons/{person_id}", summary="A person's visits, as a table and a timeline")
async def person(request: Request, session: Epidemiologist, api: Api, person_id: str) -> Response:
    span = window_of(request)
    base = {"person_id": person_id, "from": span["from"], "to": span["to"]}
    try:
        answer = await api.call(
            "tracer",
            "GET",
            f"/v1/persons/{person_id}/visits",
            token=session.token,
            params={"from": span["start"], "to": span["end"]},
        )
    except Refused as exc:
        return render(
            request,
            "person.html",
            {**base, "visits": [], "refused": exc.message},
            session=session,
            status=exc.status,
            title="person.title",
        )
    visits = [visit_row(v) for v in answer["visits"]]
    extra = {
        "table": table(VISIT_COLUMNS, visits, dict(request.query_params), default_sort="start"),
        "timeline": visits_timeline(
            visits, span["start"], span["end"], request.app.state.settings.tz
        ),
    }
    return render(
        request,
        "person.html",
        {**base, "visits": visits},
        session=session,
        extra=extra,
        title="person.title",
    )


def visit_row(visit: dict[str, Any]) -> dict[str, Any]:
    from scantrace_common.timeparse import parse_time

    minutes = (parse_time(visit["end"]) - parse_time(visit["start"])) // 60000
    return {**visit, "minutes": minutes}


@router.get("/persons/{person_id}/exposures", summary="Contacts at depth 1 or 2: table and graph")
async def exposures(
    request: Request,
    session: Epidemiologist,
    api: Api,
    person_id: str,
    depth: int = 1,
    min_overlap_minutes: int = 15,
) -> Response:
    span = window_of(request)
    depth = 2 if depth == 2 else 1
    base = {
        "person_id": person_id,
        "from": span["from"],
        "to": span["to"],
        "depth": depth,
        "min_overlap_minutes": min_overlap_minutes,
    }
    try:
        answer = await api.call(
            "tracer",
            "GET",
            f"/v1/persons/{person_id}/exposures",
            token=session.token,
            params={
                "from": span["start"],
                "to": span["end"],
                "depth": depth,
                "min_overlap_minutes": min_overlap_minutes,
                "view": "summary",
                "limit": MAX_CONTACTS,
            },
        )
    except Refused as exc:
        return render(
            request,
            "exposures.html",
            {**base, "contacts": [], "refused": exc.message},
            session=session,
            status=exc.status,
            title="exposures.title",
        )
    contacts = [contact_row(c) for c in answer["contacts"]]
    data = {**base, "contacts": contacts, "truncated": answer.get("next_cursor") is not None}
    extra = {
        "table": table(
            CONTACT_COLUMNS,
            contacts,
            dict(request.query_params),
            # the tracer's order (depth, then minutes, then id): the sort is stable
            default_sort="depth",
        ),
        "graph": exposure_graph(person_id, contacts),
        "f1": sum(1 for c in contacts if c["depth"] == 1),
        "f2": sum(1 for c in contacts if c["depth"] == 2),
        # the form to open a case: infectious the last three days of the window, by default
        "case_from": (date.fromisoformat(span["to"]) - timedelta(days=2)).isoformat(),
    }
    return render(
        request, "exposures.html", data, session=session, extra=extra, title="exposures.title"
    )


def contact_row(contact: dict[str, Any]) -> dict[str, Any]:
    """A contact as the table shows it, from the full answer or from `view=summary`."""
    encounters = contact.get("encounters")
    if encounters is not None:
        venues = sorted({e["venue_id"] for e in encounters})
        count = len(encounters)
    else:
        venues, count = list(contact.get("venues", [])), int(contact.get("encounter_count", 0))
    return {
        "person_id": contact["person_id"],
        "depth": contact["depth"],
        "via": contact.get("via"),
        "total_overlap_minutes": contact["total_overlap_minutes"],
        "encounter_count": count,
        "venues": venues,
        "venues_text": ", ".join(venues),
    }
