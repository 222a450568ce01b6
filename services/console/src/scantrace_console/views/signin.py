"""Sign-in (through the reporter's `POST /v1/sessions`), sign-out, the language switch, home."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from scantrace_common.auth import verify_token
from scantrace_common.timeparse import now_ms, parse_time
from scantrace_console.deps import Api, Csrf, optional_session, sessions_of
from scantrace_console.i18n import LANG_COOKIE, LANGUAGES
from scantrace_console.metrics import SIGNINS
from scantrace_console.pages import render
from scantrace_console.sessions import SESSION_COOKIE, Session
from scantrace_console.upstream import Refused, Unavailable

router = APIRouter()

#: Where each role lands after signing in.
HOME = {
    "admin": "/compliance",
    "official": "/compliance",
    "epidemiologist": "/persons",
    "operator": "/account",
}


def safe_next(value: str | None, role: str) -> str:
    """Only a path of this console (never `//elsewhere`), else the role's home."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return HOME.get(role, "/account")


@router.get("/", include_in_schema=False)
async def home(request: Request) -> Response:
    session = await optional_session(request)
    return RedirectResponse("/signin" if session is None else HOME[session.role], status_code=303)


@router.get("/signin", summary="The sign-in form")
async def signin_form(request: Request, next: str = "", reason: str = "") -> Response:
    return render(
        request,
        "signin.html",
        {"next": next, "reason": reason},
        session=None,
        title="signin.title",
    )


@router.post("/signin", summary="Sign in with a staff id and password")
async def signin(
    request: Request,
    api: Api,
    _: Csrf,
    staff_id: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def again(reason: str, status: int) -> Response:
        data = {"next": next, "reason": reason, "staff_id": staff_id}
        return render(
            request, "signin.html", data, session=None, status=status, title="signin.title"
        )

    try:
        answer = await api.call(
            "reporter",
            "POST",
            "/v1/sessions",
            token=None,
            json={"staff_id": staff_id, "password": password},
        )
    except Unavailable:
        SIGNINS.labels(outcome="unavailable").inc()
        return again("unavailable", 503)
    except Refused as exc:
        outcome = "locked" if exc.status == 429 else "refused"
        SIGNINS.labels(outcome=outcome).inc()
        return again(outcome if exc.status in (401, 429) else "invalid", exc.status)
    token = answer["token"]
    principal = verify_token(request.app.state.auth_secret, token)
    session = Session(
        token=token,
        staff_id=principal.sub,
        role=principal.role,
        units=None if principal.units is None else list(principal.units),
        expires_at_ms=parse_time(answer["expires_at"]),
    )
    cookie = await sessions_of(request).create(session, now_ms())
    SIGNINS.labels(outcome="ok").inc()
    response = RedirectResponse(safe_next(next, session.role), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max(1, (session.expires_at_ms - now_ms()) // 1000),
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.secure_cookies,
    )
    return response


@router.post("/signout", summary="Sign out: the session is deleted at once")
async def signout(request: Request, _: Csrf) -> Response:
    await sessions_of(request).delete(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/signin?reason=signed_out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="strict")
    return response


@router.get("/lang/{lang}", summary="Switch the language (kept in a cookie)")
async def switch_language(request: Request, lang: str, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next, "operator"), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/account", summary="Who is signed in")
async def account(request: Request) -> Response:
    session = await optional_session(request)
    if session is None:
        return RedirectResponse("/signin?next=/account", status_code=303)
    data = {"staff_id": session.staff_id, "role": session.role, "units": session.units}
    return render(request, "account.html", data, session=session, title="account.title")
