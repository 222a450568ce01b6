"""Exposure queries (SPEC section 6, contacts): depth 1 and 2 from co-presence reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from scantrace_tracer.codec import TIMES_OF
from scantrace_tracer.jsonbody import Contact, Encounter, answer_head, iso_time, json_string
from scantrace_tracer.store import TracerStore
from scantrace_tracer.visits import MINUTE_MS, Visit

try:
    from scantrace_tracer._contacts import contacts_json
except ImportError as exc:  # a source tree synced before the module existed, or no compiler
    raise ImportError(
        "scantrace_tracer._contacts (the tracer's compiled module) is not built: run `make "
        "install` or `uv sync`; building it needs gcc and the Python headers"
    ) from exc


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


T = TypeVar("T")


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


async def _co_present(
    store: TracerStore, windows: Sequence[_Window], min_overlap_ms: int
) -> tuple[list[str], dict[str, list[_Window]], list[tuple[int, int, int, int, list[bytes]]]]:
    """(venues in order, their windows, `TracerStore.co_present_rows` rows): request i of the
    rows is venues[i], window j of it by_venue[venues[i]][j]."""
    by_venue: dict[str, list[_Window]] = defaultdict(list)
    for w in windows:
        if w.b - w.a >= min_overlap_ms:  # shorter windows cannot reach the minimum overlap
            by_venue[w.venue_id].append(w)
    venues = sorted(by_venue)
    requests = [(v, [(w.a, w.b) for w in by_venue[v]]) for v in venues]
    return venues, by_venue, await store.co_present_rows(requests, min_overlap_ms)


async def _encounters(
    store: TracerStore,
    windows: Sequence[_Window],
    min_overlap_ms: int,
    exclude: set[str],
) -> dict[bytes, list[Encounter]]:
    """Per other person (as bytes), every encounter with a window at the same venue overlapping
    enough: (start, venue_id, end, window owner), which sort in the SPEC's order.

    The reference of the compiled `_contacts.contacts_json` (which the API uses), and the path
    of `exposures` for Python callers: members filtered as Redis returns them, persons compared
    as bytes, nothing rendered.
    """
    venues, by_venue, rows = await _co_present(store, windows, min_overlap_ms)
    skip = {p.encode() for p in exclude}
    out: dict[bytes, list[Encounter]] = {}
    known = out.get
    for i, j, a, b, members in rows:
        venue = venues[i]
        owner = by_venue[venue][j].owner
        for member in members:
            s, e = TIMES_OF(member)
            # the overlap with the window; the read is a superset: most, not all, overlap enough
            if s < a:
                s = a
            if e > b:
                e = b
            if e - s < min_overlap_ms:
                continue
            person = member[17:]  # after start, end and closed_by; a rare #n suffix dropped
            if b"#" in person:
                person = person.split(b"#", 1)[0]
            if person in skip:
                continue
            enc = (s, venue, e, owner)
            found = known(person)
            if found is None:
                out[person] = [enc]
            else:
                found.append(enc)
    return out


def _contacts(found: dict[bytes, list[Encounter]], depth: int, via_of: bool) -> list[Contact]:
    """Contacts by total overlap (longest first), then person_id; encounters sorted."""
    rows: list[tuple[int, bytes, str | None, list[Encounter]]] = []
    for q, raw in found.items():
        if len(raw) == 1:  # most contacts: one encounter
            s, _, e, owner = raw[0]
            rows.append((-((e - s) // MINUTE_MS), q, owner if via_of else None, raw))
        else:
            raw.sort()
            total = sum([(e - s) // MINUTE_MS for s, _, e, _ in raw])
            # via: the depth-1 contact of the earliest encounter (ties: the smallest id)
            via = min([(x[0], x[3]) for x in raw])[1] if via_of else None
            rows.append((-total, q, via, raw))
    # one sort, in C: (-total, person) is unique, so the tuples never compare further; persons
    # as bytes sort as their UTF-8 text does
    rows.sort()
    return [(q.decode(), depth, via, -t, raw) for t, q, via, raw in rows]


async def _contacts_plain(
    store: TracerStore,
    windows: Sequence[_Window],
    m: int,
    exclude: set[str],
    depth: int,
    firsts: bool,
) -> tuple[list[Contact], dict[str, int]]:
    """One depth's contacts by the pure Python path, and each one's earliest encounter start
    when `firsts`."""
    found = _contacts(await _encounters(store, windows, m, exclude), depth, via_of=depth >= 2)
    return found, ({c[0]: c[4][0][0] for c in found} if firsts else {})


async def _contacts_compiled(
    store: TracerStore,
    windows: Sequence[_Window],
    m: int,
    exclude: set[str],
    depth: int,
    firsts: bool,
) -> tuple[bytes, dict[str, int]]:
    """`_contacts_plain` by the compiled module: the contacts' JSON objects joined by commas."""
    venues, by_venue, rows = await _co_present(store, windows, m)
    owners = sorted({w.owner for ws in by_venue.values() for w in ws}) if depth >= 2 else []
    rank = {o: k for k, o in enumerate(owners)}
    body, found = contacts_json(
        rows,
        [json_string(v).encode() for v in venues],
        [[rank.get(w.owner, 0) for w in by_venue[v]] for v in venues],
        [json_string(o).encode() for o in owners],
        m,
        {p.encode() for p in exclude},
        depth,
        depth >= 2,
        firsts,
        json_string,
        iso_time,
    )
    return body, dict(found)


