"""Calls to the tracer and the reporter with the signed-in person's token.

The console holds no privilege of its own: every call carries the person's token, so an official
sees only their units and the tracer audits an epidemiologist's clicks exactly as their API calls.
What can go wrong is sorted for the pages: the service is unavailable (`Unavailable`), the token
is no longer good (`SignedOut`: expired, or the account disabled), or the API refused the request
(`Refused`, with its message).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Final, Literal

import httpx

from scantrace_console.metrics import UPSTREAM_UNAVAILABLE

Service = Literal["tracer", "reporter"]
#: Answers that mean the service cannot serve now (not that the request was wrong).
_UNAVAILABLE: Final = frozenset({502, 503, 504})


class Unavailable(Exception):
    def __init__(self, service: Service, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail


class SignedOut(Exception):
    """The API answered 401: the session's token expired or its account is disabled."""


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return response.text[:300]


class Upstream:
    """One pooled HTTP client per service, opened in the lifespan."""

    def __init__(
        self,
        bases: Mapping[Service, str],
        timeout_s: float,
        transports: Mapping[Service, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        """`transports` reach apps served in the same process (integration tests)."""
        self._clients: dict[Service, httpx.AsyncClient] = {
            name: httpx.AsyncClient(
                base_url=base, timeout=timeout_s, transport=(transports or {}).get(name)
            )
            for name, base in bases.items()
        }

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def healthy(self, service: Service) -> None:
        """Raises unless the service answers its health check (the console's readiness)."""
        response = await self._clients[service].get("/healthz", timeout=2.0)
        response.raise_for_status()

    async def call(
        self,
        service: Service,
        method: str,
        path: str,
        *,
        token: str | None,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """The JSON answer of a 2xx; raises as the module's docstring says otherwise."""
        response = await self._send(service, method, path, token, params, json)
        return response.json() if response.content else None

    @asynccontextmanager
    async def stream(
        self, service: Service, path: str, *, token: str, params: Mapping[str, Any]
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET (CSV downloads); its status is checked before it is yielded."""
        client = self._clients[service]
        request = client.build_request("GET", path, params=params, headers=_auth(token))
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._unavailable(service, exc) from exc
        try:
            if response.status_code >= 300:
                await response.aread()
                self._check(service, response)
            yield response
        finally:
            await response.aclose()

    async def _send(
        self,
        service: Service,
        method: str,
        path: str,
        token: str | None,
        params: Mapping[str, Any] | None,
        json: Any,
    ) -> httpx.Response:
        try:
            response = await self._clients[service].request(
                method, path, params=params, json=json, headers=_auth(token)
            )
        except httpx.HTTPError as exc:
            raise self._unavailable(service, exc) from exc
        self._check(service, response)
        return response

    def _check(self, service: Service, response: httpx.Response) -> None:
        if response.status_code < 300:
            return
        if response.status_code in _UNAVAILABLE:
            UPSTREAM_UNAVAILABLE.labels(service=service).inc()
            raise Unavailable(service, _message(response))
        if response.status_code == 401 and "authorization" in response.request.headers:
            raise SignedOut(_message(response))
        raise Refused(response.status_code, _message(response))

    @staticmethod
    def _unavailable(service: Service, exc: httpx.HTTPError) -> Unavailable:
        UPSTREAM_UNAVAILABLE.labels(service=service).inc()
        return Unavailable(
            service, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        )


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}
