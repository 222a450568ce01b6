"""The knobs of a simulated province: its size, its calendar and how its people behave."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, kw_only=True)
class SimConfig:
    people: int = 2_000
    #: Venues in the province; 0 means one per 10 people (at least 60).
    venues: int = 0
    days: int = 1
    start_date: date
    seed: int = 1
    tz: str = "Asia/Ho_Chi_Minh"
    #: Share of people without the app: they never scan.
    never_scan_share: float = 0.08
    #: Share of people who (almost) never scan out; the rest still forget now and then.
    forget_out_share: float = 0.5
    #: Share of people who often scan in twice at the door (a new scan_id each time).
    double_scan_share: float = 0.05
    #: Share of people whose phone is often offline: a day's scans are uploaded hours or days later.
    offline_share: float = 0.1
    #: Chance that an upload is retried and so sends the same scan_id again.
    retry_share: float = 0.02
    #: Share of people in quarantine during the simulated days.
    quarantine_share: float = 0.01
    #: Chance that a quarantined person declares on a given day.
    declare_share: float = 0.85

    @property
    def venue_count(self) -> int:
        return self.venues or max(60, self.people // 10)
