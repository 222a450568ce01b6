"""A venue's owner token, self-assessments and inspections (SPEC 10)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from scantrace_common.auth import VENUE_TTL_S, mint_venue_token
from scantrace_common.errors import ApiError, error_doc
from scantrace_common.timeparse import format_time, now_ms
from scantrace_reporter.deps import (
    Assessor,
    Reader,
    SafetyDep,
    VenueForAssessor,
    VenueForReader,
    VenueOfPath,
)
from scantrace_reporter.models import AssessmentIn, InspectionIn
from scantrace_reporter.routes.responses import NO_SUCH, UNAVAILABLE, Responses
from scantrace_reporter.safety_service import assessment_body, inspection_body, status_body

router = APIRouter(tags=["safety"])

REVOKED: Responses = {410: error_doc("the venue is revoked")}


@router.post(
    "/v1/venues/{venue_id}/owner-token",
    status_code=201,
    responses={**NO_SUCH, **REVOKED},
    summary="A token for the venue's owner: reads and assesses this venue only",
)
async def owner_token(venue: VenueOfPath, _: Reader, request: Request) -> dict[str, Any]:
    if venue.revoked_at is not None:
        raise ApiError(410, f"venue {venue.venue_id!r} is revoked")
    secret: str = request.app.state.auth_secret
    expires_at = now_ms() + VENUE_TTL_S * 1000
    return {
        "token": mint_venue_token(secret, venue.venue_id),
        "venue_id": venue.venue_id,
        "expires_at": format_time(expires_at - expires_at % 1000),
    }


@router.post(
    "/v1/venues/{venue_id}/assessments",
    status_code=201,
    responses={**NO_SUCH, **REVOKED, **UNAVAILABLE},
    summary="Self-assess the venue against a criteria set",
)
async def assess(
    body: AssessmentIn, venue: VenueForAssessor, principal: Assessor, safety: SafetyDep
) -> dict[str, Any]:
    event = await safety.assess(venue, body, by=principal.sub)
    return assessment_body(event)


@router.get(
    "/v1/venues/{venue_id}/assessments",
    responses=NO_SUCH,
    summary="The venue's assessments, newest first, and its map status now",
)
async def list_assessments(venue: VenueForReader, safety: SafetyDep) -> dict[str, Any]:
    events = await safety.store.assessments_of(venue.venue_id)
    return {
        "venue_id": venue.venue_id,
        **status_body(safety.store.status(venue.venue_id, now_ms())),
        "assessments": [assessment_body(a) for a in events],
    }


@router.post(
    "/v1/venues/{venue_id}/inspections",
    status_code=201,
    responses={**NO_SUCH, **REVOKED, **UNAVAILABLE},
    summary="Record an inspection; suspend=true suspends the venue until a later one passes",
)
async def inspect(
    body: InspectionIn, venue: VenueOfPath, principal: Reader, safety: SafetyDep
) -> dict[str, Any]:
    event = await safety.inspect(venue, body, by=principal.sub)
    return {**inspection_body(event), **status_body(safety.store.status(venue.venue_id, now_ms()))}


@router.get(
    "/v1/venues/{venue_id}/inspections",
    responses=NO_SUCH,
    summary="The venue's inspections, newest first",
)
async def list_inspections(venue: VenueOfPath, safety: SafetyDep) -> dict[str, Any]:
    events = await safety.store.inspections_of(venue.venue_id)
    return {"venue_id": venue.venue_id, "inspections": [inspection_body(n) for n in events]}
