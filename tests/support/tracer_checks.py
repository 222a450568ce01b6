"""The tracer store's visit listings against the reference of SPEC section 6 (shared by its tests)."""

from __future__ import annotations

from scantrace_tracer.store import TracerStore
from tests.reference.contacts import VisitsInput, reference_person_visits, reference_venue_visits


async def assert_person_visits(
    store: TracerStore, ref: VisitsInput, person: str, t1: int, t2: int
) -> None:
    want = [
        (v.venue_id, v.start, v.end, v.closed_by)
        for v in reference_person_visits(ref, person, t1, t2)
    ]
    got = [
        (v.venue_id, v.start, v.end, v.closed_by) for v in await store.person_visits(person, t1, t2)
    ]
    assert got == want, person


async def assert_venue_visits(
    store: TracerStore, ref: VisitsInput, venue: str, t1: int, t2: int
) -> None:
    want = [
        (v.person_id, v.start, v.end, v.closed_by)
        for v in reference_venue_visits(ref, venue, t1, t2)
    ]
    got = [
        (f.person_id, f.start, f.end, f.closed_by) for f in await store.venue_visits(venue, t1, t2)
    ]
    assert got == want, venue
