"""Moving a data set's clock to recent days: whole days only, so each record keeps its local time of day.

Every reader yields *naive local* times (the wall clock where the data were recorded); `Anchor`
shifts them by whole days so the last day of data lands on `end_date`, and reads the wall clock
in SCANTRACE_TZ. The gateway refuses scans older than the retention period, so old data must move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


@dataclass(frozen=True)
class Anchor:
    shift: timedelta
    tz: ZoneInfo

    @classmethod
    def ending_on(cls, last_local_day: date, end_date: date, tz: str) -> Anchor:
        return cls(shift=timedelta(days=(end_date - last_local_day).days), tz=ZoneInfo(tz))

    def ms(self, local: datetime) -> int:
        """Epoch ms of the naive local time `local`, moved by the shift, in the target zone."""
        moved = (local + self.shift).replace(tzinfo=self.tz)
        return (moved - _EPOCH) // timedelta(milliseconds=1)

    def day(self, local: datetime) -> date:
        return (local + self.shift).date()
