"""The FastAPI app every service starts from: health, readiness, metrics and uniform errors.

Every refusal is answered by one handler as `{"error": "..."}`: `ApiError`, FastAPI's own
validation (422), Starlette's routing (404, 405), a body nested too deeply (400), and the
domain exceptions a service maps to an `ApiError` (`translate`, e.g. Kafka down -> 503).
Anything else is a 500 with the same body and no detail, logged with its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import disable_created_metrics
from starlette.exceptions import HTTPException

from scantrace_common.apidocs import install_api_docs
from scantrace_common.bodylimit import BodyLimitMiddleware
from scantrace_common.disabled_staff import watching
from scantrace_common.errors import ERROR_REF, ERROR_SCHEMA, ApiError
from scantrace_common.metrics import exposition
from scantrace_common.settings import CommonSettings

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[FastAPI], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
#: How a service answers a domain exception that escapes a route (e.g. Kafka down -> 503).
Translations = Mapping[type[Exception], Callable[[Exception], ApiError]]


def create_app(
    *,
    title: str,
    settings: CommonSettings,
    readiness_checks: Mapping[str, ReadinessCheck],
    lifespan: Lifespan | None = None,
    version: str = "0.1.0",
    description: str = "",
    max_body_bytes: int = 2 << 20,
    translate: Translations | None = None,
    staff_tokens: bool = False,
) -> FastAPI:
    """A service app: `/healthz`, `/readyz` (200 only while every check passes), `/metrics`.

    Checks take the app so they read clients opened in the lifespan from `app.state`.
    Errors are always `{"error": "..."}` with the right status. `staff_tokens`: the service admits
    staff tokens, so it follows the disabled accounts (`scantrace_common.disabled_staff`) for
    `require_roles` to refuse their tokens.
    """
    # `_created` series double the number of series and no dashboard or alert uses them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    if staff_tokens:
        lifespan = _with_disabled_staff(settings, lifespan)
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load from a CDN; install_api_docs serves its own
        redoc_url=None,
    )
    install_api_docs(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.state.settings = settings
    app.state.auth_secret = settings.auth_secret.get_secret_value()

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="200 only while the broker and Redis connections work",
        responses={503: {"description": "a dependency is not reachable"}},
    )
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        ready = True
        for name, check in readiness_checks.items():
            try:
                await asyncio.wait_for(check(app), 2.0)
                results[name] = "ok"
            except Exception as exc:  # any failure means not ready; the reason is reported
                ready = False
                results[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
        status = "ready" if ready else "not ready"
        return JSONResponse(
            {"status": status, "checks": results}, status_code=200 if ready else 503
        )

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics() -> Response:
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    install_error_handlers(app, translate or {})
    install_error_schema(app)
    return app


def _with_disabled_staff(settings: CommonSettings, inner: Lifespan | None) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with watching(settings.redis_url, settings.namespace) as disabled:
            app.state.disabled_staff = disabled
            if inner is None:
                yield
            else:
                async with inner(app):
                    yield

    return lifespan


def as_api_error(exc: Exception, translate: Translations) -> ApiError:
    """The `ApiError` that answers `exc`: itself, a translation, or a plain 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return ApiError(422, describe_validation(exc.errors()))
    if isinstance(exc, HTTPException):
        return ApiError(exc.status_code, str(exc.detail), headers=exc.headers)
    if isinstance(exc, RecursionError):
        return ApiError(400, "request body nested too deeply: send a flat JSON object")
    for kind in type(exc).__mro__:
        translation = translate.get(kind)
        if translation is not None:
            return translation(exc)
    log.error("unhandled error", exc_info=exc)
    return ApiError(500, "internal error: it is logged; retry later or report it to operators")


def install_error_handlers(app: FastAPI, translate: Translations) -> None:
    """One handler for every exception a route lets out (see the module's docstring)."""

    async def handle(_: Request, exc: Exception) -> Response:
        return as_api_error(exc, translate).response()

    app.state.error_translations = translate
    for kind in (ApiError, HTTPException, RequestValidationError, RecursionError, *translate):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(Exception, handle)


def install_error_schema(app: FastAPI) -> None:
    """The OpenAPI document declares `{"error"}` bodies, FastAPI's `{"detail"}` nowhere."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas["Error"] = ERROR_SCHEMA
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
            _replace_refs(document, "#/components/schemas/HTTPValidationError", ERROR_REF)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _replace_refs(node: Any, old: str, new: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and value == old:
                node[key] = new
            else:
                _replace_refs(value, old, new)
    elif isinstance(node, list):
        for item in node:
            _replace_refs(item, old, new)


def describe_validation(errors: Any) -> str:
    """One readable line from pydantic's error list: `field: problem; ...`."""
    parts = []
    for error in list(errors)[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def noop_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
