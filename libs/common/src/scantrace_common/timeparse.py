"""Time in scantrace: epoch milliseconds inside, RFC 3339 or epoch ms on input, RFC 3339 UTC `Z` on output."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def parse_time(value: str | int) -> int:
    """Epoch milliseconds from an RFC 3339 string (with offset) or an integer of epoch ms."""
    if isinstance(value, bool):
        raise ValueError("time must be an RFC 3339 string or integer epoch milliseconds")
    if isinstance(value, int):
        if not 0 <= value <= _MAX_MS:
            raise ValueError("epoch milliseconds out of range")
        return value
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("time must be an RFC 3339 string or integer epoch milliseconds")
    text = value.strip()
    if len(text) < 20 or text[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 time with an offset: {value!r}")
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"RFC 3339 time needs an offset or Z: {value!r}")
    ms = _floor_ms(parsed)
    if not 0 <= ms <= _MAX_MS:
        raise ValueError("time out of range")
    return ms


def _floor_ms(parsed: datetime) -> int:
    delta = parsed - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(milliseconds=1)


def format_time(ms: int) -> str:
    """RFC 3339 in UTC with `Z`; milliseconds shown only when not zero."""
    seconds, millis = divmod(ms, 1000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


@lru_cache(maxsize=16)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def local_date(ms: int, tz: str) -> date:
    """The calendar day, in zone `tz`, that contains the instant `ms`."""
    return datetime.fromtimestamp(ms / 1000, tz=_zone(tz)).date()


def day_bounds(day: date, tz: str) -> tuple[int, int]:
    """[start, end) of `day` in zone `tz`, as epoch ms (23 or 25 h long on DST changes)."""
    zone = _zone(tz)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return _floor_ms(start), _floor_ms(end)


def now_ms() -> int:
    return int(datetime.now(tz=UTC).timestamp() * 1000)
