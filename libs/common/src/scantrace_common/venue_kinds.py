"""Venue kinds of SPEC section 4 and the default dwell time of each (SPEC section 6, `dwell(v)`)."""

from __future__ import annotations

from typing import Final

#: Minutes a visit lasts when nobody scans out; chosen from typical stays (docs/rules.md).
DEFAULT_DWELL_MINUTES: Final[dict[str, int]] = {
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

VENUE_KINDS: Final[frozenset[str]] = frozenset(DEFAULT_DWELL_MINUTES)
UNKNOWN_VENUE_DWELL_MINUTES: Final = 60


def dwell_minutes(kind: str | None, default_dwell_minutes: int | None) -> int:
    """dwell(v): the venue's own figure, else its kind's, else 60 for unknown venues."""
    if default_dwell_minutes is not None:
        return default_dwell_minutes
    if kind is None:
        return UNKNOWN_VENUE_DWELL_MINUTES
    return DEFAULT_DWELL_MINUTES.get(kind, UNKNOWN_VENUE_DWELL_MINUTES)
