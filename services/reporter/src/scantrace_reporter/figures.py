"""Compliance figures of one unit and day (SPEC section 4 shape), built from raw counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


def ratio(done: int, total: int) -> float | None:
    """done / total as a float; None (JSON null) when the denominator is 0."""
    return done / total if total > 0 else None


@dataclass(frozen=True, slots=True)
class Figures:
    unit_id: str
    day: date
    venues_registered: int
    venues_active: int
    scans_in: int
    scans_out: int
    persons: int
    quarantined: int
    declarations_done: int
    #: Registered venues whose map status is `current` at the end of the day (SPEC 10).
    venues_assessed: int = 0

    @property
    def scans(self) -> int:
        return self.scans_in + self.scans_out

    @property
    def active_ratio(self) -> float | None:
        return ratio(self.venues_active, self.venues_registered)

    @property
    def declaration_ratio(self) -> float | None:
        return ratio(self.declarations_done, self.quarantined)

    @property
    def assessed_ratio(self) -> float | None:
        return ratio(self.venues_assessed, self.venues_registered)

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "date": self.day.isoformat(),
            "venues_registered": self.venues_registered,
            "venues_active": self.venues_active,
            "active_ratio": self.active_ratio,
            "scans": self.scans,
            "scans_in": self.scans_in,
            "scans_out": self.scans_out,
            "persons": self.persons,
            "quarantined": self.quarantined,
            "declarations_done": self.declarations_done,
            "declaration_ratio": self.declaration_ratio,
            "venues_assessed": self.venues_assessed,
            "assessed_ratio": self.assessed_ratio,
        }


def from_counters(
    unit_id: str,
    day: date,
    *,
    registered: int,
    revoked: int,
    counters: list[bytes | None],
    persons: int,
    quarantined: int,
    declared: int,
    assessed: int = 0,
) -> Figures:
    """Figures from the Redis answers: `counters` is HMGET of `<unit>|i`, `|o`, `|a`."""
    scans_in, scans_out, active = (int(value) if value else 0 for value in counters)
    venues_registered = max(0, registered - revoked)
    return Figures(
        unit_id=unit_id,
        day=day,
        venues_registered=venues_registered,
        # Never above the registered count, even while a registry change is being applied.
        venues_active=min(max(0, active), venues_registered),
        scans_in=max(0, scans_in),
        scans_out=max(0, scans_out),
        # An HLL may estimate a little above the scans; persons never exceed scans.
        persons=min(persons, max(0, scans_in + scans_out)),
        quarantined=quarantined,
        declarations_done=declared,
        # Never above the registered count either.
        venues_assessed=min(assessed, venues_registered),
    )
