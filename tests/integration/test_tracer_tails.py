"""The ingest's memory of persons' tails (`scantrace_tracer.tails`) against a real Redis.

Appends are derived from memory (no read-back); a late scan, a person not remembered, a new
process, a Redis emptied under the worker, or another writer on the same Redis take the Redis
path. Every case must end in exactly the reference state.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from scantrace_common.redis_client import connect
from scantrace_tracer.fastpipe import FastPipe
from scantrace_tracer.keys import Keys
from scantrace_tracer.store import ApplyResult, TracerStore
from scantrace_tracer.tails import Tail, Tails
from tests.reference.model import Scan as RefScan
from tests.reference.visits import reference_visits
from tests.support.tracer_checks import assert_person_visits, assert_venue_visits

pytestmark = pytest.mark.integration

MIN = 60_000
BASE = (time.time_ns() // 1_000_000 // MIN - 3 * 24 * 60) * MIN
NOW = BASE + 2 * 86_400_000
PERSONS = ["p1", "p2", "p3"]
VENUES = ["va", "vb"]
DWELL = {"va": 30, "vb": 120}
WINDOW = (BASE - 24 * 60 * MIN, BASE + 3 * 24 * 60 * MIN)


def _scan(n: int, person: str, venue: str, direction: str, minute: int) -> RefScan:
    return RefScan(str(uuid.UUID(int=n + 1)), person, venue, direction, BASE + minute * MIN)  # type: ignore[arg-type]


def _day(person: str, start_n: int) -> list[RefScan]:
    """A person's day, in time order: in/out pairs, a double scan, a missing out, an out-only."""
    plan = [
        ("va", "in", 0),
        ("va", "in", 2),
        ("va", "out", 25),
        ("vb", "in", 40),
        ("va", "in", 100),
        ("va", "out", 110),
        ("vb", "out", 200),
        ("va", "in", 300),
        ("va", "out", 320),
    ]
    return [_scan(start_n + i, person, v, d, m) for i, (v, d, m) in enumerate(plan)]


async def _store(redis: Redis, url: str, ns: str, *, remembered: int = 1000) -> TracerStore:
    lanes = [FastPipe(url), FastPipe(url)]
    store = TracerStore(redis, Keys(ns), clock=lambda: NOW, fast=lanes, tails_remembered=remembered)
    for venue, minutes in DWELL.items():
        store.dwell_minutes[venue] = minutes  # as if the venue events came first
    return store


async def _close(store: TracerStore) -> None:
    for lane in store.lanes:
        if lane is not None:
            await lane.close()


async def _assert_reference(store: TracerStore, scans: Sequence[RefScan]) -> None:
    ref = reference_visits(list(scans), lambda v: DWELL.get(v, 60))
    t1, t2 = WINDOW
    for person in PERSONS:
        await assert_person_visits(store, ref, person, t1, t2)
    for venue in VENUES:
        await assert_venue_visits(store, ref, venue, t1, t2)


async def _drop(redis: Redis, ns: str) -> None:
    keys = [k async for k in redis.scan_iter(match=f"{ns}*")]
    if keys:
        await redis.delete(*keys)


def _run(redis_url: str, namespace: str, body: object) -> None:
    async def main() -> None:
        redis = connect(redis_url)
        try:
            await body(redis)  # type: ignore[operator]
        finally:
            await _drop(redis, namespace)
            await redis.aclose()

    asyncio.run(main())


def test_appends_are_derived_from_memory(redis_url: str, namespace: str) -> None:
    scans = sorted(
        [s for i, p in enumerate(PERSONS) for s in _day(p, 100 * i)], key=lambda s: s.scanned_at
    )

    async def body(redis: Redis) -> None:
        store = await _store(redis, redis_url, namespace)
        results: list[ApplyResult] = []
        try:
            for i in range(0, len(scans), 3):
                results.append(await store.apply_scans(scans[i : i + 3]))
            await _assert_reference(store, scans)
        finally:
            await _close(store)
        # the first batch of a process reads back; later appends of known persons do not
        assert results[0].from_memory == 0
        assert sum(r.from_memory for r in results[1:]) >= len(scans) - 3 - len(PERSONS)

    _run(redis_url, namespace, body)


def test_late_scans_and_duplicates_take_the_right_path(redis_url: str, namespace: str) -> None:
    day = _day("p1", 0)
    late = _scan(50, "p1", "vb", "in", 60)  # between remembered visits: before the tail
    earliest = _scan(51, "p1", "vb", "out", -30)  # before every scan of the person

    async def body(redis: Redis) -> None:
        store = await _store(redis, redis_url, namespace)
        try:
            for s in day:
                await store.apply_scans([s])
            again = await store.apply_scans(day[-2:])  # a replay of logged scans: no change
            assert again.from_memory == 1
            assert (again.visits_added, again.visits_removed) == (0, 0)
            got = await store.apply_scans([late])
            assert got.from_memory == 0  # restarts before what is remembered: read back
            await _assert_reference(store, [*day, late])
            got = await store.apply_scans([earliest])
            assert got.from_memory == 0
            await _assert_reference(store, [*day, late, earliest])
            # remembered again after the read-back: the next append comes from memory
            tail_scan = _scan(52, "p1", "va", "in", 400)
            assert (await store.apply_scans([tail_scan])).from_memory == 1
            await _assert_reference(store, [*day, late, earliest, tail_scan])
        finally:
            await _close(store)

    _run(redis_url, namespace, body)


