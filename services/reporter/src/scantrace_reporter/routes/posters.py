"""Printable posters: one venue's (PNG, SVG), or a unit's subtree as a ZIP."""

from __future__ import annotations

import asyncio
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from scantrace_common.errors import ApiError, error_doc
from scantrace_common.events import VenueEvent
from scantrace_reporter import poster
from scantrace_reporter.deps import FontsDep, ServiceDep, SettingsDep, UnitOfPath, VenueOfPath
from scantrace_reporter.routes.responses import NO_SUCH, Responses, file_doc
from scantrace_reporter.service import ReporterService

router = APIRouter(tags=["posters"])
NO_FONT: Final[Responses] = {503: error_doc("no font covering Vietnamese is installed")}
POSTER: Final[Responses] = {
    **NO_SUCH,
    **NO_FONT,
    410: error_doc("the venue is revoked: its QR code is refused, so it is not printed"),
}


def poster_content(service: ReporterService, venue: VenueEvent) -> poster.PosterContent:
    unit = service.registry.units[venue.unit_id]
    return poster.PosterContent(
        venue_id=venue.venue_id,
        venue_name=venue.name,
        unit_name=unit.name,
        kind=venue.kind,
        payload=service.signer.sign(venue.venue_id),
    )


def printable(venue: VenueEvent) -> VenueEvent:
    if venue.revoked_at is not None:
        raise ApiError(410, f"venue {venue.venue_id!r} is revoked: its QR code is refused")
    return venue


@router.get(
    "/v1/venues/{venue_id}/qr.png",
    response_class=Response,
    responses={**file_doc("image/png", "the poster"), **POSTER},
    summary="A4 poster, PNG",
)
async def poster_png(venue: VenueOfPath, service: ServiceDep, fonts: FontsDep) -> Response:
    content = poster_content(service, printable(venue))
    body = await asyncio.to_thread(poster.render_png, content, fonts)
    return Response(body, media_type="image/png")


@router.get(
    "/v1/venues/{venue_id}/qr.svg",
    response_class=Response,
    responses={**file_doc("image/svg+xml", "the poster"), **POSTER},
    summary="A4 poster, SVG",
)
async def poster_svg(venue: VenueOfPath, service: ServiceDep, fonts: FontsDep) -> Response:
    content = poster_content(service, printable(venue))
    body = await asyncio.to_thread(poster.render_svg, content, fonts)
    return Response(body, media_type="image/svg+xml")


@router.get(
    "/v1/units/{unit_id}/posters.zip",
    response_class=Response,
    responses={**file_doc("application/zip", "one poster per venue"), **NO_SUCH, **NO_FONT},
    summary="Posters of every registered venue of the unit's subtree, one file each",
)
async def posters_zip(
    unit: UnitOfPath,
    service: ServiceDep,
    settings: SettingsDep,
    fonts: FontsDep,
    fmt: Annotated[Literal["svg", "png"], Query(alias="format")] = "svg",
) -> Response:
    venues = [
        service.registry.venues[v]
        for v in service.registry.venues_in_subtree(unit.unit_id)
        if service.registry.venues[v].revoked_at is None
    ]
    limit = settings.poster_batch_limit
    if len(venues) > limit:
        raise ApiError(
            422, f"{len(venues)} venues is more than {limit} posters: export a smaller unit"
        )
    contents = [poster_content(service, v) for v in venues]
    body = await asyncio.to_thread(poster.render_zip, contents, fonts, fmt)
    headers = {"Content-Disposition": f'attachment; filename="posters-{unit.unit_id}.zip"'}
    return Response(body, media_type="application/zip", headers=headers)
