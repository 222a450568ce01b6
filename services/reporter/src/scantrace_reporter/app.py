"""The reporter app: clients opened in the lifespan, consumers in the background, and the answers
the domain exceptions get (`TRANSLATIONS`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

from fastapi import FastAPI
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from scantrace_common.errors import ApiError
from scantrace_common.http import Translations, create_app
from scantrace_common.kafka import DurableProducer, KafkaUnavailable
from scantrace_common.qr import QrSigner
from scantrace_common.redis_client import connect, ping
from scantrace_common.topics import ensure_topics
from scantrace_reporter.consumers import ReporterConsumers
from scantrace_reporter.criteria_files import publishable_sets
from scantrace_reporter.days import DayClock, DayRefused
from scantrace_reporter.keys import Keys
from scantrace_reporter.poster import FontMissing, PosterFonts
from scantrace_reporter.registry import Registry
from scantrace_reporter.routes import router
from scantrace_reporter.safety import SafetyKeys, SafetyStore
from scantrace_reporter.safety_service import SafetyService
from scantrace_reporter.service import ReporterService
from scantrace_reporter.settings import ReporterSettings
from scantrace_reporter.staff.routes import router as staff_router
from scantrace_reporter.staff.runtime import StaffRuntime, staff_ready
from scantrace_reporter.store import ComplianceStore

log = logging.getLogger(__name__)
DEV_SECRETS_FILE = "dev-secrets.json"


def load_signer(settings: ReporterSettings) -> QrSigner:
    """SCANTRACE_QR_SIGNING_KEY, else the local stack's development key, else (development only)
    a throw-away key, with a warning: phones' scans then fail at the gateway."""
    if settings.qr_signing_key is not None:
        return QrSigner.from_env_value(settings.qr_signing_key.get_secret_value())
    path = settings.state_dir / DEV_SECRETS_FILE
    if path.is_file():
        value = json.loads(path.read_text()).get("SCANTRACE_QR_SIGNING_KEY")
        if isinstance(value, str):
            return QrSigner.from_env_value(value)
    if settings.environment != "development":
        raise ValueError("SCANTRACE_QR_SIGNING_KEY must be set outside development")
    log.warning("no SCANTRACE_QR_SIGNING_KEY: using a throw-away key (QR codes will not verify)")
    return QrSigner.generate("dev")


async def start_producer(producer: DurableProducer, attempts: int = 30) -> None:
    for attempt in range(1, attempts + 1):
        try:
            await producer.start()
            return
        except KafkaUnavailable:
            if attempt == attempts:
                raise
            log.warning("Kafka not reachable yet (attempt %d); retrying", attempt)
            await asyncio.sleep(1.0)


def _unavailable(message: str) -> Callable[[Exception], ApiError]:
    def translate(_: Exception) -> ApiError:
        return ApiError(503, message, retry_after_s=5)

    return translate


_REDIS_DOWN: Final = _unavailable(
    "Redis unavailable: retry after Retry-After seconds "
    "(a write already published is applied once Redis is back; retrying it is safe)"
)
#: The domain exceptions a route lets out, as the answers they are (one handler, in create_app).
TRANSLATIONS: Final[Translations] = {
    KafkaUnavailable: _unavailable(
        "Kafka unavailable: nothing was applied; retry after Retry-After seconds"
    ),
    RedisConnectionError: _REDIS_DOWN,
    RedisTimeoutError: _REDIS_DOWN,
    DayRefused: lambda exc: ApiError(422, str(exc)),
}


def create_reporter_app(settings: ReporterSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.require_real_secret()
        signer = load_signer(settings)
        clock = DayClock(settings.tz)
        redis = connect(settings.redis_url)
        store = ComplianceStore(
            redis, Keys(settings.namespace), Registry(clock), clock, settings.retention_days
        )
        await store.load()
        producer = DurableProducer(settings.kafka_bootstrap, client_id="scantrace-reporter")
        await start_producer(producer)
        await ensure_topics(
            settings.kafka_bootstrap, settings.namespace, retention_days=settings.retention_days
        )
        service = ReporterService(
            store=store, publisher=producer, signer=signer, namespace=settings.namespace
        )
        safety_store = SafetyStore(redis, SafetyKeys(settings.namespace))
        await safety_store.load()
        store.safety = safety_store
        safety = SafetyService(store=safety_store, publisher=producer, namespace=settings.namespace)
        await safety.publish_shipped(publishable_sets())
        try:
            app.state.poster_fonts = PosterFonts.discover(
                settings.poster_font, settings.poster_font_bold
            )
        except FontMissing as exc:
            log.error("posters disabled: %s", exc)
            app.state.poster_fonts = None
        app.state.service = service
        app.state.safety = safety
        app.state.redis = redis
        app.state.producer = producer
        consumers = ReporterConsumers(settings, store, producer, safety_store)
        app.state.consumers = consumers if settings.reporter_consumers else None
        app.state.staff = staff = StaffRuntime(settings, redis, producer)
        staff.start()
        tasks: list[asyncio.Task[None]] = []
        if settings.reporter_consumers:
            tasks.append(asyncio.create_task(consumers.run()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await consumers.stop()
            await staff.stop()
            await producer.stop()
            await redis.aclose()

    async def redis_ready(app: FastAPI) -> None:
        await ping(app.state.redis)

    async def kafka_ready(app: FastAPI) -> None:
        await app.state.producer.ping()

    async def consumers_ready(app: FastAPI) -> None:
        consumers: ReporterConsumers | None = app.state.consumers
        if consumers is None:
            return
        if consumers.failure is not None:
            raise RuntimeError(consumers.failure)
        if not consumers.caught_up:
            raise RuntimeError("still reading the registry topics")

    app = create_app(
        title="scantrace reporter",
        settings=settings,
        readiness_checks={
            "redis": redis_ready,
            "kafka": kafka_ready,
            "registry": consumers_ready,
            "staff": staff_ready,
        },
        lifespan=lifespan,
        staff_tokens=True,
        description="Units, venues and their QR posters, quarantines and compliance (SPEC 4).",
        translate=TRANSLATIONS,
    )
    app.include_router(router)
    app.include_router(staff_router)
    return app
