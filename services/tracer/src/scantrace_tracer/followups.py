"""SPEC section 11 follow-up as pure functions: a done case's depth-1 contacts become records, and
each record's days and status follow from the person's declarations and the present moment.

Times are epoch milliseconds; days are local days of `SCANTRACE_TZ` (`[local midnight, next local
midnight)`, 23 or 25 hours on DST changes). Guarantees (decisions in docs/rules.md, "Clusters and
follow-up"):

- One record per (case, contact): `follow_up_id` is a UUID derived from both, so a case traced
  again, or its event read again, gives the same id; a person followed for two cases has two.
- `last_exposure` is the latest end of the contact's encounters with the case; `until` is its local
  day plus `days` (14); the days followed are the day after `last_exposure`'s through `until`.
- A day is `seen_unwell` when any declaration in it lists a symptom, `seen_ok` when it has
  declarations and none does, else `missed` once it has ended, else `pending`. Declarations are a
  set: late ones change the days they fall in, in whatever order they come.
- A record is `lost` while its most recent days that are not `pending` are 3 `missed` in a row
  (a declaration ends that at once), else `completed` once `until` has ended, else `active`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Final, Literal, NamedTuple

from scantrace_common.timeparse import day_bounds, local_date

DEFAULT_FOLLOW_UP_DAYS: Final = 14
#: Consecutive `missed` days, most recent first, that make a record `lost`.
LOST_AFTER_MISSED: Final = 3
#: uuid5 namespace of follow-up ids (fixed forever: ids are derived from it).
FOLLOW_UP_NAMESPACE: Final = uuid.UUID("5f1c2e0a-7b3d-5e8f-9a41-0c6d2b7e9f13")

DayStatusName = Literal["seen_ok", "seen_unwell", "missed", "pending"]
RecordStatus = Literal["active", "completed", "lost"]


class FollowUp(NamedTuple):
    follow_up_id: str
    case_id: str
    person_id: str
    last_exposure: int
    until: date


class Declaration(NamedTuple):
    declared_at: int
    #: The declaration lists at least one symptom.
    unwell: bool


class DayStatus(NamedTuple):
    day: date
    status: DayStatusName


def declaration(declared_at: int, symptoms: Sequence[str]) -> Declaration:
    """A declaration as follow-up sees it: when, and whether it lists any symptom."""
    return Declaration(declared_at, len(symptoms) > 0)


def follow_up_id(case_id: str, person_id: str) -> str:
    """A UUID from the case and the person (neither can hold a `:`)."""
    return str(uuid.uuid5(FOLLOW_UP_NAMESPACE, f"{case_id}:{person_id}"))


def follow_up(
    case_id: str,
    person_id: str,
    encounter_ends: Iterable[int],
    tz: str,
    days: int = DEFAULT_FOLLOW_UP_DAYS,
) -> FollowUp:
    """The record of one depth-1 contact; `encounter_ends` are its encounters' ends (at least one)."""
    last = max(encounter_ends)
    until = local_date(last, tz) + timedelta(days=days)
    return FollowUp(follow_up_id(case_id, person_id), case_id, person_id, last, until)


def follow_ups(
    case_id: str,
    contacts: Iterable[tuple[str, Iterable[int]]],
    tz: str,
    days: int = DEFAULT_FOLLOW_UP_DAYS,
) -> list[FollowUp]:
    """The records of a done case, by person_id, from (person_id, encounter ends) per contact."""
    records = [follow_up(case_id, person, ends, tz, days) for person, ends in contacts]
    return sorted(records, key=lambda r: r.person_id)


def followed_days(record: FollowUp, tz: str) -> list[date]:
    """The local days followed: the day after the last exposure's, through `until`."""
    first = local_date(record.last_exposure, tz) + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((record.until - first).days + 1)]


def quarantine_dates(record: FollowUp, tz: str) -> tuple[date, date]:
    """(from, to) of the quarantine registered for the record: its followed days."""
    return local_date(record.last_exposure, tz) + timedelta(days=1), record.until


def declared_days(declarations: Iterable[Declaration], tz: str) -> dict[date, bool]:
    """{local day: any declaration that day unwell} over one person's declarations."""
    found: dict[date, bool] = {}
    for d in declarations:
        day = local_date(d.declared_at, tz)
        found[day] = found.get(day, False) or d.unwell
    return found


def day_statuses(
    record: FollowUp, declared: Mapping[date, bool], now: int, tz: str
) -> list[DayStatus]:
    """The status of every followed day at `now`, from `declared_days` of the record's person."""
    statuses: list[DayStatus] = []
    for day in followed_days(record, tz):
        unwell = declared.get(day)
        if unwell is not None:
            statuses.append(DayStatus(day, "seen_unwell" if unwell else "seen_ok"))
        elif now >= day_bounds(day, tz)[1]:
            statuses.append(DayStatus(day, "missed"))
        else:
            statuses.append(DayStatus(day, "pending"))
    return statuses


def unseen_days(statuses: Iterable[DayStatus]) -> int:
    """How many `missed` days in a row end the record's days that are not `pending` (the
    worklist's "not seen for n days")."""
    run = 0
    for s in statuses:
        if s.status == "missed":
            run += 1
        elif s.status != "pending":
            run = 0
    return run


def record_status(
    record: FollowUp, statuses: Iterable[DayStatus], now: int, tz: str
) -> RecordStatus:
    """`lost` while the last LOST_AFTER_MISSED decided days are missed, else `completed` once
    `until` has ended, else `active`."""
    if unseen_days(statuses) >= LOST_AFTER_MISSED:
        return "lost"
    return "completed" if now >= day_bounds(record.until, tz)[1] else "active"
