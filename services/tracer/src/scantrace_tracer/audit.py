"""Every call to `/v1/*` written to `audit.v1` before it is answered (SPEC section 5).

`AuditMiddleware` holds each answer (status, headers, body) until its record is acknowledged by
Kafka (acks=all), then sends it; when that is impossible the caller gets a 503 and nothing of the
answer. Being one ASGI layer around the whole app, it sees every call: granted ones, the 401 and
403 of `require_roles`, FastAPI's own 422s, the 404 of an unknown path or case, the 503 of a
Redis failure, a 500. `AuditTrail` sends the records: concurrent calls share one produce
batch, so each waits about one acknowledgement, not a queue of round trips.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Final

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scantrace_common.auth import AuthError, Principal, verify_token
from scantrace_common.errors import ApiError, error_response
from scantrace_common.events import AuditEvent, InvalidEvent, encode_valid
from scantrace_common.http import as_api_error
from scantrace_common.ids import is_valid_id
from scantrace_common.kafka import DurableProducer
from scantrace_common.topics import AUDIT, topic_name
from scantrace_tracer import metrics
from scantrace_tracer.gcpause import GcPause
from scantrace_tracer.store import wall_clock_ms

log = logging.getLogger(__name__)

#: What a caller gets when its call cannot be audited: SPEC 5 forbids answering it.
AUDIT_UNAVAILABLE: Final = (
    "the audit trail (Kafka) did not acknowledge this call's record, so it is not answered; "
    "retry in a few seconds"
)
AUDIT_RETRY_AFTER_S: Final = 5
#: Keys of `request.state` a route sets to name the person its call is about when the path does
#: not (a case's person, the person of a case being opened).
_PERSON: Final = "audit_person_id"
_PRINCIPAL: Final = "principal"  # set by scantrace_common.auth.require_roles


#: How long a call waits for its record at most. The producer bounds each batch by its own ack
#: timeout (5 s) and the batch's outcome decides the answer; this only guards against a hang.
SAFETY_TIMEOUT_S: Final = 15.0


class AuditUnavailable(Exception):
    """The record was not acknowledged in time (broker down, slow, or refusing it)."""


def note_person(request: Request, person_id: str) -> None:
    """The person a call is about, for its audit record (the path's person_id otherwise)."""
    setattr(request.state, _PERSON, person_id)


def staff_ref(principal: Principal) -> str:
    """The staff id recorded for a caller (audit records, `opened_by` of cases)."""
    return principal.sub[:128]


class AuditTrail:
    """Sends audit records and returns once each is acknowledged; batches what arrives together."""

    def __init__(
        self, producer: DurableProducer, namespace: str, *, timeout_s: float = SAFETY_TIMEOUT_S
    ) -> None:
        self._producer = producer
        self._topic = topic_name(AUDIT, namespace)
        self._timeout_s = timeout_s
        #: records waiting for the next produce batch, each with the future its caller awaits
        self._waiting: list[tuple[bytes, bytes, asyncio.Future[BaseException | None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def record(self, event: AuditEvent) -> None:
        """Raises `AuditUnavailable` unless Kafka acknowledged the record within the timeout."""
        try:
            value = encode_valid(event)
        except InvalidEvent as exc:  # a bug: never publish outside the schema, never answer
            log.error("audit record outside its schema, call not answered: %s", exc)
            raise AuditUnavailable(str(exc)) from exc
        done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((event.staff_id.encode(), value, done))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())
        try:
            # a caller that gives up cancels only its own future: the batch goes on for the others
            async with asyncio.timeout(self._timeout_s):
                failure = await done
        except TimeoutError as exc:
            raise AuditUnavailable(f"no acknowledgement within {self._timeout_s}s") from exc
        if failure is not None:
            raise AuditUnavailable(str(failure)) from failure

    async def _flush(self) -> None:
        """Send what waits as one batch, again until nothing waits (group commit)."""
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                failure: BaseException | None = None
                try:
                    await self._producer.send_batch(self._topic, [(k, v) for k, v, _ in batch])
                except Exception as exc:  # every caller of the batch is told; none is answered
                    log.warning("audit batch of %d not acknowledged: %s", len(batch), exc)
                    failure = exc
                for _, _, done in batch:
                    if not done.done():
                        done.set_result(failure)
        finally:
            self._flushing = None

    async def close(self) -> None:
        """Wait (bounded) for the batch in flight; its callers are answered or refused by then."""
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._flushing), self._timeout_s)


class AuditMiddleware:
    """Answers a `/v1/*` call only once its audit record is acknowledged (see the module doc).

    Reads from the app's state: `audit` (the `AuditTrail`), `gc_pause`, `auth_secret` and
    `error_translations` (set by `scantrace_common.http.create_app`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope["app"].state
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        request_state: dict[str, Any] = scope.setdefault("state", {})
        pause: GcPause = state.gc_pause
        pause.enter()
        try:
            await self.app(scope, receive, hold)
        except Exception as exc:  # not answered yet (held): rendered as the app would, audited
            held = _messages(as_api_error(exc, state.error_translations))
        finally:
            # the collection held off runs on the loop's next turn: while the record is acked
            pause.leave()
        status = next((m["status"] for m in held if m["type"] == "http.response.start"), None)
        if status is None:  # the app ended without answering (a bug): a 500, audited as one
            held, status = _messages(as_api_error(RuntimeError("no response"), {})), 500
        try:
            await state.audit.record(_record(scope, request_state, status, state.auth_secret))
        except AuditUnavailable:
            metrics.AUDIT_REFUSED_CALLS.inc()
            held = _messages(ApiError(503, AUDIT_UNAVAILABLE, retry_after_s=AUDIT_RETRY_AFTER_S))
        for message in held:
            await send(message)
        route = scope.get("route")
        if route is not None:  # unknown paths would make a label per probe
            metrics.QUERY_DURATION.labels(endpoint=getattr(route, "path", "?")).observe(
                time.perf_counter() - started
            )


def _messages(error: ApiError) -> list[Message]:
    """The ASGI messages of an error answer."""
    response = error_response(error.status, error.message, error.headers)
    return [
        {"type": "http.response.start", "status": error.status, "headers": response.raw_headers},
        {"type": "http.response.body", "body": response.body},
    ]


def _record(scope: Scope, request_state: dict[str, Any], status: int, secret: str) -> AuditEvent:
    """Who (the token's subject and role), what (route, method, path, query), which person or
    venue, when, and the status of the answer."""
    principal = request_state.get(_PRINCIPAL)
    if not isinstance(principal, Principal):  # refused before the role check: what it claimed
        principal = _claimed(scope, secret)
    routed = getattr(scope.get("route"), "name", None) or "unrouted"
    action = "refused" if status in (401, 403) else routed
    params: dict[str, Any] = scope.get("path_params") or {}
    person = request_state.get(_PERSON, params.get("person_id"))
    venue = params.get("venue_id")
    return AuditEvent(
        staff_id=staff_ref(principal) if principal else "anonymous",
        role=principal.role if principal else "none",
        action=action[:64],
        method=scope["method"][:8],
        path=scope["path"][:512],
        query=scope.get("query_string", b"").decode("latin-1")[:1024],
        # a malformed id (refused with a 422) is in the path, not in the schema's id fields
        person_id=person if isinstance(person, str) and is_valid_id(person) else None,
        venue_id=venue if isinstance(venue, str) and is_valid_id(venue) else None,
        status=status,
        at=wall_clock_ms(),
    )


def _claimed(scope: Scope, secret: str) -> Principal | None:
    """The bearer token's principal when it verifies, else None (an anonymous caller)."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token:
                with contextlib.suppress(AuthError):
                    return verify_token(secret, token.strip())
    return None
