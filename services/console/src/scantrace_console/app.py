"""The console app: pages, static files, the session store and the API clients (lifespan), and
the answers a person sees when something is wrong: a page, never a stack trace."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from importlib import resources

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from scantrace_common.http import create_app
from scantrace_common.redis_client import connect, ping
from scantrace_console.deps import BadCsrf, NeedsSignIn, NotAllowed, optional_session
from scantrace_console.metrics import PAGE_DURATION
from scantrace_console.pages import render, wants_json
from scantrace_console.security import SecurityHeaders
from scantrace_console.sessions import SESSION_COOKIE, Session, Sessions
from scantrace_console.settings import ConsoleSettings
from scantrace_console.upstream import Refused, Service, SignedOut, Unavailable, Upstream
from scantrace_console.views import cases, compliance, persons, signin, staff, venues

log = logging.getLogger(__name__)


def create_console_app(
    settings: ConsoleSettings,
    transports: Mapping[Service, httpx.AsyncBaseTransport] | None = None,
) -> FastAPI:
    """The console; `transports` reach a tracer and a reporter in the same process (tests)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.require_real_secret()
        redis = connect(settings.redis_url)
        upstream = Upstream(
            {"tracer": settings.tracer_base, "reporter": settings.reporter_base},
            settings.console_upstream_timeout_s,
            transports,
        )
        app.state.redis = redis
        app.state.sessions = Sessions(
            redis, settings.namespace, settings.auth_secret.get_secret_value()
        )
        app.state.upstream = upstream
        try:
            yield
        finally:
            await upstream.close()
            await redis.aclose()

    async def redis_ready(app: FastAPI) -> None:
        await ping(app.state.redis)

    async def reporter_ready(app: FastAPI) -> None:
        await app.state.upstream.healthy("reporter")

    async def tracer_ready(app: FastAPI) -> None:
        await app.state.upstream.healthy("tracer")

    app = create_app(
        title="scantrace console",
        settings=settings,
        readiness_checks={"redis": redis_ready, "reporter": reporter_ready, "tracer": tracer_ready},
        lifespan=lifespan,
        description="The staff's web interface (SPEC 8).",
        staff_tokens=True,
    )
    static = resources.files("scantrace_console").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    for module in (signin, compliance, persons, cases, venues, staff):
        app.include_router(module.router)
    install_page_errors(app)
    app.add_middleware(SecurityHeaders)

    @app.middleware("http")
    async def timed(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        if route is not None and not request.url.path.startswith("/static"):
            PAGE_DURATION.labels(page=getattr(route, "path", "other")).observe(
                time.perf_counter() - started
            )
        return response

    return app


def install_page_errors(app: FastAPI) -> None:
    """What a person sees instead of an error body (see the module's docstring)."""

    async def sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NeedsSignIn)
        reason = f"&reason={exc.reason}" if exc.reason else ""
        response = RedirectResponse(f"/signin?next={exc.next_path}{reason}", status_code=303)
        if exc.reason:
            response.delete_cookie(SESSION_COOKIE)
        return response

    async def signed_out(request: Request, exc: Exception) -> Response:
        await request.app.state.sessions.delete(request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/signin?reason=expired", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    async def problem(request: Request, exc: Exception) -> Response:
        status, kind, service, detail = 500, "internal", "", ""
        if isinstance(exc, Unavailable):
            status, kind, service = 503, "unavailable", exc.service
            log.warning("%s unavailable for %s: %s", exc.service, request.url.path, exc.detail)
        elif isinstance(exc, Refused):
            status, kind = exc.status, "refused"
            detail = exc.message
        elif isinstance(exc, NotAllowed):
            status, kind = 403, "not_allowed"
        elif isinstance(exc, BadCsrf):
            status, kind = 403, "csrf"
        elif isinstance(exc, HTTPException):
            status, kind = exc.status_code, "not_found" if exc.status_code == 404 else "bad_request"
        else:
            log.error("unhandled error on %s", request.url.path, exc_info=exc)
        data = {"error": kind, "service": service, "status": status, "detail": detail}
        session = None if kind == "unavailable" and wants_json(request) else await _session(request)
        return render(
            request, "problem.html", data, session=session, status=status, title="problem.title"
        )

    app.add_exception_handler(NeedsSignIn, sign_in)
    app.add_exception_handler(SignedOut, signed_out)
    for kind in (Unavailable, Refused, NotAllowed, BadCsrf, HTTPException, Exception):
        app.add_exception_handler(kind, problem)


async def _session(request: Request) -> Session | None:
    try:
        return await optional_session(request)
    except Exception:  # the page about a problem must not fail itself (Redis may be the problem)
        return None
