"""The hot endpoints, served by a pure ASGI middleware ahead of FastAPI's routing.

FastAPI's routing and dependency machinery cost more per request than the whole intake, so
`POST /v1/scans` and `POST /v1/declarations` are answered here; FastAPI still declares them
(for `/openapi.json`). What a handler lets out is rendered by the same function as FastAPI's
exception handler renders it (`scantrace_common.http.as_api_error`): one `{"error"}` answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from scantrace_common.http import Translations, as_api_error

Handler = Callable[[Request], Awaitable[Response]]


class FastRoutes:
    """Serves `routes` ((method, path) -> handler) itself; passes every other request on."""

    def __init__(
        self, app: ASGIApp, *, routes: Mapping[tuple[str, str], Handler], translate: Translations
    ) -> None:
        self.app = app
        self._routes = dict(routes)
        self._translate = translate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self._routes.get((scope["method"], scope["path"]))
            if handler is not None:
                try:
                    response = await handler(Request(scope, receive))
                except Exception as exc:  # every refusal and failure answers as the app's do
                    response = as_api_error(exc, self._translate).response()
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
