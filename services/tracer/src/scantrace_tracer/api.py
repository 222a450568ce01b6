"""The tracer's HTTP API (SPEC section 5), for the epidemiologist role only."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from scantrace_common.auth import AUTH_RESPONSES, Principal, principal_from_request, require_roles
from scantrace_common.errors import ApiError
from scantrace_common.events import AuditEvent
from scantrace_common.http import create_app
from scantrace_common.kafka import DurableProducer
from scantrace_common.redis_client import connect, ping
from scantrace_common.timeparse import format_time, parse_time
from scantrace_tracer import metrics, responses
from scantrace_tracer.audit import AuditTrail
from scantrace_tracer.cases import CaseService
from scantrace_tracer.exposures import exposures_json
from scantrace_tracer.fastpipe import FastPipe, RedisReplyError
from scantrace_tracer.gcpause import GcPause
from scantrace_tracer.keys import Keys
from scantrace_tracer.settings import TracerSettings
from scantrace_tracer.store import TracerStore, wall_clock_ms

#: SPEC section 5 names the epidemiologist role; admins are deliberately not let in (least
#: privilege: an admin who traces must hold an epidemiologist token, and is audited as one).
Epidemiologist = Annotated[Principal, Depends(require_roles("epidemiologist"))]
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
PersonId = Annotated[str, Path(pattern=ID_PATTERN)]
#: [from, to] of a query: RFC 3339 with an offset in the document (`format: date-time`, so
#: clients and fuzzers send times); epoch milliseconds are accepted too (`_time`).
_TIME_DOC: dict[str, Any] = {"format": "date-time"}
From = Annotated[
    str, Query(alias="from", description="start, RFC 3339", json_schema_extra=_TIME_DOC)
]
To = Annotated[str, Query(alias="to", description="end, RFC 3339", json_schema_extra=_TIME_DOC)]
VenueId = Annotated[str, Path(pattern=ID_PATTERN)]


def _time(value: str, name: str) -> int:
    try:
        return parse_time(int(value) if value.lstrip("-").isdigit() else value)
    except ValueError as exc:
        raise HTTPException(422, f"{name}: {exc}") from exc


def _window(t1: str, t2: str) -> tuple[int, int]:
    a, b = _time(t1, "from"), _time(t2, "to")
    if b < a:
        raise HTTPException(422, "to must not be before from")
    return a, b


class CaseIn(BaseModel):
    person_id: Id
    infectious_from: str | int
    infectious_to: str | int
    min_overlap_minutes: int = Field(default=15, ge=0, le=1440)


async def _audited(
    request: Request,
    who: Principal,
    action: str,
    work: Callable[[], Awaitable[Response]],
    *,
    person_id: str | None = None,
    venue_id: str | None = None,
) -> Response:
    status = 500
    started = time.perf_counter()
    pause: GcPause = request.app.state.gc_pause
    pause.enter()
    try:
        response = await work()
        status = response.status_code
        return response
    except HTTPException as exc:
        status = exc.status_code
        raise
    finally:
        pause.leave()
        route = request.scope.get("route")
        endpoint = getattr(route, "path", request.url.path)
        metrics.QUERY_DURATION.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        request.app.state.audit.record(
            AuditEvent(
                staff_id=who.sub[:128],
                role=who.role,
                action=action,
                method=request.method,
                path=request.url.path[:512],
                query=str(request.url.query)[:1024],
                person_id=person_id,
                venue_id=venue_id,
                status=status,
                at=wall_clock_ms(),
            )
        )


router = APIRouter(prefix="/v1", tags=["tracer"], responses=AUTH_RESPONSES)


def _store(request: Request) -> TracerStore:
    store: TracerStore = request.app.state.store
    return store


@router.get("/persons/{person_id}/visits", summary="A person's visits overlapping [from, to]")
async def person_visits(
    request: Request,
    who: Epidemiologist,
    person_id: PersonId,
    t1: From,
    t2: To,
) -> Response:
    async def work() -> Response:
        a, b = _window(t1, t2)
        visits = await _store(request).person_visits(person_id, a, b)
        return responses.json_response({"visits": [responses.person_visit(v) for v in visits]})

    return await _audited(request, who, "person_visits", work, person_id=person_id)


@router.get(
    "/persons/{person_id}/exposures", summary="Contacts of a person over [from, to], depth 1 or 2"
)
async def person_exposures(
    request: Request,
    who: Epidemiologist,
    person_id: PersonId,
    t1: From,
    t2: To,
    min_overlap_minutes: Annotated[int, Query(ge=0, le=1440)] = 15,
    depth: Annotated[int, Query(ge=1, le=2)] = 1,
) -> Response:
    async def work() -> Response:
        a, b = _window(t1, t2)
        body = await exposures_json(_store(request), person_id, a, b, min_overlap_minutes, depth)
        return responses.JsonBody(body)

    return await _audited(request, who, "exposures", work, person_id=person_id)


@router.get("/venues/{venue_id}/visits", summary="Visits at a venue overlapping [from, to]")
async def venue_visits(
    request: Request,
    who: Epidemiologist,
    venue_id: VenueId,
    t1: From,
    t2: To,
) -> Response:
    async def work() -> Response:
        a, b = _window(t1, t2)
        found = await _store(request).venue_visits(venue_id, a, b)
        return responses.json_response(
            {"visits": [responses.venue_visit(venue_id, f) for f in found]}
        )

    return await _audited(request, who, "venue_visits", work, venue_id=venue_id)


@router.get("/venues/{venue_id}/occupancy", summary="Visits at a venue now")
async def venue_occupancy(request: Request, who: Epidemiologist, venue_id: VenueId) -> Response:
    async def work() -> Response:
        now = wall_clock_ms()
        present = await _store(request).occupancy(venue_id, now)
        return responses.json_response(
            {"venue_id": venue_id, "at": format_time(now), "present": present}
        )

    return await _audited(request, who, "occupancy", work, venue_id=venue_id)


@router.post("/cases", status_code=202, summary="Open a case: its contacts are traced")
async def open_case(request: Request, who: Epidemiologist, case: CaseIn) -> Response:
    async def work() -> Response:
        a = _time(str(case.infectious_from), "infectious_from")
        b = _time(str(case.infectious_to), "infectious_to")
        if b < a:
            raise HTTPException(422, "infectious_to must not be before infectious_from")
        cases: CaseService = request.app.state.cases
        case_id = await cases.open(
            person_id=case.person_id,
            t1=a,
            t2=b,
            min_overlap_minutes=case.min_overlap_minutes,
            opened_by=who.sub[:64],
        )
        return responses.json_response({"case_id": case_id}, status_code=202)

    return await _audited(request, who, "open_case", work, person_id=case.person_id)


@router.get("/cases/{case_id}", summary="A case's status and depth-1 contacts")
async def get_case(request: Request, who: Epidemiologist, case_id: str) -> Response:
    async def work() -> Response:
        cases: CaseService = request.app.state.cases
        body: dict[str, Any] | None = await cases.get(case_id)
        if body is None:
            raise HTTPException(404, "no such case")
        return responses.json_response(body)

    return await _audited(request, who, "get_case", work)


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
        audit.start()
        cases = CaseService(
            store, producer, namespace=settings.namespace, ttl_s=settings.tracer_case_ttl_s
        )
        app.state.store, app.state.producer = store, producer
        app.state.audit, app.state.cases = audit, cases
        app.state.gc_pause = GcPause()
        worker = None
        if settings.tracer_worker:
            from scantrace_tracer.worker import start_worker

            worker = await start_worker(settings, store, producer)
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
        staff_tokens=True,
    )
    app.include_router(router)
    register_store_errors(app)

    @app.middleware("http")
    async def audit_refused_calls(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Refused calls are audited too: a probe with a stolen or wrong-role token is what an
        # audit most needs to show. Granted calls are audited by `_audited` with their subject.
        response = await call_next(request)
        if response.status_code in (401, 403) and request.url.path.startswith("/v1/"):
            request.app.state.audit.record(_refused_call(request, response.status_code))
        return response

    return app


def _refused_call(request: Request, status: int) -> AuditEvent:
    """Who the caller claimed to be: the token's subject and role when it verifies, else anonymous."""
    staff_id, role = "anonymous", "none"
    try:
        claimed = principal_from_request(request, request.app.state.auth_secret)
        staff_id, role = claimed.sub[:128], claimed.role
    except ApiError:
        pass
    return AuditEvent(
        staff_id=staff_id,
        role=role,
        action="refused",
        method=request.method,
        path=request.url.path[:512],
        query=str(request.url.query)[:1024],
        status=status,
        at=wall_clock_ms(),
    )


#: What a query that Redis could not serve gets: 503, not a 500 (the request was fine).
STORE_UNAVAILABLE = (
    "the visit store (Redis) did not answer in time; retry in a few seconds, or narrow the "
    "query (a shorter window, or depth 1)"
)


def register_store_errors(app: FastAPI) -> None:
    """Redis down, restarting or too slow for one query: 503 with Retry-After."""

    async def unavailable(request: Request, exc: Exception) -> Response:
        return JSONResponse(
            {"error": STORE_UNAVAILABLE}, status_code=503, headers={"Retry-After": "5"}
        )

    for error in (RedisError, RedisReplyError, TimeoutError, ConnectionError):
        app.add_exception_handler(error, unavailable)


def create_app_from_env() -> FastAPI:
    settings = TracerSettings()
    settings.require_real_secret()
    return create_tracer_app(settings)
