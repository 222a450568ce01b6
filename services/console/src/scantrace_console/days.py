"""Days and windows in SCANTRACE_TZ, as the forms send them (`YYYY-MM-DD`) and the APIs want them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def today(tz: str) -> date:
    return datetime.now(ZoneInfo(tz)).date()


def parse_day(value: str | None, default: date) -> date:
    try:
        return date.fromisoformat(value) if value else default
    except ValueError:
        return default


def day_start(day: date, tz: str) -> str:
    """RFC 3339 of the local midnight that begins `day`."""
    return datetime.combine(day, time(0), ZoneInfo(tz)).isoformat()


def window(first: date, last: date, tz: str) -> tuple[str, str]:
    """[start of `first`, start of the day after `last`] for the tracer's `from` and `to`."""
    return day_start(first, tz), day_start(last + timedelta(days=1), tz)
