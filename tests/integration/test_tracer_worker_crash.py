"""The real worker (Faust inside `python -m scantrace_tracer`) against real Kafka and Redis:
killed with SIGKILL mid-stream and restarted, it ends in exactly the reference state; a rebuild
from the topics alone gives the same state again.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from scantrace_common.events import ScanEvent, VenueEvent, encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.redis_client import connect
from scantrace_common.topics import SCANS, VENUES, topic_name
from scantrace_common.venue_kinds import dwell_minutes
from scantrace_tracer.exposures import exposures
from scantrace_tracer.keys import Keys
from scantrace_tracer.rebuild import rebuild
from scantrace_tracer.settings import TracerSettings
from scantrace_tracer.store import TracerStore
from tests.reference.contacts import reference_exposures
from tests.reference.model import Scan as RefScan
from tests.reference.visits import reference_visits

# kafka_only: against Tansu 0.6 the restarted faust worker's client fails to decode one of the
# broker's answers (aiokafka: "unpack requires a buffer of 4 bytes"); see docs/local-stack.md.
pytestmark = [pytest.mark.integration, pytest.mark.kafka_only]

MIN = 60_000
KINDS = ["shop", "office", "cafe", "transport", "clinic"]


def _scenario(seed: int, n: int) -> tuple[list[VenueEvent], list[ScanEvent]]:
    rng = random.Random(seed)
    now = time.time_ns() // 1_000_000
    base = now - 3 * 86_400_000
    venues = [
        VenueEvent(
            venue_id=f"v{i}",
            name=f"venue {i}",
            kind=KINDS[i % len(KINDS)],
            unit_id="u1",
            default_dwell_minutes=rng.choice([None, None, 20]),
            registered_at=base,
        )
        for i in range(8)
    ]
    scans: list[ScanEvent] = []
    for _ in range(n):
        scan = ScanEvent(
            scan_id=str(uuid.UUID(int=rng.getrandbits(128))),
            person_id=f"p{rng.randrange(40)}",
            venue_id=f"v{rng.randrange(8)}",
            direction=rng.choice(["in", "in", "out"]),
            scanned_at=base + rng.randrange(2 * 24 * 60) * MIN + rng.choice([0, 0, 1]),
            received_at=now,
            device_id="d1",
        )
        scans.append(scan)
        if rng.random() < 0.05:
            scans.append(scan)  # a duplicate delivery
    rng.shuffle(scans)  # late and out-of-order arrivals
    return venues, scans


def _start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "scantrace_tracer"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def tracer_env(kafka_bootstrap: str, redis_url: str, kafka_topics: str) -> dict[str, str]:
    env = dict(
        os.environ,
        SCANTRACE_KAFKA_BOOTSTRAP=kafka_bootstrap,
        SCANTRACE_REDIS_URL=redis_url,
        SCANTRACE_NAMESPACE=kafka_topics,
        SCANTRACE_TRACER_PORT="0",
        SCANTRACE_TRACER_BATCH_MAX="150",
        SCANTRACE_LOG_LEVEL="WARNING",
        # the placeholder auth secret is refused outside development (the default is production)
        SCANTRACE_ENVIRONMENT="development",
    )
    return env


async def _committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(o.offset for tp, o in offsets.items() if tp.topic == topic and o.offset > 0)


async def _wait_caught_up(env: dict[str, str], end: int, timeout_s: float = 180) -> None:
    """Until the worker's group has committed all `end` records of scans.v1 (offsets are
    contiguous: the producer is idempotent, not transactional)."""
    bootstrap = env["SCANTRACE_KAFKA_BOOTSTRAP"]
    group = f"{env['SCANTRACE_NAMESPACE']}scantrace-tracer"
    topic = topic_name(SCANS, env["SCANTRACE_NAMESPACE"])
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await _committed(admin, group, topic) >= end:
                return
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise AssertionError("the tracer did not catch up")


async def _assert_reference_state(
    store: TracerStore, venues: list[VenueEvent], scans: list[ScanEvent]
) -> None:
    dwell = {v.venue_id: dwell_minutes(v.kind, v.default_dwell_minutes) for v in venues}
    ref = reference_visits(
        [RefScan(s.scan_id, s.person_id, s.venue_id, s.direction, s.scanned_at) for s in scans],
        lambda v: dwell.get(v, 60),
    )
    lo, hi = 0, time.time_ns() // 1_000_000 + 86_400_000
    persons = sorted({s.person_id for s in scans})
    got = await store.persons_visits(persons, lo, hi)
    for person in persons:
        want = [(v.venue_id, v.start, v.end, v.closed_by) for v in ref.get(person, [])]
        assert [(v.venue_id, v.start, v.end, v.closed_by) for v in got[person]] == want, person
    import msgspec

    for person in persons[:5]:
        for depth in (1, 2):
            expected = reference_exposures(ref, person, lo, hi, 15, depth)
            actual = await exposures(store, person, lo, hi, 15, depth)
            assert msgspec.to_builtins(actual) == expected


async def test_sigkill_mid_stream_then_restart_reaches_reference_state(
    tracer_env: dict[str, str],
) -> None:
    ns = tracer_env["SCANTRACE_NAMESPACE"]
    bootstrap = tracer_env["SCANTRACE_KAFKA_BOOTSTRAP"]
    venues, scans = _scenario(seed=7, n=2500)
    producer = DurableProducer(bootstrap)
    await producer.start()
    try:
        await producer.send_batch(
            topic_name(VENUES, ns), [(v.venue_id.encode(), encode(v)) for v in venues]
        )
        # half before the first start, the rest while the first worker runs
        half = len(scans) // 2
        await producer.send_batch(
            topic_name(SCANS, ns), [(s.venue_id.encode(), encode(s)) for s in scans[:half]]
        )
        redis = connect(tracer_env["SCANTRACE_REDIS_URL"])
        store = TracerStore(redis, Keys(ns))
        first = _start(tracer_env)
        try:
            deadline = time.monotonic() + 90
            while await redis.zcard(store.keys.open_visits) < 5:
                assert time.monotonic() < deadline, "the worker never started processing"
                await asyncio.sleep(0.05)
            await producer.send_batch(
                topic_name(SCANS, ns), [(s.venue_id.encode(), encode(s)) for s in scans[half:]]
            )
            await asyncio.sleep(0.3)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        second = _start(tracer_env)
        try:
            await _wait_caught_up(tracer_env, len(scans))
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        await _assert_reference_state(store, venues, scans)

        settings = TracerSettings(
            kafka_bootstrap=bootstrap, redis_url=tracer_env["SCANTRACE_REDIS_URL"], namespace=ns
        )
        report = await rebuild(settings)
        assert report.scan_events == len(scans)
        await _assert_reference_state(store, venues, scans)
        await redis.aclose()
    finally:
        await producer.stop()
