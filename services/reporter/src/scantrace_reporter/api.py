"""HTTP routes of SPEC section 4 (plus batch creation and poster export)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from scantrace_common.auth import AUTH_RESPONSES, Principal, require_roles
from scantrace_common.errors import error_doc
from scantrace_common.events import UnitEvent, VenueEvent
from scantrace_common.kafka import KafkaUnavailable
from scantrace_reporter import csv_export, poster
from scantrace_reporter.days import days_between, parse_day
from scantrace_reporter.metrics import QUERY_DURATION
from scantrace_reporter.models import QuarantineIn, UnitIn, VenueIn
from scantrace_reporter.service import Refused, Rejection, ReporterService

Admin = Annotated[Principal, Depends(require_roles("admin"))]
Reader = Annotated[Principal, Depends(require_roles("admin", "official"))]
MAX_BATCH = 1000

router = APIRouter(responses=AUTH_RESPONSES)
#: For the operations on one unit or venue, which may not exist (officials get 403 instead).
NO_SUCH: dict[int | str, dict[str, object]] = {404: error_doc("no such unit or venue")}
#: For the writes, which are published to Kafka before they are answered.
KAFKA_DOWN: dict[int | str, dict[str, object]] = {
    503: error_doc("Kafka unavailable: nothing was stored; retry after Retry-After seconds")
}
#: For the creations of one unit or venue.
CREATE: dict[int | str, dict[str, object]] = {
    **KAFKA_DOWN,
    409: error_doc("that id exists already (ids are never reused)"),
}


def service_of(request: Request) -> ReporterService:
    service: ReporterService = request.app.state.service
    return service


Service = Annotated[ReporterService, Depends(service_of)]


def unavailable(exc: Exception) -> HTTPException:
    return HTTPException(503, f"Kafka unavailable: {exc}", headers={"Retry-After": "5"})


def check_unit_scope(service: ReporterService, principal: Principal, unit_id: str) -> None:
    """404 for an unknown unit (admins); 403 for an official outside their units."""
    known = unit_id in service.registry.units
    if principal.role == "official":
        if not known or not service.registry.within(unit_id, principal.units or ()):
            raise HTTPException(403, f"unit {unit_id!r} is outside your units")
    elif not known:
        raise HTTPException(404, f"no unit {unit_id!r}")


def venue_in_scope(service: ReporterService, principal: Principal, venue_id: str) -> VenueEvent:
    venue = service.registry.venues.get(venue_id)
    if principal.role == "official" and (
        venue is None or not service.registry.within(venue.unit_id, principal.units or ())
    ):
        raise HTTPException(403, f"venue {venue_id!r} is outside your units")
    if venue is None:
        raise HTTPException(404, f"no venue {venue_id!r}")
    return venue


def unit_body(unit: UnitEvent, service: ReporterService) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "name": unit.name,
        "parent_id": unit.parent_id,
        "level": unit.level,
        "children": service.registry.children.get(unit.unit_id, []),
    }


def day_param(value: str, name: str) -> date:
    try:
        return parse_day(value)
    except ValueError as exc:
        raise HTTPException(422, f"{name}: {exc}") from exc


# units -------------------------------------------------------------------------------------


@router.post(
    "/v1/units", responses=CREATE, status_code=201, tags=["registry"], summary="Create a unit"
)
async def create_unit(body: UnitIn, _: Admin, service: Service) -> dict[str, Any]:
    try:
        (result,) = await service.create_units([body])
    except KafkaUnavailable as exc:
        raise unavailable(exc) from exc
    if isinstance(result, Rejection):
        raise HTTPException(result.status, result.error)
    return unit_body(result, service)


@router.post(
    "/v1/units/batch",
    responses=KAFKA_DOWN,
    tags=["registry"],
    summary="Create up to 1000 units; each item is judged on its own",
)
async def create_units(
    items: Annotated[list[dict[str, Any]], Body(max_length=MAX_BATCH)], _: Admin, service: Service
) -> dict[str, Any]:
    try:
        results = await service.create_units(list(items))
    except KafkaUnavailable as exc:
        raise unavailable(exc) from exc
    return batch_answer(results, lambda e: {"unit_id": e.unit_id})


@router.get(
    "/v1/units/{unit_id}", responses=NO_SUCH, tags=["registry"], summary="A unit and its children"
)
async def get_unit(unit_id: str, principal: Reader, service: Service) -> dict[str, Any]:
    check_unit_scope(service, principal, unit_id)
    return unit_body(service.registry.units[unit_id], service)


# venues ------------------------------------------------------------------------------------


@router.post(
    "/v1/venues", responses=CREATE, status_code=201, tags=["registry"], summary="Register a venue"
)
async def create_venue(body: VenueIn, _: Admin, service: Service) -> dict[str, Any]:
    try:
        (result,) = await service.create_venues([body])
    except KafkaUnavailable as exc:
        raise unavailable(exc) from exc
    if isinstance(result, Rejection):
        raise HTTPException(result.status, result.error)
    return {"venue_id": result.venue_id, "qr": service.signer.sign(result.venue_id)}


@router.post(
    "/v1/venues/batch",
    responses=KAFKA_DOWN,
    tags=["registry"],
    summary="Register up to 1000 venues; each item is judged on its own",
)
async def create_venues(
    items: Annotated[list[dict[str, Any]], Body(max_length=MAX_BATCH)], _: Admin, service: Service
) -> dict[str, Any]:
    try:
        results = await service.create_venues(list(items))
    except KafkaUnavailable as exc:
        raise unavailable(exc) from exc
    return batch_answer(
        results, lambda e: {"venue_id": e.venue_id, "qr": service.signer.sign(e.venue_id)}
    )


def batch_answer(results: list[Any], created: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"created": [], "rejected": []}
    for index, result in enumerate(results):
        if isinstance(result, Rejection):
            answer["rejected"].append(
                {"index": index, "status": result.status, "error": result.error}
            )
        else:
            answer["created"].append({"index": index, **created(result)})
    return answer


@router.get(
    "/v1/venues/{venue_id}",
    responses=NO_SUCH,
    tags=["registry"],
    summary="A venue and its QR payload",
)
async def get_venue(venue_id: str, principal: Reader, service: Service) -> dict[str, Any]:
    return service.venue_body(venue_in_scope(service, principal, venue_id))


@router.delete(
    "/v1/venues/{venue_id}",
    responses={**NO_SUCH, **KAFKA_DOWN},
    tags=["registry"],
    summary="Revoke a venue from now on",
)
async def revoke_venue(venue_id: str, _: Admin, service: Service) -> dict[str, Any]:
    try:
        venue = await service.revoke_venue(venue_id)
    except Refused as exc:
        raise HTTPException(exc.status, exc.error) from exc
    except KafkaUnavailable as exc:
        raise unavailable(exc) from exc
    return service.venue_body(venue)


def poster_content(service: ReporterService, venue: VenueEvent) -> poster.PosterContent:
    unit = service.registry.units[venue.unit_id]
    return poster.PosterContent(
        venue_id=venue.venue_id,
        venue_name=venue.name,
        unit_name=unit.name,
        kind=venue.kind,
        payload=service.signer.sign(venue.venue_id),
    )


def printable(service: ReporterService, principal: Principal, venue_id: str) -> VenueEvent:
    venue = venue_in_scope(service, principal, venue_id)
    if venue.revoked_at is not None:
        raise HTTPException(410, f"venue {venue_id!r} is revoked: its QR code is refused")
    return venue


def fonts_of(request: Request) -> poster.PosterFonts:
    fonts: poster.PosterFonts | None = request.app.state.poster_fonts
    if fonts is None:
        raise HTTPException(503, "no font covering Vietnamese is installed (fonts-dejavu-core)")
    return fonts


@router.get(
    "/v1/venues/{venue_id}/qr.png", responses=NO_SUCH, tags=["posters"], summary="A4 poster, PNG"
)
async def poster_png(
    venue_id: str, principal: Reader, service: Service, request: Request
) -> Response:
    content = poster_content(service, printable(service, principal, venue_id))
    body = await asyncio.to_thread(poster.render_png, content, fonts_of(request))
    return Response(body, media_type="image/png")


@router.get(
    "/v1/venues/{venue_id}/qr.svg", responses=NO_SUCH, tags=["posters"], summary="A4 poster, SVG"
)
async def poster_svg(
    venue_id: str, principal: Reader, service: Service, request: Request
) -> Response:
    content = poster_content(service, printable(service, principal, venue_id))
    body = await asyncio.to_thread(poster.render_svg, content, fonts_of(request))
    return Response(body, media_type="image/svg+xml")


@router.get(
    "/v1/units/{unit_id}/posters.zip",
    responses=NO_SUCH,
    tags=["posters"],
    summary="Posters of every registered venue of the unit's subtree, one file each",
)
async def posters_zip(
    unit_id: str,
    principal: Reader,
    service: Service,
    request: Request,
    fmt: Annotated[Literal["svg", "png"], Query(alias="format")] = "svg",
) -> Response:
    check_unit_scope(service, principal, unit_id)
    venues = [
        service.registry.venues[v]
        for v in service.registry.venues_in_subtree(unit_id)
        if service.registry.venues[v].revoked_at is None
    ]
    limit = request.app.state.settings.poster_batch_limit
    if len(venues) > limit:
        raise HTTPException(
            422, f"{len(venues)} venues is more than {limit} posters: export a smaller unit"
        )
    contents = [poster_content(service, v) for v in venues]
    body = await asyncio.to_thread(poster.render_zip, contents, fonts_of(request), fmt)
    headers = {"Content-Disposition": f'attachment; filename="posters-{unit_id}.zip"'}
    return Response(body, media_type="application/zip", headers=headers)


# quarantines -------------------------------------------------------------------------------


@router.post(
    "/v1/quarantines",
    responses=KAFKA_DOWN,
    status_code=201,
    tags=["quarantines"],
    summary="Register a quarantine",
)
async def register_quarantine(body: QuarantineIn, _: Admin, service: Service) -> dict[str, Any]:
    try:
        event = await service.register_quarantine(body)
    except Refused as exc:
        raise HTTPException(exc.status, exc.error) from exc
    except KafkaUnavailable as exc:
        raise unavailable(exc) from exc
    return {
        "person_id": event.person_id,
        "unit_id": event.unit_id,
        "from": event.from_date,
        "to": event.to_date,
    }


# compliance --------------------------------------------------------------------------------


@router.get(
    "/v1/compliance",
    responses=NO_SUCH,
    tags=["compliance"],
    summary="Compliance of a unit on a day",
)
async def compliance(
    principal: Reader,
    service: Service,
    unit_id: Annotated[str, Query()],
    date_text: Annotated[str, Query(alias="date")],
) -> JSONResponse:
    day = day_param(date_text, "date")
    check_unit_scope(service, principal, unit_id)
    started = time.perf_counter()
    body = await service.store.compliance(unit_id, day)
    level = service.registry.units[unit_id].level
    QUERY_DURATION.labels(scope=level).observe(time.perf_counter() - started)
    return JSONResponse(body)


@router.get(
    "/v1/compliance.csv",
    responses=NO_SUCH,
    tags=["compliance"],
    summary="One row per unit of the subtree per day, safe to open in a spreadsheet",
)
async def compliance_csv(
    principal: Reader,
    service: Service,
    request: Request,
    unit_id: Annotated[str, Query()],
    from_text: Annotated[str, Query(alias="from")],
    to_text: Annotated[str, Query(alias="to")],
) -> StreamingResponse:
    first, last = day_param(from_text, "from"), day_param(to_text, "to")
    if last < first:
        raise HTTPException(422, "'to' is before 'from'")
    check_unit_scope(service, principal, unit_id)
    units = service.registry.subtree(unit_id)
    days = list(days_between(first, last))
    limit = request.app.state.settings.csv_max_rows
    if len(units) * len(days) > limit:
        raise HTTPException(422, f"more than {limit} rows: ask for fewer days or a smaller unit")

    async def body() -> AsyncIterator[str]:
        yield csv_export.encode_rows([], header=True)
        step = max(1, 3000 // len(units))  # days per Redis round trip (6 commands a row)
        for start in range(0, len(days), step):
            chunk = days[start : start + step]
            figures = await service.store.figures_days(units, chunk)
            rows = [
                csv_export.row_of(row, service.registry.units[row.unit_id])
                for day in chunk
                for row in figures[day]
            ]
            yield csv_export.encode_rows(rows, header=False)

    filename = f"compliance-{unit_id}-{first.isoformat()}-{last.isoformat()}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
