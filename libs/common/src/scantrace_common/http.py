"""The FastAPI app every service starts from: health, readiness, metrics and uniform errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import disable_created_metrics

from scantrace_common.apidocs import install_api_docs
from scantrace_common.bodylimit import BodyLimitMiddleware
from scantrace_common.metrics import exposition
from scantrace_common.settings import CommonSettings

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[FastAPI], Awaitable[None]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    *,
    title: str,
    settings: CommonSettings,
    readiness_checks: Mapping[str, ReadinessCheck],
    lifespan: Lifespan | None = None,
    version: str = "0.1.0",
    description: str = "",
    max_body_bytes: int = 2 << 20,
) -> FastAPI:
    """A service app: `/healthz`, `/readyz` (200 only while every check passes), `/metrics`.

    Checks take the app so they read clients opened in the lifespan from `app.state`.
    Errors are always `{"error": "..."}` with the right status.
    """
    # `_created` series double the number of series and no dashboard or alert uses them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
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

    install_error_handlers(app)
    return app


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": describe_validation(exc.errors())}, status_code=422)


def describe_validation(errors: Any) -> str:
    """One readable line from pydantic's error list: `field: problem; ...`."""
    parts = []
    for error in list(errors)[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def noop_lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
