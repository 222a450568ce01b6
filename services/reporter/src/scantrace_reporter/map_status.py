"""SPEC section 10's map status of a venue at an instant, from its inspections and assessments.

Only what happened at or before the instant counts, so the status at the end of a past day (for
compliance) and the status now come from the same function. Inspections are taken in order of
(at, inspection_id): one with `suspend` suspends the venue, a later one that passes (without
`suspend`) lifts it, a failed one without `suspend` changes nothing. The latest assessment is the
one with the largest (assessed_at, assessment_id).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

from scantrace_common.events import SafetyLevel

Status = Literal["suspended", "none", "overdue", "current"]


class Inspected(NamedTuple):
    at: int
    inspection_id: str
    result: Literal["pass", "fail"]
    suspend: bool


class Assessed(NamedTuple):
    assessed_at: int
    assessment_id: str
    level: SafetyLevel
    valid_until: int


class MapStatus(NamedTuple):
    status: Status
    #: The level of the latest assessment when `current`, else None.
    level: SafetyLevel | None
    #: The latest assessment's valid_until, whatever the status (None without one).
    valid_until: int | None


def suspended_at(inspections: Iterable[Inspected], t: int) -> bool:
    """Whether the venue is suspended at t."""
    suspended = False
    for i in sorted(i for i in inspections if i.at <= t):
        if i.suspend:
            suspended = True
        elif i.result == "pass":
            suspended = False
    return suspended


def latest_at(assessments: Iterable[Assessed], t: int) -> Assessed | None:
    """The latest assessment made at or before t."""
    return max((a for a in assessments if a.assessed_at <= t), default=None)


def map_status(*, suspended: bool, latest: Assessed | None, t: int) -> MapStatus:
    """`suspended` if suspended; else `none` without an assessment; else `overdue` when the latest
    assessment's valid_until <= t; else `current` with its level."""
    until = latest.valid_until if latest is not None else None
    if suspended:
        return MapStatus("suspended", None, until)
    if latest is None:
        return MapStatus("none", None, None)
    if latest.valid_until <= t:
        return MapStatus("overdue", None, until)
    return MapStatus("current", latest.level, until)


def status_at(
    inspections: Iterable[Inspected], assessments: Iterable[Assessed], t: int
) -> MapStatus:
    """The map status at t from the venue's whole history."""
    return map_status(suspended=suspended_at(inspections, t), latest=latest_at(assessments, t), t=t)
