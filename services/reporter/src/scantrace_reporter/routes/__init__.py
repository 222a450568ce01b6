"""The reporter's routes of SPEC section 4 (plus batch creation and poster export), by resource."""

from __future__ import annotations

from fastapi import APIRouter

from scantrace_common.auth import AUTH_RESPONSES
from scantrace_reporter.routes import compliance, posters, quarantines, units, venues

router = APIRouter(responses=AUTH_RESPONSES)
for module in (units, venues, posters, quarantines, compliance):
    router.include_router(module.router)
