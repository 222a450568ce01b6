"""The gateway's FastAPI app: routes, fast routes, request metrics, the clients of the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scantrace_common import topics
from scantrace_common.errors import ApiError
from scantrace_common.http import Translations, create_app
from scantrace_common.logs import configure_logging
from scantrace_common.qr import QrError, QrVerifier
from scantrace_common.redis_client import connect, ping
from scantrace_gateway import metrics, openapi
from scantrace_gateway.dedup import Deduper, LocalDeduper, RedisDeduper
from scantrace_gateway.fastroutes import FastRoutes, Handler
from scantrace_gateway.publisher import KafkaLink, KafkaSpoolPublisher, Publisher, Unavailable
from scantrace_gateway.ratelimit import RateLimiter, parse_rate_limits
from scantrace_gateway.revocations import RevocationFollower, Revocations, RevokedVenues
from scantrace_gateway.routes import declarations, devices, scans
from scantrace_gateway.settings import GatewaySettings
from scantrace_gateway.spool import claim_slot
from scantrace_gateway.state import Gateway, TokenCache

log = logging.getLogger(__name__)

_ROUTES = {
    "/v1/scans": "/v1/scans",
    "/v1/declarations": "/v1/declarations",
    "/v1/devices": "/v1/devices",
    "/healthz": "/healthz",
    "/readyz": "/readyz",
    "/metrics": "/metrics",
    "/openapi.json": "/openapi.json",
}

#: The hot endpoints, served by `FastRoutes` (FastAPI still declares them, for OpenAPI).
FAST_ROUTES: dict[tuple[str, str], Handler] = {
    ("POST", "/v1/scans"): scans.post_scans,
    ("POST", "/v1/declarations"): declarations.post_declaration,
}


def _unavailable(exc: Exception) -> ApiError:
    retry_after_s = exc.retry_after_s if isinstance(exc, Unavailable) else 5
    return ApiError(
        503,
        f"cannot store it now ({exc}); nothing of this request was accepted: retry",
        retry_after_s=retry_after_s,
    )


#: Domain exceptions a route lets out, as the answers they get.
TRANSLATIONS: Translations = {Unavailable: _unavailable}


class RequestMetrics:
    """Pure ASGI middleware: counts and times every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._counters: dict[tuple[str, int], Any] = {}
        self._timers = {route: metrics.REQUEST_DURATION.labels(route=route) for route in _ROUTES}
        self._timers["other"] = metrics.REQUEST_DURATION.labels(route="other")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope["path"]
        route = _ROUTES.get(path, "other")
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            counter = self._counters.get((route, status))
            if counter is None:
                counter = metrics.REQUESTS.labels(route=route, status=str(status))
                self._counters[(route, status)] = counter
            counter.inc()
            self._timers[route].observe(time.perf_counter() - started)


def _refuse_all(_: str) -> str:
    raise QrError("the gateway has no QR verification keys (SCANTRACE_QR_VERIFY_KEYS)")


def qr_verifier(settings: GatewaySettings) -> Callable[[str], str]:
    if not settings.qr_verify_keys.strip():
        log.error("SCANTRACE_QR_VERIFY_KEYS is empty: every scan will be rejected")
        return _refuse_all
    return QrVerifier.from_env_value(settings.qr_verify_keys).verify


@dataclass
class Overrides:
    """Parts a unit test supplies instead of the real Kafka/spool/Redis-backed ones."""

    publisher: Publisher
    scan_deduper: Deduper | None = None
    declaration_deduper: Deduper | None = None
    verify_qr: Callable[[str], str] | None = None
    revoked: Revocations | None = None


def _gateway(
    settings: GatewaySettings,
    publisher: Publisher,
    scan_deduper: Deduper,
    declaration_deduper: Deduper,
    verify_qr: Callable[[str], str],
    revoked: Revocations,
) -> Gateway:
    return Gateway(
        settings=settings,
        publisher=publisher,
        scan_deduper=scan_deduper,
        declaration_deduper=declaration_deduper,
        limiter=RateLimiter(parse_rate_limits(settings.rate_limits)),
        verify_qr=verify_qr,
        revoked=revoked,
        tokens=TokenCache(settings.auth_secret.get_secret_value()),
        scans_topic=topics.topic_name(topics.SCANS, settings.namespace),
        declarations_topic=topics.topic_name(topics.DECLARATIONS, settings.namespace),
    )


