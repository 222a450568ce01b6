"""venues.v1 records for tests of the revocation follower."""

from __future__ import annotations

from scantrace_common.events import VenueEvent, encode


def venue_event(venue_id: str, revoked_at: int | None = None) -> bytes:
    """A venue's whole state as the reporter publishes it; `revoked_at` set: a revocation."""
    return encode(
        VenueEvent(
            venue_id=venue_id,
            name="Bar",
            kind="restaurant",
            unit_id="u-1",
            registered_at=1_700_000_000_000,
            revoked_at=revoked_at,
        )
    )