def test_a_new_process_and_a_second_writer_read_back(redis_url: str, namespace: str) -> None:
    """Two stores on one Redis (a restarted worker, or two workers by mistake) alternate: each
    sees the other's writes through the ingest epoch and reads the persons back."""
    day = _day("p1", 0) + _day("p2", 100)
    day.sort(key=lambda s: s.scanned_at)

    async def body(redis: Redis) -> None:
        first = await _store(redis, redis_url, namespace)
        second = await _store(redis, redis_url, namespace)
        try:
            for i, s in enumerate(day):
                store = first if (i // 3) % 2 == 0 else second
                await store.apply_scans([s])
            await _assert_reference(first, day)
        finally:
            await _close(first)
            await _close(second)

    _run(redis_url, namespace, body)


def test_a_redis_emptied_under_the_memory_is_written_again(redis_url: str, namespace: str) -> None:
    """Without a script flush (nothing answers NOSCRIPT): the ingest epoch tells."""
    day = _day("p1", 0)

    async def body(redis: Redis) -> None:
        store = await _store(redis, redis_url, namespace)
        try:
            for s in day:
                await store.apply_scans([s])
            await _drop(redis, namespace)
            replayed = [await store.apply_scans([s]) for s in day]  # the replay from Kafka
            # all of it remembered, none of it in Redis: the first is read back, then remembered
            assert replayed[0].from_memory == 0
            await _assert_reference(store, day)
        finally:
            await _close(store)

    _run(redis_url, namespace, body)


def test_a_failed_batch_forgets_everything(redis_url: str, namespace: str) -> None:
    day = _day("p1", 0)

    async def body(redis: Redis) -> None:
        store = await _store(redis, redis_url, namespace)
        try:
            for s in day[:4]:
                await store.apply_scans([s])
            assert len(store.tails) == 1
            lane = store.lanes[hash("p1") % 2]
            assert lane is not None
            real = lane.execute

            async def broken(commands: object) -> list[object]:
                raise ConnectionError("Redis went away")

            lane.execute = broken  # type: ignore[method-assign]
            with pytest.raises(ExceptionGroup):
                await store.apply_scans(day[4:6])
            lane.execute = real  # type: ignore[method-assign]
            assert len(store.tails) == 0
            for s in day[4:]:  # the retry of the batch, then the rest
                await store.apply_scans([s])
            await _assert_reference(store, day)
        finally:
            await _close(store)

    _run(redis_url, namespace, body)


@st.composite
def in_order_with_late(draw: st.DrawFn) -> tuple[list[RefScan], list[list[RefScan]]]:
    """Scans of three persons, mostly in time order in small batches, some late or repeated."""
    n = draw(st.integers(1, 40))
    scans = [
        RefScan(
            str(uuid.UUID(int=draw(st.integers(0, 2**32)) * 2**64 + i)),
            draw(st.sampled_from(PERSONS)),
            draw(st.sampled_from(VENUES)),
            draw(st.sampled_from(["in", "in", "out"])),
            BASE + draw(st.integers(0, 20 * 60)) * MIN + draw(st.sampled_from([0, 0, 1])),
        )
        for i in range(n)
    ]
    order = sorted(scans, key=lambda s: s.scanned_at)
    late = draw(st.lists(st.sampled_from(order), max_size=6))
    arrival = [s for s in order if s not in late] + late
    arrival += draw(st.lists(st.sampled_from(order), max_size=4))  # redelivered
    batches: list[list[RefScan]] = []
    i = 0
    while i < len(arrival):
        k = draw(st.integers(1, 5))
        batches.append(arrival[i : i + k])
        i += k
    return scans, batches


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=in_order_with_late(), remembered=st.sampled_from([1, 2, 1000]), data=st.data())
def test_memory_and_redis_paths_match_reference(
    redis_url: str,
    namespace: str,
    case: tuple[list[RefScan], list[list[RefScan]]],
    remembered: int,
    data: st.DataObject,
) -> None:
    scans, batches = case
    restart_at = data.draw(st.integers(0, len(batches)))
    ns = f"{namespace}{uuid.uuid4().hex[:6]}."

    async def body(redis: Redis) -> None:
        store = await _store(redis, redis_url, ns, remembered=remembered)
        try:
            for i, batch in enumerate(batches):
                if i == restart_at:  # a new process: memory empty, Redis as left
                    await _close(store)
                    store = await _store(redis, redis_url, ns, remembered=remembered)
                await store.apply_scans(batch)
            await _assert_reference(store, scans)
        finally:
            await _close(store)
            await _drop(redis, ns)

    _run(redis_url, ns, body)


def test_tails_forget_the_least_recently_written_and_stale_generations() -> None:
    tails = Tails(2)
    tail = Tail([], True, None, [], 0.0)
    for person in ("a", "b", "c"):
        tails.put(person, tail, tails.generation)
    assert len(tails) == 2
    assert tails.take("a") is None
    assert tails.take("b") is tail
    generation = tails.generation
    tails.clear()
    tails.put("b", tail, generation)  # derived before the clear: not put back
    assert len(tails) == 0