def create_gateway_app(settings: GatewaySettings, overrides: Overrides | None = None) -> FastAPI:
    """The app; with `overrides` it opens no connection at all (unit tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if overrides is not None:
            app.state.gateway = _gateway(
                settings,
                overrides.publisher,
                overrides.scan_deduper or LocalDeduper(),
                overrides.declaration_deduper or LocalDeduper(),
                overrides.verify_qr or qr_verifier(settings),
                overrides.revoked
                if overrides.revoked is not None
                else RevokedVenues(caught_up=True),
            )
            yield
            return
        async with _real_gateway(app, settings):
            yield

    checks = (
        {}
        if overrides is not None
        else {"kafka": _kafka_ready, "redis": _redis_ready, "revocations": _revocations_ready}
    )
    app = create_app(
        title="scantrace scan-gateway",
        settings=settings,
        readiness_checks=checks,
        lifespan=lifespan,
        description="Device enrolment, scans and health declarations intake.",
        translate=TRANSLATIONS,
    )
    app.include_router(devices.router)
    app.include_router(scans.router)
    app.include_router(declarations.router)
    # The last added runs first: metrics see every request, fast routes included.
    app.add_middleware(FastRoutes, routes=FAST_ROUTES, translate=TRANSLATIONS)
    app.add_middleware(RequestMetrics)
    openapi.install(app)
    return app


@asynccontextmanager
async def _real_gateway(app: FastAPI, settings: GatewaySettings) -> AsyncIterator[None]:
    settings.require_real_secret()
    namespace = settings.namespace
    redis = connect(settings.redis_url)
    link = KafkaLink(
        settings.kafka_bootstrap,
        ack_timeout_s=settings.gateway_produce_timeout_s,
        client_id="scantrace-gateway",
    )
    link.start()
    # Give the broker a moment at start-up, so a normal start does not begin in spool mode.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settings.gateway_produce_timeout_s):
            await link.wait_connected()
    spool = claim_slot(
        settings.spool_dir,
        max_bytes=settings.gateway_spool_max_bytes,
        segment_bytes=settings.gateway_spool_segment_bytes,
    )
    publisher = KafkaSpoolPublisher(
        link,
        spool,
        produce_timeout_s=settings.gateway_produce_timeout_s,
        spool_first=settings.gateway_ack == "spool",
        retention_ms=settings.retention_ms,
    )
    publisher.start()
    revoked = RevokedVenues()
    follower = RevocationFollower(
        settings.kafka_bootstrap, topics.topic_name(topics.VENUES, namespace), revoked
    )
    follower.start()
    ttl, timeout = settings.gateway_dedup_ttl_s, settings.gateway_redis_timeout_s
    scan_deduper = RedisDeduper(
        redis, prefix=f"{namespace}gateway:scan:", ttl_s=ttl, timeout_s=timeout
    )
    declaration_deduper = RedisDeduper(
        redis, prefix=f"{namespace}gateway:declaration:", ttl_s=ttl, timeout_s=timeout
    )
    app.state.gateway = _gateway(
        settings, publisher, scan_deduper, declaration_deduper, qr_verifier(settings), revoked
    )
    app.state.redis = redis
    app.state.kafka = link
    app.state.publisher = publisher
    # Everything alive now (modules, FastAPI and pydantic models, clients) lives as long as the
    # process: keep it out of every collection. Full collections walked it all and paused the
    # event loop up to 77 ms here, the p99 of single scans; gen0 runs less often for batch
    # bodies that allocate tens of thousands of objects.
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
    try:
        yield
    finally:
        await publisher.stop()  # flushes what is queued, then closes the spool
        await follower.stop()
        await link.stop()
        await scan_deduper.close()
        await declaration_deduper.close()
        await redis.aclose()


async def _kafka_ready(app: FastAPI) -> None:
    link: KafkaLink = app.state.kafka
    await link.ping()


async def _redis_ready(app: FastAPI) -> None:
    await ping(app.state.redis)


async def _revocations_ready(app: FastAPI) -> None:
    gateway: Gateway = app.state.gateway
    gateway.require_revocations()


def create_app_from_env() -> FastAPI:
    """uvicorn factory: `uvicorn --factory scantrace_gateway.app:create_app_from_env`.

    Runs in every worker process (spawned, so the parent's logging set-up is not inherited).
    """
    settings = GatewaySettings()
    configure_logging("scan-gateway", settings.log_level)
    return create_gateway_app(settings)
