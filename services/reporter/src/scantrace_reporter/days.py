"""Local calendar days: the fast epoch-ms -> day mapping used on the ingest path, and day ranges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Final

from scantrace_common.timeparse import day_bounds, local_date

_BUCKET_MS: Final = 15 * 60 * 1000
_CACHE_LIMIT: Final = 200_000
DAY_S: Final = 24 * 3600


class DayClock:
    """Maps instants to local dates in one zone, caching per 15-minute bucket.

    Every zone offset in use is a whole number of quarter hours, so local midnight falls on a
    bucket boundary; a bucket whose two ends disagree (an odd historical offset) is not cached.
    """

    def __init__(self, tz: str) -> None:
        self.tz = tz
        self._cache: dict[int, date] = {}

    def day_of(self, ms: int) -> date:
        bucket = ms // _BUCKET_MS
        cached = self._cache.get(bucket)
        if cached is not None:
            return cached
        first = local_date(bucket * _BUCKET_MS, self.tz)
        if local_date(bucket * _BUCKET_MS + _BUCKET_MS - 1, self.tz) != first:
            return local_date(ms, self.tz)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[bucket] = first
        return first

    def bounds(self, day: date) -> tuple[int, int]:
        return day_bounds(day, self.tz)

    def expire_at_s(self, day: date, retention_days: int) -> int:
        """When a day's keys may go: its end plus the retention plus two days of margin.

        The gateway refuses scans older than the retention, so no scan of the day (nor a
        duplicate of one) can arrive after that.
        """
        _, end_ms = day_bounds(day, self.tz)
        return end_ms // 1000 + (retention_days + 2) * DAY_S


def parse_day(text: str) -> date:
    """A strict `YYYY-MM-DD`; raises ValueError otherwise."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"not a YYYY-MM-DD date: {text!r}")
    return date.fromisoformat(text)


def days_between(first: date, last: date) -> Iterator[date]:
    """Every day from `first` to `last`, both included."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)
