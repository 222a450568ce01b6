"""The reporter's routes of SPEC sections 4 and 10 (plus batch creation and poster export), by
resource."""

from __future__ import annotations

from fastapi import APIRouter

from scantrace_common.auth import AUTH_RESPONSES
from scantrace_reporter.routes import (
    compliance,
    criteria,
    posters,
    quarantines,
    safety,
    units,
    venues,
)

router = APIRouter(responses=AUTH_RESPONSES)
for module in (units, venues, posters, quarantines, compliance, criteria, safety):
    router.include_router(module.router)
