"""Rendering a page: its Jinja template, or with `?format=json` its data alone (the JSON twin,
which the tests read), with what every template needs: the texts, the person, the CSRF token."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any, Final
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from scantrace_common.timeparse import parse_time
from scantrace_console.i18n import DEFAULT_LANGUAGE, LANG_COOKIE, Translator
from scantrace_console.sessions import ANON_COOKIE, SESSION_COOKIE, Session, Sessions

#: The cookie the pages' CSRF token is derived from, set on the first page that needs one.
NEW_ANON_COOKIE: Final = "new_anon_cookie"


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("scantrace_console", "templates"),
        autoescape=select_autoescape(("html", "svg")),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def local(value: str | int | None, tz: str, pattern: str = "%d/%m/%Y %H:%M") -> str:
    """An API time (RFC 3339 or epoch ms) in the console's zone (SCANTRACE_TZ)."""
    if value is None or value == "":
        return ""
    moment = datetime.fromtimestamp(parse_time(value) / 1000, tz=UTC)
    return moment.astimezone(ZoneInfo(tz)).strftime(pattern)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def wants_json(request: Request) -> bool:
    return request.query_params.get("format") == "json"


def translator(request: Request) -> Translator:
    return Translator(request.cookies.get(LANG_COOKIE, DEFAULT_LANGUAGE))


def csrf_cookie(request: Request) -> str:
    """The cookie a form's CSRF token is bound to: the session's, else an anonymous one."""
    cookie = request.cookies.get(SESSION_COOKIE) or request.cookies.get(ANON_COOKIE)
    if cookie is None:
        cookie = getattr(request.state, NEW_ANON_COOKIE, None)
        if cookie is None:
            from scantrace_console.sessions import new_cookie_value

            cookie = new_cookie_value()
            setattr(request.state, NEW_ANON_COOKIE, cookie)
    return cookie


def render(
    request: Request,
    template: str,
    data: dict[str, Any],
    *,
    session: Session | None,
    status: int = 200,
    title: str = "",
    extra: dict[str, Any] | None = None,
) -> Response:
    """The page, or its JSON twin: `data` only (the template may also use `extra`)."""
    if wants_json(request):
        return JSONResponse(data, status_code=status)
    settings = request.app.state.settings
    sessions: Sessions = request.app.state.sessions
    t = translator(request)
    context = {
        **data,
        **(extra or {}),
        "t": t,
        "lang": t.lang,
        "title": title,
        "session": session,
        "csrf": sessions.csrf_token(csrf_cookie(request)),
        "tz": settings.tz,
        "local": lambda v, p="%d/%m/%Y %H:%M": local(v, settings.tz, p),
        "percent": percent,
        "path": request.url.path,
        "query": request.url.query,
    }
    html = environment().get_template(template).render(context)
    response = HTMLResponse(html, status_code=status)
    set_anon_cookie(request, response)
    return response


def set_anon_cookie(request: Request, response: Response) -> None:
    new = getattr(request.state, NEW_ANON_COOKIE, None)
    if new is not None:
        response.set_cookie(
            ANON_COOKIE,
            new,
            httponly=True,
            samesite="strict",
            secure=request.app.state.settings.secure_cookies,
        )
