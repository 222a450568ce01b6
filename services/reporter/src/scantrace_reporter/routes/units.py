"""`/v1/units`: create one or a batch, read one with its children."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from scantrace_common.events import UnitEvent
from scantrace_reporter.deps import Admin, ServiceDep, UnitOfPath
from scantrace_reporter.models import BatchItems, UnitIn
from scantrace_reporter.routes.responses import (
    CREATE,
    NO_SUCH,
    UNAVAILABLE,
    batch_answer,
)
from scantrace_reporter.service import ReporterService, only

router = APIRouter(tags=["registry"])


def unit_body(unit: UnitEvent, service: ReporterService) -> dict[str, Any]:
    return {
        "unit_id": unit.unit_id,
        "name": unit.name,
        "parent_id": unit.parent_id,
        "level": unit.level,
        "children": service.registry.children.get(unit.unit_id, []),
    }


@router.post("/v1/units", responses=CREATE, status_code=201, summary="Create a unit")
async def create_unit(body: UnitIn, _: Admin, service: ServiceDep) -> dict[str, Any]:
    result = only(await service.create_units([body]))
    return unit_body(result, service)


@router.post(
    "/v1/units/batch",
    responses=UNAVAILABLE,
    summary="Create up to 1000 units; each item is judged on its own",
)
async def create_units(items: BatchItems, _: Admin, service: ServiceDep) -> dict[str, Any]:
    results = await service.create_units(list(items))
    return batch_answer(results, lambda e: {"unit_id": e.unit_id})


@router.get("/v1/units/{unit_id}", responses=NO_SUCH, summary="A unit and its children")
async def get_unit(unit: UnitOfPath, service: ServiceDep) -> dict[str, Any]:
    return unit_body(unit, service)
