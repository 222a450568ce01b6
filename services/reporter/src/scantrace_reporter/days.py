"""Local calendar days: the fast epoch-ms -> day mapping of the ingest path, the one day parser,
and the days and periods the reporter accepts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from scantrace_common.timeparse import day_bounds, local_date

_BUCKET_MS: Final = 15 * 60 * 1000
_CACHE_LIMIT: Final = 200_000
DAY_S: Final = 24 * 3600


#: The days the reporter can compute with (bounds, expiries, the next day) in every zone: from the
#: day of epoch 0 in the westernmost zone to the day before the last the events' times reach.
FIRST_DAY: Final = date(1969, 12, 31)
LAST_DAY: Final = date(9999, 12, 30)
_DAY_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: A quarantine starts and ends within a year of its registration, and the days asked about
#: reach a year ahead: what a planned quarantine can cover.
YEAR_DAYS: Final = 366
#: A quarantine is at most this long (it writes one set member per day and unit of its chain).
MAX_QUARANTINE_DAYS: Final = 400


class DayRefused(ValueError):
    """A day (or period) the reporter refuses: outside what it can compute or keeps figures for."""


class DayClock:
    """Maps instants to local dates in one zone, caching per 15-minute bucket.

    Every zone offset in use is a whole number of quarter hours, so local midnight falls on a
    bucket boundary; a bucket whose two ends disagree (an odd historical offset) is not cached.
    """

    def __init__(self, tz: str) -> None:
        self.tz = tz
        self._cache: dict[int, date] = {}

    def day_of(self, ms: int) -> date:
        """The local day of `ms`; DayRefused when it lies outside FIRST_DAY to LAST_DAY."""
        bucket = ms // _BUCKET_MS
        cached = self._cache.get(bucket)
        if cached is not None:
            return cached
        first = self._computable_day(bucket * _BUCKET_MS)
        if self._computable_day(bucket * _BUCKET_MS + _BUCKET_MS - 1) != first:
            return self._computable_day(ms)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[bucket] = first
        return first

    def _computable_day(self, ms: int) -> date:
        try:
            day = local_date(ms, self.tz)
        except (OverflowError, ValueError, OSError) as exc:
            raise DayRefused(f"the instant {ms} has no day in {self.tz}") from exc
        if not FIRST_DAY <= day <= LAST_DAY:
            raise DayRefused(f"the instant {ms} falls on {day}, outside {FIRST_DAY} to {LAST_DAY}")
        return day

    def bounds(self, day: date) -> tuple[int, int]:
        return day_bounds(day, self.tz)

    def expire_at_s(self, day: date, retention_days: int) -> int:
        """When a day's keys may go: its end plus the retention plus two days of margin.

        The gateway refuses scans older than the retention, so no scan of the day (nor a
        duplicate of one) can arrive after that.
        """
        _, end_ms = day_bounds(day, self.tz)
        return end_ms // 1000 + (retention_days + 2) * DAY_S


def parse_day(value: object) -> date:
    """A strict `YYYY-MM-DD` between FIRST_DAY and LAST_DAY; DayRefused otherwise.

    Every date the reporter reads (requests, events, its own keys) goes through here.
    """
    if not isinstance(value, str) or _DAY_RE.fullmatch(value) is None:
        raise DayRefused(f"not a YYYY-MM-DD date: {value!r}"[:100])
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise DayRefused(f"not a date: {value!r} ({exc})") from exc
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DayRefused(f"{value} is outside {FIRST_DAY} to {LAST_DAY}")
    return day


@dataclass(frozen=True, slots=True)
class DayWindow:
    """The days a request may name, [first, last], and why those."""

    first: date
    last: date
    why: str

    def check(self, name: str, day: date) -> date:
        if not self.first <= day <= self.last:
            raise DayRefused(f"{name}: {day} is outside {self.first} to {self.last} ({self.why})")
        return day


def query_window(today: date, retention_days: int) -> DayWindow:
    """Compliance days: as far back as figures are kept, a year ahead (planned quarantines)."""
    return DayWindow(
        shifted(today, -retention_days),
        shifted(today, YEAR_DAYS),
        f"figures are kept {retention_days} days; quarantines reach a year ahead",
    )


def check_quarantine(first: date, last: date, registered_on: date) -> None:
    """A period of at most MAX_QUARANTINE_DAYS within a year of the registration day.

    Judged against the event's own registration, so a replay judges it as its first reading did.
    """
    if last < first:
        raise DayRefused("'to' is before 'from'")
    if day_count(first, last) > MAX_QUARANTINE_DAYS:
        raise DayRefused(f"a quarantine lasts at most {MAX_QUARANTINE_DAYS} days")
    window = DayWindow(
        shifted(registered_on, -YEAR_DAYS),
        shifted(registered_on, YEAR_DAYS),
        "a quarantine lies within a year of its registration",
    )
    window.check("from", first)
    window.check("to", last)


def shifted(day: date, days: int) -> date:
    """`day` moved by `days`, held within FIRST_DAY to LAST_DAY (never an OverflowError)."""
    ordinal = day.toordinal() + days
    return date.fromordinal(min(max(ordinal, FIRST_DAY.toordinal()), LAST_DAY.toordinal()))


def day_count(first: date, last: date) -> int:
    """How many days [first, last] holds (0 when last is before first), without listing them."""
    return max(0, (last - first).days + 1)


def days_between(first: date, last: date) -> Iterator[date]:
    """Every day from `first` to `last`, both included."""
    for offset in range(day_count(first, last)):
        yield first + timedelta(days=offset)
