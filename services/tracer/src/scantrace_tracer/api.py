"""The tracer's HTTP API (SPEC section 5), for the epidemiologist role only.

Routes raise `ApiError` or let a store or broker failure out, which `create_app` translates
(`ERRORS`: 503 with Retry-After); every `/v1/*` call is audited by `audit.AuditMiddleware`.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from scantrace_common.auth import AUTH_RESPONSES
from scantrace_common.errors import ApiError, error_doc
from scantrace_common.events import InvalidEvent
from scantrace_common.http import Translations, create_app
from scantrace_common.ids import IdStr, UuidStr
from scantrace_common.kafka import DurableProducer, KafkaUnavailable
from scantrace_common.redis_client import connect, ping
from scantrace_common.timeparse import format_time
from scantrace_tracer import responses
from scantrace_tracer.audit import AuditMiddleware, AuditTrail, note_person, staff_ref
from scantrace_tracer.cases import CaseService
from scantrace_tracer.cluster_store import ClusterStore
from scantrace_tracer.deps import (
    CaseId,
    Cases,
    Clusters,
    Epidemiologist,
    FollowUps,
    PersonId,
    Store,
    VenueId,
    Window,
    epidemiologist,
    time_window,
)
from scantrace_tracer.exposures import exposures_json
from scantrace_tracer.fastpipe import FastPipe, RedisReplyError
from scantrace_tracer.followup_store import FollowUpStore
from scantrace_tracer.gcpause import GcPause
from scantrace_tracer.keys import Keys
from scantrace_tracer.settings import TracerSettings
from scantrace_tracer.store import TracerStore, wall_clock_ms

#: What a query that Redis could not serve gets: 503, not a 500 (the request was fine).
STORE_UNAVAILABLE: Final = (
    "the visit store (Redis) did not answer in time; retry in a few seconds, or narrow the "
    "query (a shorter window, or depth 1)"
)
BROKER_UNAVAILABLE: Final = (
    "Kafka did not acknowledge the case's event, so the case is not opened; retry in a few seconds"
)
RETRY_AFTER_S: Final = 5


def _store_unavailable(_: Exception) -> ApiError:
    return ApiError(503, STORE_UNAVAILABLE, retry_after_s=RETRY_AFTER_S)


#: The tracer's domain exceptions as answers (the one handler of `create_app` applies them).
ERRORS: Final[Translations] = {
    RedisError: _store_unavailable,
    RedisReplyError: _store_unavailable,
    TimeoutError: _store_unavailable,
    ConnectionError: _store_unavailable,
    KafkaUnavailable: lambda _: ApiError(503, BROKER_UNAVAILABLE, retry_after_s=RETRY_AFTER_S),
    InvalidEvent: lambda exc: ApiError(422, f"the case cannot be recorded: {exc}"),
}

#: Every /v1 operation's refusals, for the OpenAPI document (each answers `{"error"}`).
ERROR_RESPONSES: Final[dict[int | str, dict[str, object]]] = {
    **AUTH_RESPONSES,
    404: error_doc("no such case (GET /v1/cases/{case_id}), or no such path"),
    422: error_doc(
        "a malformed id, time, date or parameter; `to` before `from`; a window over 31 days; "
        "follow-ups asked by neither or both of case_id and date"
    ),
    503: error_doc(
        "Redis or Kafka did not answer in time, or the call's audit record was not "
        "acknowledged (nothing of the answer is disclosed); retry after the given seconds",
        retry_after=True,
    ),
}

router = APIRouter(
    prefix="/v1",
    tags=["tracer"],
    dependencies=[Depends(epidemiologist)],
    responses=ERROR_RESPONSES,
)


class CaseIn(BaseModel):
    person_id: IdStr
    infectious_from: str | int
    infectious_to: str | int
    min_overlap_minutes: int = Field(default=15, ge=0, le=1440)


@router.get(
    "/persons/{person_id}/visits",
    name="person_visits",
    summary="A person's visits overlapping [from, to]",
)
async def person_visits(store: Store, person_id: PersonId, window: Window) -> Response:
    visits = await store.person_visits(person_id, window.start, window.end)
    return responses.json_response({"visits": [responses.person_visit(v) for v in visits]})


@router.get(
    "/persons/{person_id}/exposures",
    name="exposures",
    summary="Contacts of a person over [from, to], depth 1 or 2",
)
async def person_exposures(
    store: Store,
    person_id: PersonId,
    window: Window,
    min_overlap_minutes: Annotated[int, Query(ge=0, le=1440)] = 15,
    depth: Annotated[int, Query(ge=1, le=2)] = 1,
) -> Response:
    body = await exposures_json(
        store, person_id, window.start, window.end, min_overlap_minutes, depth
    )
    return responses.JsonBody(body)


@router.get(
    "/venues/{venue_id}/visits",
    name="venue_visits",
    summary="Visits at a venue overlapping [from, to]",
)
async def venue_visits(store: Store, venue_id: VenueId, window: Window) -> Response:
    found = await store.venue_visits(venue_id, window.start, window.end)
    return responses.json_response({"visits": [responses.venue_visit(venue_id, f) for f in found]})


@router.get("/venues/{venue_id}/occupancy", name="occupancy", summary="Visits at a venue now")
async def venue_occupancy(store: Store, venue_id: VenueId) -> Response:
    now = wall_clock_ms()
    present = await store.occupancy(venue_id, now)
    return responses.json_response(
        {"venue_id": venue_id, "at": format_time(now), "present": present}
    )


@router.post(
    "/cases",
    status_code=202,
    name="open_case",
    summary="Open a case: its contacts are traced",
)
async def open_case(request: Request, who: Epidemiologist, cases: Cases, case: CaseIn) -> Response:
    note_person(request, case.person_id)
    window = time_window(
        case.infectious_from, case.infectious_to, ("infectious_from", "infectious_to")
    )
    case_id = await cases.open(
        person_id=case.person_id,
        t1=window.start,
        t2=window.end,
        min_overlap_minutes=case.min_overlap_minutes,
        opened_by=staff_ref(who),
    )
    return responses.json_response({"case_id": case_id}, status_code=202)


@router.get("/cases/{case_id}", name="get_case", summary="A case's status and depth-1 contacts")
async def get_case(request: Request, cases: Cases, case_id: CaseId) -> Response:
    found = await cases.get(case_id)
    if found is None:
        raise ApiError(404, "no such case: check the case_id (cases expire with the retention)")
    if found.person_id is not None:
        note_person(request, found.person_id)
    return responses.json_response(found.body)


@router.get(
    "/follow-ups",
    name="follow_ups",
    summary="Follow-up records of a case, or of a local day, with their daily statuses",
)
async def list_follow_ups(
    request: Request,
    cases: Cases,
    follow_ups: FollowUps,
    case_id: Annotated[UuidStr | None, Query(description="the records of one case")] = None,
    day: Annotated[
        date | None,
        Query(alias="date", description="the records that follow this local day (YYYY-MM-DD)"),
    ] = None,
    status: Annotated[
        Literal["active", "completed", "lost"] | None,
        Query(description="with `date`: only the records of this status now"),
    ] = None,
) -> Response:
    """Exactly one of `case_id` and `date`; statuses are those at the request."""
    if (case_id is None) == (day is None):
        raise ApiError(422, "give exactly one of case_id and date")
    if status is not None and day is None:
        raise ApiError(422, "status filters the records of a date: give date too")
    now = wall_clock_ms()
    if day is not None:
        first, last = follow_ups.dates_kept(now)
        if not first <= day <= last:
            raise ApiError(
                422, f"date: records are kept for the days {first} to {last} (the retention)"
            )
        found = await follow_ups.for_date(day, status, now)
    elif case_id is not None:
        case = await cases.get(case_id)
        if case is not None and case.person_id is not None:
            note_person(request, case.person_id)
        found = await follow_ups.for_case(case_id, now)
    return responses.json_response({"follow_ups": [t.body() for t in found]})


@router.get(
    "/clusters",
    name="clusters",
    summary="Venue clusters overlapping [from, to] (SPEC 11)",
)
async def list_clusters(
    clusters: Clusters,
    window: Window,
    unit_id: Annotated[
        IdStr | None, Query(description="not served yet: the tracer has no unit tree")
    ] = None,
) -> Response:
    if unit_id is not None:
        raise ApiError(
            422,
            "unit_id is not served yet: the tracer does not read the unit registry (units.v1), "
            "so it cannot tell a unit's subtree; ask without it",
        )
    found = await clusters.between(window.start, window.end, wall_clock_ms())
    return responses.json_response({"clusters": found})


async def _redis_ready(app: FastAPI) -> None:
    await ping(app.state.store.redis)


async def _kafka_ready(app: FastAPI) -> None:
    producer: DurableProducer = app.state.producer
    await producer.ping()


def create_tracer_app(settings: TracerSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = connect(settings.redis_url)
        lanes = [FastPipe(settings.redis_url) for _ in range(settings.tracer_redis_lanes)]
        readers = [FastPipe(settings.redis_url) for _ in range(settings.tracer_redis_readers)]
        store = TracerStore(
            redis,
            Keys(settings.namespace),
            retention_days=settings.retention_days,
            fast=lanes,
            readers=readers,
            tails_remembered=settings.tracer_tails_remembered,
        )
        producer = DurableProducer(settings.kafka_bootstrap, client_id="scantrace-tracer")
        await producer.start()
        audit = AuditTrail(producer, settings.namespace)
        follow_ups = FollowUpStore.from_settings(redis, store.keys, settings, quarantines=True)
        cluster_store = ClusterStore.from_settings(store, settings)
        cases = CaseService(
            store,
            producer,
            namespace=settings.namespace,
            retention_days=settings.retention_days,
            follow_ups=follow_ups,
            clusters=cluster_store,
        )
        app.state.store, app.state.producer = store, producer
        app.state.audit, app.state.cases = audit, cases
        app.state.follow_ups, app.state.clusters = follow_ups, cluster_store
        worker = None
        if settings.tracer_worker:
            from scantrace_tracer.worker import start_worker

            worker = await start_worker(settings, store, producer, follow_ups, cluster_store)
        await cases.resume()
        # What is alive now lives as long as the process: keep it out of every collection.
        # Full collections walk it all and pause the loop (measured in the gateway: the p99);
        # queries and batches allocate tens of thousands of objects, so gen 0 runs less often.
        gc.freeze()
        gc.set_threshold(20_000, 20, 20)
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await cases.close()
            await audit.close()
            await producer.stop()
            for pipe in lanes + readers:
                await pipe.close()
            await redis.aclose()

    app = create_app(
        title="scantrace tracer",
        settings=settings,
        readiness_checks={"redis": _redis_ready, "kafka": _kafka_ready},
        lifespan=lifespan,
        description="Visits, exposures, occupancy and cases (SPEC section 5).",
        translate=ERRORS,
        staff_tokens=True,
    )
    app.include_router(router)
    # Queries hold off garbage collection while they run (see gcpause); the audit layer does it.
    app.state.gc_pause = GcPause()
    app.add_middleware(AuditMiddleware)
    return app


def create_app_from_env() -> FastAPI:
    settings = TracerSettings()
    settings.require_real_secret()
    return create_tracer_app(settings)
