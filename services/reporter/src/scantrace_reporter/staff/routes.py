"""`/v1/staff` (admin) and `/v1/sessions` (no token) of SPEC 8.

Kafka or Redis down is answered 503 with Retry-After by the reporter's translations (app.py).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Request

from scantrace_common.auth import AUTH_RESPONSES, Principal, mint_staff_token, require_roles
from scantrace_common.errors import ApiError, error_doc
from scantrace_common.ids import IdStr
from scantrace_common.timeparse import format_time, now_ms
from scantrace_reporter.staff.accounts import StaffAccounts
from scantrace_reporter.staff.lockout import Lockout
from scantrace_reporter.staff.models import SessionIn, StaffIn, public_view

Admin = Annotated[Principal, Depends(require_roles("admin"))]
#: One answer for an unknown id, a wrong password and a disabled account (SPEC 8).
WRONG_CREDENTIALS: Final = "unknown staff id or wrong password"
_REDIS_DOWN: Final = error_doc(
    "Redis unavailable (the accounts and the lockout): retry after Retry-After seconds",
    retry_after=True,
)
_KAFKA_DOWN: Final = error_doc(
    "Kafka unavailable: nothing was stored; retry after Retry-After seconds", retry_after=True
)

router = APIRouter(prefix="/v1", tags=["staff"])


def _accounts(request: Request) -> StaffAccounts:
    accounts: StaffAccounts = request.app.state.staff.accounts
    return accounts


def _lockout(request: Request) -> Lockout:
    lockout: Lockout = request.app.state.staff.lockout
    return lockout


Accounts = Annotated[StaffAccounts, Depends(_accounts)]


@router.post(
    "/staff",
    status_code=201,
    responses={**AUTH_RESPONSES, 409: error_doc("that staff id exists already"), 503: _KAFKA_DOWN},
    summary="Create a staff account",
)
async def create_staff(body: StaffIn, who: Admin, accounts: Accounts) -> dict[str, Any]:
    return public_view(await accounts.create(body, by=who.sub))


@router.get("/staff", responses=AUTH_RESPONSES, summary="Every staff account, by staff_id")
async def list_staff(_: Admin, accounts: Accounts) -> dict[str, Any]:
    return {"staff": [public_view(a) for a in await accounts.all()]}


@router.get(
    "/staff/{staff_id}",
    responses={**AUTH_RESPONSES, 404: error_doc("no such staff account")},
    summary="One staff account",
)
async def get_staff(staff_id: IdStr, _: Admin, accounts: Accounts) -> dict[str, Any]:
    account = await accounts.get(staff_id)
    if account is None:
        raise ApiError(404, f"no staff account {staff_id!r}")
    return public_view(account)


@router.delete(
    "/staff/{staff_id}",
    responses={
        **AUTH_RESPONSES,
        404: error_doc("no such staff account"),
        409: error_doc("an admin cannot disable their own account"),
        503: _KAFKA_DOWN,
    },
    summary="Disable an account: its tokens are refused by every service within 5 s",
)
async def disable_staff(staff_id: IdStr, who: Admin, accounts: Accounts) -> dict[str, Any]:
    if staff_id == who.sub:
        # the last admin disabling themselves would leave nobody to run the installation
        raise ApiError(409, "you cannot disable your own account: ask another admin")
    return public_view(await accounts.disable(staff_id, by=who.sub))


@router.post(
    "/sessions",
    status_code=201,
    responses={
        401: error_doc(WRONG_CREDENTIALS),
        429: error_doc("5 failed sign-ins in 15 minutes: locked for 15 minutes", retry_after=True),
        503: _REDIS_DOWN,
    },
    summary="Sign in: a staff token for the account (no token needed)",
)
async def create_session(body: SessionIn, request: Request, accounts: Accounts) -> dict[str, Any]:
    lockout = _lockout(request)
    locked = await lockout.locked_for(body.staff_id)
    if locked:
        raise _locked(locked)
    account = await accounts.get(body.staff_id)
    good = await accounts.passwords.check(
        None if account is None else account.password_hash, body.password
    )
    if account is None or not good or await accounts.is_disabled(account):
        locked = await lockout.failed(body.staff_id, now_ms())
        if locked:
            raise _locked(locked)
        raise ApiError(401, WRONG_CREDENTIALS)
    await lockout.succeeded(body.staff_id)
    ttl_s: int = request.app.state.settings.session_ttl_s
    token = mint_staff_token(
        request.app.state.auth_secret, account.staff_id, account.role, account.units, ttl_s
    )
    return {"token": token, "expires_at": format_time((now_ms() // 1000 + ttl_s) * 1000)}


def _locked(seconds: int) -> ApiError:
    return ApiError(
        429,
        f"too many failed sign-ins: this account is locked; try again in {seconds // 60 + 1} min",
        retry_after_s=seconds,
    )
