"""`/v1/criteria`: the criteria sets of SPEC 10, every version; admins publish new ones."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query

from scantrace_common.errors import ApiError, error_doc
from scantrace_common.ids import IdStr
from scantrace_reporter.deps import Admin, SafetyDep, StaffOrVenue
from scantrace_reporter.routes.responses import UNAVAILABLE
from scantrace_reporter.safety_service import criteria_body, parse_criteria

router = APIRouter(tags=["safety"])


@router.get("/v1/criteria", summary="The criteria sets: the newest version of each")
async def list_criteria(_: StaffOrVenue, safety: SafetyDep) -> dict[str, Any]:
    sets = []
    for set_id in sorted(safety.store.criteria):
        versions = sorted(safety.store.criteria[set_id])
        cs = safety.store.criteria[set_id][versions[-1]]
        sets.append(
            {
                "set_id": set_id,
                "version": cs.version,
                "versions": versions,
                "title": cs.title,
                "kinds": list(cs.kinds),
                "validity_days": cs.validity_days,
                "whole": not cs.gaps,
            }
        )
    return {"sets": sets}


@router.get(
    "/v1/criteria/{set_id}",
    responses={404: error_doc("no such set, or no such version of it")},
    summary="A criteria set: its newest version, or the one of ?version=",
)
async def get_criteria(
    set_id: Annotated[IdStr, Path()],
    _: StaffOrVenue,
    safety: SafetyDep,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> dict[str, Any]:
    cs = safety.store.criteria_set(set_id, version)
    if cs is None:
        if version is not None and safety.store.criteria_set(set_id) is not None:
            raise ApiError(404, f"criteria set {set_id!r} has no version {version}")
        raise ApiError(404, f"no criteria set {set_id!r}")
    return {**criteria_body(cs), "versions": sorted(safety.store.criteria[set_id])}


@router.post(
    "/v1/criteria",
    status_code=201,
    responses={
        **UNAVAILABLE,
        409: error_doc("that version of the set exists already (versions are never reused)"),
    },
    summary="Publish a new version of a criteria set",
)
async def publish_criteria(
    body: Annotated[
        dict[str, Any],
        Body(
            description="a criteria set document of SPEC 10 (set_id, version, title, kinds, "
            "criteria, bands, fail_level, validity_days; optional source and gaps)"
        ),
    ],
    _: Admin,
    safety: SafetyDep,
) -> dict[str, Any]:
    event = await safety.publish_criteria(parse_criteria(body))
    return criteria_body(event)
