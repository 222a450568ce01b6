"""What the tracer's routes are given: the caller, the store, the case service, the settings,
the ids of the path and the time window of the query (`Annotated` dependencies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Final

from fastapi import Depends, Path, Query, Request

from scantrace_common.auth import Principal, require_roles
from scantrace_common.errors import ApiError
from scantrace_common.ids import ID_HELP, IdStr, UuidStr
from scantrace_common.timeparse import parse_time
from scantrace_tracer.cases import CaseService
from scantrace_tracer.cluster_store import ClusterStore
from scantrace_tracer.followup_store import FollowUpStore
from scantrace_tracer.settings import TracerSettings
from scantrace_tracer.store import DAY_MS, TracerStore

#: SPEC section 5 names the epidemiologist role; admins are deliberately not let in (least
#: privilege: an admin who traces must hold an epidemiologist token, and is audited as one).
#: One callable, so that FastAPI checks the token once per call (its dependency cache).
epidemiologist: Final = require_roles("epidemiologist")
Epidemiologist = Annotated[Principal, Depends(epidemiologist)]

#: SPEC 5: `from` and `to` at most 31 days apart; a case's infectious period likewise.
MAX_WINDOW_DAYS: Final = 31
MAX_WINDOW_MS: Final = MAX_WINDOW_DAYS * DAY_MS

PersonId = Annotated[IdStr, Path(description=ID_HELP)]
VenueId = Annotated[IdStr, Path(description=ID_HELP)]
CaseId = Annotated[UuidStr, Path(description="the case_id answered by POST /v1/cases")]
#: RFC 3339 with an offset in the document (`format: date-time`, so clients and fuzzers send
#: times); integer epoch milliseconds are accepted too.
_TIME_DOC: Final[dict[str, Any]] = {"format": "date-time"}
From = Annotated[
    str, Query(alias="from", description="start, RFC 3339", json_schema_extra=_TIME_DOC)
]
To = Annotated[str, Query(alias="to", description="end, RFC 3339", json_schema_extra=_TIME_DOC)]


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """[start, end] in epoch milliseconds, end not before start, at most 31 days long."""

    start: int
    end: int


def instant(value: str | int, name: str) -> int:
    """Epoch ms of an RFC 3339 time or of integer epoch milliseconds (422 otherwise)."""
    try:
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        return parse_time(value)
    except ValueError as exc:
        raise ApiError(422, f"{name}: {exc}") from exc


def time_window(
    start: str | int, end: str | int, names: tuple[str, str] = ("from", "to")
) -> TimeWindow:
    """The window of a query or a case, checked: 422 when it is reversed or too long, so no
    read spanning years is ever built."""
    a, b = instant(start, names[0]), instant(end, names[1])
    if b < a:
        raise ApiError(422, f"{names[1]} must not be before {names[0]}")
    if b - a > MAX_WINDOW_MS:
        raise ApiError(
            422, f"{names[0]} and {names[1]} may be at most {MAX_WINDOW_DAYS} days apart"
        )
    return TimeWindow(a, b)


async def _query_window(t1: From, t2: To) -> TimeWindow:
    return time_window(t1, t2)


async def _store(request: Request) -> TracerStore:
    store: TracerStore = request.app.state.store
    return store


async def _cases(request: Request) -> CaseService:
    cases: CaseService = request.app.state.cases
    return cases


async def _follow_ups(request: Request) -> FollowUpStore:
    follow_ups: FollowUpStore = request.app.state.follow_ups
    return follow_ups


async def _clusters(request: Request) -> ClusterStore:
    clusters: ClusterStore = request.app.state.clusters
    return clusters


async def _settings(request: Request) -> TracerSettings:
    settings: TracerSettings = request.app.state.settings
    return settings


Window = Annotated[TimeWindow, Depends(_query_window)]
Store = Annotated[TracerStore, Depends(_store)]
Cases = Annotated[CaseService, Depends(_cases)]
FollowUps = Annotated[FollowUpStore, Depends(_follow_ups)]
Clusters = Annotated[ClusterStore, Depends(_clusters)]
Settings = Annotated[TracerSettings, Depends(_settings)]
