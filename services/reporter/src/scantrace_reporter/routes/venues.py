"""`/v1/venues`: register one or a batch, read one, revoke one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from scantrace_common.ids import IdStr
from scantrace_reporter.deps import Admin, ServiceDep, VenueForReader
from scantrace_reporter.models import BatchItems, VenueIn
from scantrace_reporter.routes.responses import (
    CREATE,
    NO_SUCH,
    UNAVAILABLE,
    batch_answer,
)
from scantrace_reporter.service import only

router = APIRouter(tags=["registry"])


@router.post("/v1/venues", responses=CREATE, status_code=201, summary="Register a venue")
async def create_venue(body: VenueIn, _: Admin, service: ServiceDep) -> dict[str, Any]:
    result = only(await service.create_venues([body]))
    return {"venue_id": result.venue_id, "qr": service.signer.sign(result.venue_id)}


@router.post(
    "/v1/venues/batch",
    responses=UNAVAILABLE,
    summary="Register up to 1000 venues; each item is judged on its own",
)
async def create_venues(items: BatchItems, _: Admin, service: ServiceDep) -> dict[str, Any]:
    results = await service.create_venues(list(items))
    return batch_answer(
        results, lambda e: {"venue_id": e.venue_id, "qr": service.signer.sign(e.venue_id)}
    )


@router.get("/v1/venues/{venue_id}", responses=NO_SUCH, summary="A venue and its QR payload")
async def get_venue(venue: VenueForReader, service: ServiceDep) -> dict[str, Any]:
    return service.venue_body(venue)


@router.delete(
    "/v1/venues/{venue_id}",
    responses={**NO_SUCH, **UNAVAILABLE},
    summary="Revoke a venue from now on",
)
async def revoke_venue(
    venue_id: Annotated[IdStr, Path()], _: Admin, service: ServiceDep
) -> dict[str, Any]:
    return service.venue_body(await service.revoke_venue(venue_id))
