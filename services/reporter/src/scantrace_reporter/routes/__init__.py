"""The reporter's routes of SPEC sections 4 and 10 (plus batch creation and poster export), by
resource."""

from __future__ import annotations

from fastapi import APIRouter

from scantrace_common.auth import AUTH_RESPONSES
from scantrace_reporter.routes import (
    compliance,
    criteria,
    map,
    posters,
    quarantines,
    safety,
    units,
    venues,
)

router = APIRouter()
#: The operations that need a token, with the refusals every one of them can answer.
_with_token = APIRouter(responses=AUTH_RESPONSES)
for module in (units, venues, posters, quarantines, compliance, criteria, safety):
    _with_token.include_router(module.router)
router.include_router(_with_token)
router.include_router(map.router)
