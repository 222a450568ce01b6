"""Officials and admins: a unit's compliance on a day, its children (drill down), the last 30
days as a chart, and the CSV download (streamed from the reporter with the person's token)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from scantrace_console.charts import compliance_chart
from scantrace_console.days import parse_day, today
from scantrace_console.deps import Api, roles
from scantrace_console.gather import bounded
from scantrace_console.pages import render
from scantrace_console.sessions import Session
from scantrace_console.tables import Column, table
from scantrace_console.upstream import Refused, Upstream

router = APIRouter()
Reader = Annotated[Session, roles("admin", "official")]
HISTORY_DAYS = 30
COLUMNS = (
    Column("name", "compliance.unit"),
    Column("venues_registered", "compliance.venues_registered", numeric=True),
    Column("venues_active", "compliance.venues_active", numeric=True),
    Column("active_ratio", "compliance.active_ratio", numeric=True),
    Column("scans", "compliance.scans", numeric=True),
    Column("persons", "compliance.persons", numeric=True),
    Column("quarantined", "compliance.quarantined", numeric=True),
    Column("declarations_done", "compliance.declarations_done", numeric=True),
    Column("declaration_ratio", "compliance.declaration_ratio", numeric=True),
)


def start_unit(request: Request, session: Session) -> str:
    if session.role == "official" and session.units:
        return session.units[0]
    root: str = request.app.state.settings.console_root_unit
    return root


async def lineage(api: Upstream, token: str, unit: dict[str, Any]) -> list[dict[str, Any]]:
    """The unit's ancestors, root first, as far up as the person may see."""
    chain: list[dict[str, Any]] = []
    parent = unit.get("parent_id")
    while parent and len(chain) < 10:
        try:
            above = await api.call("reporter", "GET", f"/v1/units/{parent}", token=token)
        except Refused:
            break  # above an official's units
        chain.insert(0, above)
        parent = above.get("parent_id")
    return chain


@router.get("/compliance", summary="A unit's compliance on a day, its children, 30 days")
async def compliance(
    request: Request, session: Reader, api: Api, unit_id: str = "", date: str = ""
) -> Response:
    tz: str = request.app.state.settings.tz
    day = parse_day(date, today(tz))
    unit_id = unit_id or start_unit(request, session)
    base: dict[str, Any] = {"unit_id": unit_id, "date": day.isoformat()}
    if not unit_id:
        return render(
            request,
            "compliance.html",
            {**base, "figures": None},
            session=session,
            title="compliance.title",
        )
    token = session.token
    try:
        unit = await api.call("reporter", "GET", f"/v1/units/{unit_id}", token=token)
        figures = await _figures(api, token, unit_id, day)
    except Refused as exc:
        data = {**base, "figures": None, "refused": exc.message, "refused_status": exc.status}
        return render(
            request,
            "compliance.html",
            data,
            session=session,
            status=exc.status,
            title="compliance.title",
        )
    children = await bounded(
        figures.get("children", []),
        lambda child: api.call("reporter", "GET", f"/v1/units/{child['unit_id']}", token=token),
    )
    rows = [
        {
            **child,
            "name": info["name"],
            "level": info["level"],
            "has_children": bool(info["children"]),
        }
        for child, info in zip(figures.get("children", []), children, strict=True)
    ]
    history = await bounded(
        [day - timedelta(days=n) for n in range(HISTORY_DAYS - 1, -1, -1)],
        lambda d: _day_figures(api, token, unit_id, d),
    )
    data = {
        **base,
        "unit": {k: unit[k] for k in ("unit_id", "name", "level", "parent_id")},
        "figures": {k: v for k, v in figures.items() if k != "children"},
        "children": rows,
        "history": history,
        "lineage": [
            {"unit_id": u["unit_id"], "name": u["name"]} for u in await lineage(api, token, unit)
        ],
    }
    extra = {
        "table": table(COLUMNS, rows, dict(request.query_params), default_sort="name"),
        "chart": compliance_chart(history),
        # the CSV of the chart's days the reporter still keeps figures of
        "csv_from": max(
            day - timedelta(days=HISTORY_DAYS - 1),
            today(tz) - timedelta(days=request.app.state.settings.retention_days),
        ).isoformat(),
        "previous_day": (day - timedelta(days=1)).isoformat(),
        "next_day": (day + timedelta(days=1)).isoformat(),
    }
    return render(
        request, "compliance.html", data, session=session, extra=extra, title="compliance.title"
    )


async def _figures(api: Upstream, token: str, unit_id: str, day: date) -> dict[str, Any]:
    body: dict[str, Any] = await api.call(
        "reporter",
        "GET",
        "/v1/compliance",
        token=token,
        params={"unit_id": unit_id, "date": day.isoformat()},
    )
    return body


HISTORY_KEYS = ("active_ratio", "declaration_ratio", "scans", "persons")


async def _day_figures(api: Upstream, token: str, unit_id: str, day: date) -> dict[str, Any]:
    """One point of the 30-day chart; none for a day the reporter keeps no figures of (422:
    older than SCANTRACE_RETENTION_DAYS), a gap in the chart."""
    try:
        body = await _figures(api, token, unit_id, day)
    except Refused as exc:
        if exc.status != 422:
            raise
        return {"date": day.isoformat(), **dict.fromkeys(HISTORY_KEYS)}
    return {"date": body["date"], **{k: body[k] for k in HISTORY_KEYS}}


@router.get("/compliance.csv", summary="The reporter's CSV of the unit's subtree, day by day")
async def compliance_csv(
    session: Reader,
    api: Api,
    unit_id: str,
    from_: Annotated[str, Query(alias="from")],
    to: str,
) -> Response:
    params = {"unit_id": unit_id, "from": from_, "to": to}
    async with api.stream(
        "reporter", "/v1/compliance.csv", token=session.token, params=params
    ) as answer:
        body = await answer.aread()
        disposition = answer.headers.get(
            "content-disposition", f'attachment; filename="compliance-{unit_id}.csv"'
        )
    return Response(
        body, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition}
    )
