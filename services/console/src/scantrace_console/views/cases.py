"""Epidemiologists: open a case for a person over their infectious days, and follow it until its
contacts are traced and each has been sent an exposure notice (`exposures.v1`, SPEC 5)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from scantrace_console.days import parse_day, today, window
from scantrace_console.deps import Api, Csrf
from scantrace_console.pages import render
from scantrace_console.tables import table
from scantrace_console.upstream import Refused
from scantrace_console.views.persons import CONTACT_COLUMNS, Epidemiologist, contact_row

router = APIRouter()


@router.post("/cases", summary="Open a case (the tracer traces its contacts and notifies them)")
async def open_case(
    request: Request,
    session: Epidemiologist,
    api: Api,
    _: Csrf,
    person_id: Annotated[str, Form(max_length=64)],
    infectious_from: Annotated[str, Form(max_length=10)],
    infectious_to: Annotated[str, Form(max_length=10)],
    min_overlap_minutes: Annotated[int, Form(ge=0, le=1440)] = 15,
) -> Response:
    tz: str = request.app.state.settings.tz
    first = parse_day(infectious_from, today(tz))
    last = parse_day(infectious_to, first)
    start, end = window(first, max(first, last), tz)
    body = {
        "person_id": person_id,
        "infectious_from": start,
        "infectious_to": end,
        "min_overlap_minutes": min_overlap_minutes,
    }
    answer = await api.call("tracer", "POST", "/v1/cases", token=session.token, json=body)
    return RedirectResponse(f"/cases/{answer['case_id']}", status_code=303)


@router.get("/cases/{case_id}", summary="A case: traced yet, and the contacts notified")
async def case(request: Request, session: Epidemiologist, api: Api, case_id: str) -> Response:
    try:
        answer: dict[str, Any] = await api.call(
            "tracer", "GET", f"/v1/cases/{case_id}", token=session.token
        )
    except Refused as exc:
        refused = {"case_id": case_id, "status": "unknown", "contacts": [], "refused": exc.message}
        return render(
            request, "case.html", refused, session=session, status=exc.status, title="case.title"
        )
    contacts = [contact_row(c) for c in answer.get("contacts", [])]
    data: dict[str, Any] = {"case_id": case_id, "status": answer["status"], "contacts": contacts}
    extra = {
        "table": table(CONTACT_COLUMNS, contacts, dict(request.query_params), default_sort="depth")
    }
    return render(request, "case.html", data, session=session, extra=extra, title="case.title")
