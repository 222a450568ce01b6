"""Exposure queries (SPEC section 6, contacts): depth 1 and 2 from co-presence reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter

import msgspec

from scantrace_tracer.store import TracerStore
from scantrace_tracer.visits import MINUTE_MS, Visit


class EncounterOut(msgspec.Struct, frozen=True):
    venue_id: str
    start: int
    end: int
    overlap_minutes: int


class ContactOut(msgspec.Struct, frozen=True):
    person_id: str
    depth: int
    via: str | None
    total_overlap_minutes: int
    encounters: list[EncounterOut]


class ExposuresOut(msgspec.Struct, frozen=True):
    person_id: str
    from_: int = msgspec.field(name="from")
    to: int = 0
    min_overlap_minutes: int = 15
    depth: int = 1
    contacts: list[ContactOut] = []


@dataclass(frozen=True, slots=True)
class _Window:
    owner: str
    venue_id: str
    a: int
    b: int


def _clipped(owner: str, visits: Sequence[Visit], lo: int, hi: int) -> list[_Window]:
    """Visits overlapping [lo, hi] (closed), clipped to it."""
    return [
        _Window(owner, v.venue_id, max(v.start, lo), min(v.end, hi))
        for v in visits
        if v.start <= hi and v.end >= lo
    ]


#: One encounter before it becomes an `EncounterOut`: (start, venue_id, end, window owner);
#: tuples sort in the SPEC's order of encounters.
_Raw = tuple[int, str, int, str]


async def _encounters(
    store: TracerStore, windows: Sequence[_Window], min_overlap_ms: int, exclude: set[str]
) -> dict[str, list[_Raw]]:
    """Per other person, every encounter with a window at the same venue overlapping enough.

    The hot loop of a query (thousands of encounters): the script returns each encounter's
    overlap and person, which are compared as bytes and turned into text once each.
    """
    by_venue: dict[str, list[_Window]] = defaultdict(list)
    for w in windows:
        if w.b - w.a >= min_overlap_ms:  # shorter windows cannot reach the minimum overlap
            by_venue[w.venue_id].append(w)
    venues = sorted(by_venue)
    requests = [(v, [(w.a, w.b) for w in by_venue[v]]) for v in venues]
    replies = await store.co_present_raw(requests, min_overlap_ms, clip=True)
    skip = {p.encode() for p in exclude}
    out: dict[bytes, list[_Raw]] = {}
    for venue, reply in zip(venues, replies, strict=True):
        ws = by_venue[venue]
        for j in range(0, len(reply), 4):
            person: bytes = reply[j + 3]
            if person in skip:
                continue
            encounter = (reply[j + 1], venue, reply[j + 2], ws[reply[j]].owner)
            found = out.get(person)
            if found is None:
                out[person] = [encounter]
            else:
                found.append(encounter)
    return {p.decode(): found for p, found in out.items()}


def _contact(person: str, depth: int, via: str | None, raw: list[_Raw]) -> ContactOut:
    if len(raw) == 1:  # most contacts: one encounter
        a, v, b, _ = raw[0]
        minutes = (b - a) // MINUTE_MS
        return ContactOut(person, depth, via, minutes, [EncounterOut(v, a, b, minutes)])
    raw.sort()
    encounters = [EncounterOut(v, a, b, (b - a) // MINUTE_MS) for a, v, b, _ in raw]
    return ContactOut(person, depth, via, sum(e.overlap_minutes for e in encounters), encounters)


async def exposures(
    store: TracerStore,
    person_id: str,
    t1: int,
    t2: int,
    min_overlap_minutes: int = 15,
    depth: int = 1,
) -> ExposuresOut:
    """Contacts of `person_id` over [t1, t2] (epoch ms), as SPEC section 5 lists them."""
    m = min_overlap_minutes * MINUTE_MS
    own = await store.person_visits(person_id, t1, t2)
    first = await _encounters(store, _clipped(person_id, own, t1, t2), m, {person_id})
    contacts = [_contact(q, 1, None, found) for q, found in first.items()]
    if depth >= 2 and first:
        # a depth-1 contact's windows start at their first encounter with the case
        starts = {c.person_id: c.encounters[0].start for c in contacts}
        cs = sorted(starts)
        their = await store.persons_visits(cs, min(starts.values()), t2)
        windows = [w for c in cs for w in _clipped(c, their[c], starts[c], t2)]
        second = await _encounters(store, windows, m, {person_id, *starts})
        for q, found in second.items():
            # via: the depth-1 contact of the earliest encounter (ties: the smallest id)
            via = min((f[0], f[3]) for f in found)[1]
            contacts.append(_contact(q, 2, via, found))
    # by depth, then total overlap (longest first), then person_id: stable sorts, keys in C
    contacts.sort(key=attrgetter("person_id"))
    contacts.sort(key=attrgetter("total_overlap_minutes"), reverse=True)
    contacts.sort(key=attrgetter("depth"))
    return ExposuresOut(person_id, t1, t2, min_overlap_minutes, depth, contacts)
