"""Admins: the staff accounts, a form to create one, a button to disable one (SPEC 8)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from scantrace_console.deps import Api, Csrf, roles
from scantrace_console.pages import render
from scantrace_console.sessions import Session
from scantrace_console.tables import Column, table
from scantrace_console.upstream import Refused, Upstream

router = APIRouter()
Admin = Annotated[Session, roles("admin")]
#: The least privileged first: the form's default is never an admin by accident.
ROLES = ("epidemiologist", "official", "operator", "admin")
COLUMNS = (
    Column("staff_id", "staff.staff_id"),
    Column("name", "staff.name"),
    Column("role", "staff.role"),
    Column("units_text", "staff.units"),
    Column("created_at", "staff.created_at"),
    Column("disabled", "staff.status"),
)


async def _page(
    request: Request, session: Session, api: Upstream, *, status: int = 200, **notice: str
) -> Response:
    answer = await api.call("reporter", "GET", "/v1/staff", token=session.token)
    rows = [{**a, "units_text": ", ".join(a.get("units") or [])} for a in answer["staff"]]
    data = {"staff": rows, **notice}
    extra = {
        "table": table(COLUMNS, rows, dict(request.query_params), default_sort="staff_id"),
        "roles": ROLES,
    }
    return render(
        request,
        "staff.html",
        data,
        session=session,
        status=status,
        extra=extra,
        title="staff.title",
    )


@router.get("/staff", summary="Staff accounts")
async def staff_list(
    request: Request, session: Admin, api: Api, created: str = "", disabled: str = ""
) -> Response:
    return await _page(request, session, api, created=created, disabled=disabled)


@router.post("/staff", summary="Create a staff account")
async def staff_create(
    request: Request,
    session: Admin,
    api: Api,
    _: Csrf,
    staff_id: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=32)],
    password: Annotated[str, Form(max_length=256)],
    units: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    body: dict[str, object] = {
        "staff_id": staff_id,
        "name": name,
        "role": role,
        "password": password,
    }
    unit_ids = [u for u in units.replace(",", " ").split() if u]
    if unit_ids:
        body["units"] = unit_ids
    try:
        await api.call("reporter", "POST", "/v1/staff", token=session.token, json=body)
    except Refused as exc:
        return await _page(request, session, api, status=exc.status, error=exc.message)
    return RedirectResponse(f"/staff?created={staff_id}", status_code=303)


@router.post("/staff/{staff_id}/disable", summary="Disable a staff account")
async def staff_disable(
    request: Request, session: Admin, api: Api, _: Csrf, staff_id: str
) -> Response:
    try:
        await api.call("reporter", "DELETE", f"/v1/staff/{staff_id}", token=session.token)
    except Refused as exc:
        return await _page(request, session, api, status=exc.status, error=exc.message)
    return RedirectResponse(f"/staff?disabled={staff_id}", status_code=303)
