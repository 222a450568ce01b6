"""`/v1/compliance` (a unit and its children on a day) and `/v1/compliance.csv` (the subtree, day
by day), for the days `deps.ReadableDays` allows."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse

from scantrace_common.errors import ApiError
from scantrace_reporter import csv_export
from scantrace_reporter.days import day_count, days_between
from scantrace_reporter.deps import ReadableDays, ServiceDep, SettingsDep, UnitOfQuery
from scantrace_reporter.metrics import QUERY_DURATION
from scantrace_reporter.models import Day
from scantrace_reporter.routes.responses import NO_SUCH, UNAVAILABLE, file_doc
from scantrace_reporter.service import ReporterService

router = APIRouter(tags=["compliance"])
#: Rows per Redis round trip of an export (6 commands a row).
ROWS_PER_ROUND_TRIP: Final = 3000


@router.get(
    "/v1/compliance",
    responses={**NO_SUCH, **UNAVAILABLE},
    summary="Compliance of a unit on a day",
)
async def compliance(
    unit: UnitOfQuery,
    service: ServiceDep,
    readable: ReadableDays,
    day: Annotated[Day, Query(alias="date")],
) -> JSONResponse:
    readable.check("date", day)
    started = time.perf_counter()
    body = await service.store.compliance(unit.unit_id, day)
    QUERY_DURATION.labels(scope=unit.level).observe(time.perf_counter() - started)
    return JSONResponse(body)


@router.get(
    "/v1/compliance.csv",
    response_class=StreamingResponse,
    responses={**file_doc("text/csv", "one row per unit and day"), **NO_SUCH, **UNAVAILABLE},
    summary="One row per unit of the subtree per day, safe to open in a spreadsheet",
)
async def compliance_csv(
    unit: UnitOfQuery,
    service: ServiceDep,
    settings: SettingsDep,
    readable: ReadableDays,
    first: Annotated[Day, Query(alias="from")],
    last: Annotated[Day, Query(alias="to")],
) -> StreamingResponse:
    readable.check("from", first)
    readable.check("to", last)
    if last < first:
        raise ApiError(422, "'to' is before 'from'")
    units = service.registry.subtree(unit.unit_id)
    limit = settings.csv_max_rows
    # Counted, not listed: the limit is checked before a single day is built.
    if len(units) * day_count(first, last) > limit:
        raise ApiError(422, f"more than {limit} rows: ask for fewer days or a smaller unit")
    step = max(1, ROWS_PER_ROUND_TRIP // len(units))
    # The first round trip before the answer starts, so that Redis down is a 503, not a cut file.
    head = await csv_rows(service, units, first, min(last, first + timedelta(days=step - 1)))

    async def body() -> AsyncIterator[str]:
        yield csv_export.encode_rows(head, header=True)
        for start in range(step, day_count(first, last), step):
            chunk_first = first + timedelta(days=start)
            chunk_last = min(last, chunk_first + timedelta(days=step - 1))
            yield csv_export.encode_rows(
                await csv_rows(service, units, chunk_first, chunk_last), header=False
            )

    filename = f"compliance-{unit.unit_id}-{first.isoformat()}-{last.isoformat()}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def csv_rows(
    service: ReporterService, units: list[str], first: date, last: date
) -> list[list[str]]:
    days = list(days_between(first, last))
    figures = await service.store.figures_days(units, days)
    return [
        csv_export.row_of(row, service.registry.units[row.unit_id])
        for day in days
        for row in figures[day]
    ]
