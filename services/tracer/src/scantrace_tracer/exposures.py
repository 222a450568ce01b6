"""Exposure queries (SPEC section 6, contacts): depth 1 and 2 from co-presence reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

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


async def _encounters(
    store: TracerStore, windows: Sequence[_Window], min_overlap_ms: int, exclude: set[str]
) -> list[tuple[_Window, str, EncounterOut]]:
    """Every (window, other person's visit) pair at the same venue overlapping enough."""
    by_venue: dict[str, list[_Window]] = defaultdict(list)
    for w in windows:
        if w.b - w.a >= min_overlap_ms:  # shorter windows cannot reach the minimum overlap
            by_venue[w.venue_id].append(w)
    venues = sorted(by_venue)
    requests = [(v, [(w.a, w.b) for w in by_venue[v]]) for v in venues]
    found = await store.co_present(requests, min_overlap_ms)
    out: list[tuple[_Window, str, EncounterOut]] = []
    for venue, hits in zip(venues, found, strict=True):
        ws = by_venue[venue]
        for f in hits:
            if f.person_id in exclude:
                continue
            w = ws[f.window]
            if f.person_id == w.owner:
                continue
            start, end = max(w.a, f.start), min(w.b, f.end)
            out.append(
                (w, f.person_id, EncounterOut(venue, start, end, (end - start) // MINUTE_MS))
            )
    return out


def _order(encounters: list[EncounterOut]) -> list[EncounterOut]:
    return sorted(encounters, key=lambda e: (e.start, e.venue_id, e.end))


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
    d1: dict[str, list[EncounterOut]] = defaultdict(list)
    for _, q, enc in first:
        d1[q].append(enc)
    contacts = [
        ContactOut(q, 1, None, sum(e.overlap_minutes for e in encs), _order(encs))
        for q, encs in d1.items()
    ]
    if depth >= 2 and d1:
        starts = {c: min(e.start for e in encs) for c, encs in d1.items()}
        cs = sorted(starts)
        their = await store.persons_visits(cs, min(starts.values()), t2)
        windows = [w for c in cs for w in _clipped(c, their[c], starts[c], t2)]
        second = await _encounters(store, windows, m, {person_id, *d1})
        d2: dict[str, list[tuple[str, EncounterOut]]] = defaultdict(list)
        for w, q, enc in second:
            d2[q].append((w.owner, enc))
        for q, pairs in d2.items():
            via = min(pairs, key=lambda p: (p[1].start, p[0]))[0]
            encs = [e for _, e in pairs]
            contacts.append(
                ContactOut(q, 2, via, sum(e.overlap_minutes for e in encs), _order(encs))
            )
    contacts.sort(key=lambda c: (c.depth, -c.total_overlap_minutes, c.person_id))
    return ExposuresOut(person_id, t1, t2, min_overlap_minutes, depth, contacts)
