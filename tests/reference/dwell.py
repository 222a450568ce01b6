"""dwell(v) as fixed by SPEC section 6 and the team's per-kind table (hard-coded on purpose)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tests.reference.model import Venue

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

UNKNOWN_DWELL_MINUTES = 60

KIND_DWELL_MINUTES: dict[str, int] = {
    "office": 480,
    "public_service": 60,
    "hospital": 120,
    "clinic": 60,
    "school": 420,
    "factory": 480,
    "shop": 30,
    "market": 60,
    "restaurant": 60,
    "cafe": 60,
    "transport": 45,
    "quarantine_facility": 1440,
    "other": 60,
}


def venue_dwell_minutes(venue: Venue | None) -> int:
    """The venue's own default_dwell_minutes when set, else its kind's; unknown venue: 60."""
    if venue is None:
        return UNKNOWN_DWELL_MINUTES
    if venue.default_dwell_minutes is not None:
        return venue.default_dwell_minutes
    return KIND_DWELL_MINUTES.get(venue.kind, UNKNOWN_DWELL_MINUTES)


def make_dwell(venues: Iterable[Venue]) -> Callable[[str], int]:
    """dwell(venue_id) in minutes over a fixed set of venues (the last record of an id wins)."""
    by_id = {venue.venue_id: venue for venue in venues}

    def dwell(venue_id: str) -> int:
        return venue_dwell_minutes(by_id.get(venue_id))

    return dwell
