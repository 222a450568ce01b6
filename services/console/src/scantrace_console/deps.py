"""What the views depend on: the signed-in person (or a redirect to sign in), a checked CSRF
token, the API client."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Form, Request

from scantrace_console.pages import csrf_cookie
from scantrace_console.sessions import SESSION_COOKIE, Session, Sessions
from scantrace_console.upstream import Upstream


class NeedsSignIn(Exception):
    """No session, an expired one, or a disabled account: answered by a redirect to sign in."""

    def __init__(self, next_path: str, reason: str = "") -> None:
        super().__init__(reason)
        self.next_path = next_path
        self.reason = reason


class NotAllowed(Exception):
    """The person's role has no business on this page (403, with the page's message)."""


class BadCsrf(Exception):
    """A form without the right CSRF token (403)."""


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def upstream_of(request: Request) -> Upstream:
    upstream: Upstream = request.app.state.upstream
    return upstream


async def current_session(request: Request) -> Session:
    next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    session = await sessions_of(request).get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise NeedsSignIn(quote(next_path))
    if session.staff_id in request.app.state.disabled_staff:
        await sessions_of(request).delete(request.cookies.get(SESSION_COOKIE))
        raise NeedsSignIn(quote(next_path), "disabled")
    return session


async def optional_session(request: Request) -> Session | None:
    try:
        return await current_session(request)
    except NeedsSignIn:
        return None


def roles(*allowed: str) -> Any:
    """A dependency: the session of a person of one of `allowed` roles, else `NotAllowed`."""

    async def dependency(
        session: Annotated[Session, Depends(current_session)],
    ) -> Session:
        if session.role not in allowed:
            raise NotAllowed(session.role)
        return session

    return Depends(dependency)


async def checked_csrf(request: Request, csrf: Annotated[str, Form()] = "") -> None:
    if not sessions_of(request).csrf_ok(csrf_cookie(request), csrf):
        raise BadCsrf()


CurrentSession = Annotated[Session, Depends(current_session)]
Api = Annotated[Upstream, Depends(upstream_of)]
Csrf = Annotated[None, Depends(checked_csrf)]
