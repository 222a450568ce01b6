"""`/v1/quarantines`: register one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from scantrace_reporter.deps import Admin, ServiceDep
from scantrace_reporter.models import QuarantineIn
from scantrace_reporter.routes.responses import UNAVAILABLE

router = APIRouter(tags=["quarantines"])


@router.post(
    "/v1/quarantines", responses=UNAVAILABLE, status_code=201, summary="Register a quarantine"
)
async def register_quarantine(body: QuarantineIn, _: Admin, service: ServiceDep) -> dict[str, Any]:
    event = await service.register_quarantine(body)
    return {
        "person_id": event.person_id,
        "unit_id": event.unit_id,
        "from": event.from_date,
        "to": event.to_date,
    }
