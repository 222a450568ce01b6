"""Random scan sets through the real derivation and the real Redis state, against tests/reference.

Scans arrive in random batches and random order (late arrivals, duplicates, double scans,
missing outs, out-only), and venue events come before or after their scans. Visits (person and
venue listings, occupancy) and exposures at depth 1 and 2 must equal the reference exactly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from scantrace_common.redis_client import connect
from scantrace_tracer import responses
from scantrace_tracer.exposures import exposures, exposures_json
from scantrace_tracer.fastpipe import FastPipe
from scantrace_tracer.keys import Keys
from scantrace_tracer.store import TracerStore
from tests.reference.contacts import (
    reference_exposures,
    reference_occupancy,
    reference_person_visits,
)
from tests.reference.model import Scan as RefScan
from tests.reference.visits import reference_visits
from tests.support.tracer_checks import assert_person_visits, assert_venue_visits

pytestmark = pytest.mark.integration

MIN = 60_000
#: Three days ago (Redis expiry is wall-clock time), on a minute plus 7 minutes.
BASE = (time.time_ns() // 1_000_000 // MIN - 3 * 24 * 60) * MIN + 7 * MIN
NOW = BASE + 2 * 86_400_000
PERSONS = ["p1", "p2", "p3", "p4", "p5"]
VENUES = ["va", "vb", "vc"]
#: dwell minutes each venue gets once its venue event is applied (else 60, unknown venue).
VENUE_DWELL = {"va": 30, "vb": 480, "vc": 1440}


@st.composite
def scan_sets(draw: st.DrawFn) -> list[RefScan]:
    n = draw(st.integers(0, 30))
    scans: list[RefScan] = []
    for i in range(n):
        minute = draw(st.integers(0, 30 * 60) | st.sampled_from([0, 30, 60, 720, 721]))
        scans.append(
            RefScan(
                str(uuid.UUID(int=draw(st.integers(0, 2**32)) * 2**64 + i)),
                draw(st.sampled_from(PERSONS)),
                draw(st.sampled_from(VENUES)),
                draw(st.sampled_from(["in", "out"])),
                BASE + minute * MIN + draw(st.sampled_from([0, 0, 0, 1, 59_999])),
            )
        )
    # duplicates (same scan_id, same content) and double scans (same person/venue, a bit later)
    for s in draw(st.lists(st.sampled_from(scans), max_size=5)) if scans else []:
        scans.append(s)
    for s in draw(st.lists(st.sampled_from(scans), max_size=5)) if scans else []:
        later = s.scanned_at + draw(st.integers(0, 90)) * MIN
        scans.append(RefScan(str(uuid.uuid4()), s.person_id, s.venue_id, s.direction, later))
    return scans


def _ref_visits(scans: list[RefScan], known: set[str]) -> dict[str, list[Any]]:
    return reference_visits(scans, lambda v: VENUE_DWELL[v] if v in known else 60)


def _batches(items: list[RefScan], cuts: list[int]) -> Iterator[list[RefScan]]:
    start = 0
    for cut in sorted(set(cuts)):
        yield items[start:cut]
        start = cut
    yield items[start:]


async def _clean_up(redis: Redis, ns: str, pipes: Sequence[FastPipe] = ()) -> None:
    """Close the test's connections and drop its namespace's keys."""
    for pipe in pipes:
        await pipe.close()
    keys = [k async for k in redis.scan_iter(match=f"{ns}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


@pytest.fixture
def store_factory(redis_url: str, namespace: str) -> tuple[str, str]:
    return redis_url, namespace


async def _check(
    redis_url: str,
    namespace: str,
    scans: list[RefScan],
    order: list[int],
    cuts: list[int],
    venue_at: dict[str, int],
    window: tuple[int, int],
    m: int,
    use_fast: bool,
) -> None:
    """Apply the scans in `order`, cut in batches, in a namespace of its own; compare with the
    reference; drop the namespace."""
    ns = f"{namespace}{uuid.uuid4().hex[:6]}."
    redis = connect(redis_url)
    try:
        await _compare(redis, ns, scans, order, cuts, venue_at, window, m, redis_url, use_fast)
    finally:
        await _clean_up(redis, ns)


async def _compare(
    redis: Redis,
    ns: str,
    scans: list[RefScan],
    order: list[int],
    cuts: list[int],
    venue_at: dict[str, int],
    window: tuple[int, int],
    m: int,
    redis_url: str,
    use_fast: bool,
) -> None:
    # with fast pipes, two lanes: a batch is split by person and applied concurrently
    fast = [FastPipe(redis_url), FastPipe(redis_url)] if use_fast else None
    readers = [FastPipe(redis_url)] if use_fast else []
    store = TracerStore(redis, Keys(ns), clock=lambda: NOW, fast=fast, readers=readers)
    shuffled = [scans[i] for i in order]
    known: set[str] = set()
    for i, batch in enumerate(_batches(shuffled, cuts)):
        for venue, when in venue_at.items():
            if when == i:
                await store.set_venue_dwell(venue, VENUE_DWELL[venue])
                known.add(venue)
        await store.apply_scans(batch)
    for venue in venue_at:
        if venue not in known:
            await store.set_venue_dwell(venue, VENUE_DWELL[venue])
            known.add(venue)
    ref = _ref_visits(scans, known)
    t1, t2 = window
    for person in PERSONS:
        await assert_person_visits(store, ref, person, t1, t2)
        for depth in (1, 2):
            expected = reference_exposures(ref, person, t1, t2, m, depth)
            actual = await exposures(store, person, t1, t2, m, depth)
            assert msgspec.to_builtins(actual) == expected, (person, depth)
            # and the API's body, written by hand from the same contacts
            body = await exposures_json(store, person, t1, t2, m, depth)
            assert body == msgspec.json.encode(responses.exposures(actual)), (person, depth)
    for venue in VENUES:
        await assert_venue_visits(store, ref, venue, t1, t2)
        for at in (t1, (t1 + t2) // 2):
            assert await store.occupancy(venue, at) == reference_occupancy(ref, venue, at)
    for lane in (fast or []) + readers:
        await lane.close()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), scans=scan_sets())
def test_store_matches_reference(
    store_factory: tuple[str, str], data: st.DataObject, scans: list[RefScan]
) -> None:
    redis_url, namespace = store_factory
    order = data.draw(st.permutations(range(len(scans))))
    cuts = data.draw(st.lists(st.integers(0, len(scans)), max_size=4))
    venue_at = data.draw(st.fixed_dictionaries({v: st.integers(0, 5) for v in VENUES}))
    lo = data.draw(st.integers(-60, 32 * 60))
    hi = data.draw(st.integers(lo, 34 * 60))
    m = data.draw(st.sampled_from([0, 1, 15, 60]))
    use_fast = data.draw(st.booleans())
    window = (BASE + lo * MIN, BASE + hi * MIN)
    asyncio.run(_check(redis_url, namespace, scans, order, cuts, venue_at, window, m, use_fast))


@st.composite
def long_histories(draw: st.DrawFn) -> list[RefScan]:
    """Two persons with dozens of visits each: more than the tail the ingest reads first, so late
    scans take the paths that read further back."""
    n = draw(st.integers(20, 80))
    scans: list[RefScan] = []
    for i in range(n):
        scans.append(
            RefScan(
                str(uuid.UUID(int=draw(st.integers(0, 2**32)) * 2**64 + i)),
                draw(st.sampled_from(PERSONS[:2])),
                draw(st.sampled_from(VENUES)),
                draw(st.sampled_from(["in", "in", "out"])),
                BASE + draw(st.integers(0, 30 * 60)) * MIN,
            )
        )
    return scans


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), scans=long_histories())
def test_long_histories_with_late_scans_match_reference(
    store_factory: tuple[str, str], data: st.DataObject, scans: list[RefScan]
) -> None:
    redis_url, namespace = store_factory
    # mostly in time order, then a few late batches: the common case of an offline phone
    in_order = sorted(range(len(scans)), key=lambda i: scans[i].scanned_at)
    late = data.draw(st.lists(st.sampled_from(in_order), max_size=10, unique=True))
    order = [i for i in in_order if i not in late] + late
    cuts = data.draw(st.lists(st.integers(0, len(scans)), max_size=8))
    window = (BASE - 60 * MIN, BASE + 32 * 60 * MIN)
    use_fast = data.draw(st.booleans())
    venue_at = dict.fromkeys(VENUES, 0)
    asyncio.run(
        _check(redis_url, namespace, scans, order, cuts, venue_at, window, 15 * MIN, use_fast)
    )


def test_a_person_with_thousands_of_scans_in_one_batch(redis_url: str, namespace: str) -> None:
    """Long argument lists are sliced inside the scripts (Lua's unpack has a stack limit)."""
    scans = [
        RefScan(
            str(uuid.UUID(int=i + 1)),
            "p1",
            VENUES[i // 2 % 3],
            "in" if i % 2 == 0 else "out",
            BASE + i * MIN,
        )
        for i in range(3000)
    ]
    ns = f"{namespace}{uuid.uuid4().hex[:6]}."

    async def run() -> None:
        redis = connect(redis_url)
        fast = [FastPipe(redis_url), FastPipe(redis_url)]
        store = TracerStore(redis, Keys(ns), clock=lambda: NOW, fast=fast)
        try:
            for venue in VENUES:
                await store.set_venue_dwell(venue, VENUE_DWELL[venue])
            await store.apply_scans(scans)
            # the same scans again, and a late one in the middle, change nothing but that
            await store.apply_scans(scans[:1500])
            want = _ref_visits(scans, set(VENUES))
            got = await store.person_visits("p1", BASE, BASE + 3000 * MIN)
            assert [(v.venue_id, v.start, v.end, v.closed_by) for v in got] == [
                (v.venue_id, v.start, v.end, v.closed_by)
                for v in reference_person_visits(want, "p1", BASE, BASE + 3000 * MIN)
            ]
            assert len(got) == 1500
        finally:
            await _clean_up(redis, ns, fast)

    asyncio.run(run())


@pytest.mark.parametrize("lanes", [0, 2])
def test_scripts_forgotten_by_redis_are_loaded_again(
    redis_url: str, namespace: str, lanes: int
) -> None:
    """A Redis restarted empty answers NOSCRIPT; the store loads its scripts and goes on."""
    scans = [
        RefScan(
            str(uuid.UUID(int=i + 1)), "p1", "va", "in" if i % 2 == 0 else "out", BASE + i * MIN
        )
        for i in range(6)
    ]
    ns = f"{namespace}{uuid.uuid4().hex[:6]}."

    async def run() -> None:
        redis = connect(redis_url)
        fast = [FastPipe(redis_url) for _ in range(lanes)]
        store = TracerStore(redis, Keys(ns), clock=lambda: NOW, fast=fast or None)
        try:
            await store.apply_scans(scans[:2])
            await redis.script_flush()
            await store.apply_scans(scans[2:])
            got = await store.person_visits("p1", BASE, BASE + 10 * MIN)
            assert [(v.start, v.end, v.closed_by) for v in got] == [
                (BASE + i * MIN, BASE + (i + 1) * MIN, "out") for i in (0, 2, 4)
            ]
        finally:
            await _clean_up(redis, ns, fast)

    asyncio.run(run())


def test_a_redis_restarted_empty_gets_every_index_back_on_replay(
    redis_url: str, namespace: str
) -> None:
    """The ingest remembers which venue stays it wrote; a Redis that lost them (its scripts gone
    too) must get them again when the scans are replayed, or co-presence reads would miss."""
    scans = [
        RefScan(str(uuid.UUID(int=1)), "p1", "va", "in", BASE),
        RefScan(str(uuid.UUID(int=2)), "p2", "va", "in", BASE + 5 * MIN),
        RefScan(str(uuid.UUID(int=3)), "p1", "va", "out", BASE + 60 * MIN),
        RefScan(str(uuid.UUID(int=4)), "p2", "va", "out", BASE + 50 * MIN),
    ]
    ns = f"{namespace}{uuid.uuid4().hex[:6]}."

    async def venue_persons(store: TracerStore) -> list[str]:
        return [f.person_id for f in await store.venue_visits("va", BASE, BASE + 90 * MIN)]

    async def run() -> None:
        redis = connect(redis_url)
        fast = [FastPipe(redis_url), FastPipe(redis_url)]
        store = TracerStore(redis, Keys(ns), clock=lambda: NOW, fast=fast)
        try:
            await store.apply_scans(scans)
            assert await venue_persons(store) == ["p1", "p2"]
            # "restart Redis empty": its data and its scripts are gone
            await redis.delete(*[k async for k in redis.scan_iter(match=f"{ns}*")])
            await redis.script_flush()
            await store.apply_scans(scans)  # the replay from Kafka
            assert await venue_persons(store) == ["p1", "p2"]
        finally:
            await _clean_up(redis, ns, fast)

    asyncio.run(run())