#: One depth of an answer: (windows, persons left out, depth, whether the next depth follows)
#: -> (that depth's contacts in some form, each contact's earliest encounter start when asked).
_Step = Callable[[Sequence[_Window], set[str], int, bool], Awaitable[tuple[T, dict[str, int]]]]


async def _answer(
    store: TracerStore, person_id: str, t1: int, t2: int, m: int, depth: int, step: _Step[T]
) -> list[T]:
    """Depth 1, then depth 2 from it (SPEC 6): a depth-1 contact's windows start at their first
    encounter with the case and leave out the case and every depth-1 contact."""
    own = await store.person_visits(person_id, t1, t2)
    first, starts = await step(_clipped(person_id, own, t1, t2), {person_id}, 1, depth >= 2)
    out = [first]
    if depth >= 2 and starts:
        cs = sorted(starts)
        their = await store.persons_visits(cs, min(starts.values()), t2)
        windows = [w for c in cs for w in _clipped(c, their[c], starts[c], t2)]
        second, _ = await step(windows, {person_id, *starts}, 2, False)
        out.append(second)
    return out


async def contacts_of(
    store: TracerStore,
    person_id: str,
    t1: int,
    t2: int,
    min_overlap_minutes: int = 15,
    depth: int = 1,
) -> list[Contact]:
    """Contacts of `person_id` over [t1, t2] (epoch ms) in the SPEC's order, as plain tuples,
    by the pure Python path (`exposures_json` has the compiled one)."""
    m = min_overlap_minutes * MINUTE_MS

    async def step(
        windows: Sequence[_Window], exclude: set[str], d: int, firsts: bool
    ) -> tuple[list[Contact], dict[str, int]]:
        return await _contacts_plain(store, windows, m, exclude, d, firsts)

    return [c for found in await _answer(store, person_id, t1, t2, m, depth, step) for c in found]


async def exposures(
    store: TracerStore,
    person_id: str,
    t1: int,
    t2: int,
    min_overlap_minutes: int = 15,
    depth: int = 1,
) -> ExposuresOut:
    """Contacts of `person_id` over [t1, t2] (epoch ms), as SPEC section 5 lists them."""
    found = await contacts_of(store, person_id, t1, t2, min_overlap_minutes, depth)
    contacts = [
        ContactOut(
            q,
            d,
            via,
            total,
            [EncounterOut(v, s, e, (e - s) // MINUTE_MS) for s, v, e, _ in raw],
        )
        for q, d, via, total, raw in found
    ]
    return ExposuresOut(person_id, t1, t2, min_overlap_minutes, depth, contacts)


async def exposures_json(
    store: TracerStore,
    person_id: str,
    t1: int,
    t2: int,
    min_overlap_minutes: int = 15,
    depth: int = 1,
) -> bytes:
    """`exposures` as the API's JSON body (RFC 3339 times), the same bytes as
    `jsonbody.exposures_body` would write; each depth's contacts are grouped, sorted and
    written by the compiled `_contacts.contacts_json`."""
    m = min_overlap_minutes * MINUTE_MS

    async def step(
        windows: Sequence[_Window], exclude: set[str], d: int, firsts: bool
    ) -> tuple[bytes, dict[str, int]]:
        return await _contacts_compiled(store, windows, m, exclude, d, firsts)

    parts = await _answer(store, person_id, t1, t2, m, depth, step)
    head = answer_head(person_id, t1, t2, min_overlap_minutes, depth)
    return head.encode() + b",".join([p for p in parts if p]) + b"]}"
