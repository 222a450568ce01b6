"""Rebuild the tracer's Redis state from Kafka alone: Redis is a cache of `venues.v1` and
`scans.v1`, of `exposures.v1` and `declarations.v1` for follow-ups, and of `clusters.v1` and
`cases.v1` for clusters (SPEC 11). Stop the tracer worker first; the live worker, restarted,
replays from its committed offsets onto the rebuilt state, which is harmless because every write
is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from scantrace_common.events import CaseEvent, ClustersEvent, ExposureEvent, InvalidEvent, decode
from scantrace_common.redis_client import connect
from scantrace_common.topics import (
    CASES,
    CLUSTERS,
    DECLARATIONS,
    EXPOSURES,
    SCANS,
    VENUES,
    topic_name,
)
from scantrace_tracer.cluster_store import ClusterStore
from scantrace_tracer.fastpipe import FastPipe
from scantrace_tracer.followup_store import FollowUpStore
from scantrace_tracer.ingest import Ingest, PoisonGuard, Record
from scantrace_tracer.keys import Keys
from scantrace_tracer.settings import TracerSettings
from scantrace_tracer.store import TracerStore, wall_clock_ms

log = logging.getLogger(__name__)

E = TypeVar("E", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class RebuildReport:
    keys_deleted: int
    venue_events: int
    scan_events: int
    exposure_events: int = 0
    declaration_events: int = 0
    cluster_events: int = 0
    case_events: int = 0


async def _no_dead_letters(*_: object) -> None:
    """Poison was dead-lettered by the live worker already; a rebuild only skips it."""


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(int(p["partition"]) for p in described.get("partitions", []))


async def read_topic(
    bootstrap: str,
    topic: str,
    handle: Callable[[Sequence[Record]], Awaitable[int]],
    *,
    batch: int = 5000,
) -> int:
    """Feed every record of `topic`, from the beginning to its end now, to `handle` in batches."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await _partitions(bootstrap, topic)]
        if not tps:
            return 0
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        seen = 0
        while todo:
            got = await consumer.getmany(*todo, timeout_ms=1000, max_records=batch)
            records: list[Record] = []
            for tp, msgs in got.items():
                for m in msgs:
                    if m.offset < ends[tp]:
                        records.append(Record(m.topic, m.partition, m.offset, m.key, m.value))
                if msgs and msgs[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
            if records:
                await handle(records)
                seen += len(records)
        return seen
    finally:
        await consumer.stop()


async def rebuild(settings: TracerSettings) -> RebuildReport:
    redis = connect(settings.redis_url)
    try:
        keys = Keys(settings.namespace)
        deleted = 0
        async for key in redis.scan_iter(match=f"{keys.prefix}*", count=1000):
            if key.decode().startswith(f"{keys.prefix}case"):
                continue  # cases are not derived from scans: keep them
            deleted += int(await redis.unlink(key))
        lanes = [FastPipe(settings.redis_url) for _ in range(settings.tracer_redis_lanes)]
        store = TracerStore(
            redis,
            keys,
            retention_days=settings.retention_days,
            fast=lanes,
            tails_remembered=settings.tracer_tails_remembered,
        )
        follow_ups = FollowUpStore.from_settings(redis, keys, settings, quarantines=False)
        cluster_store = ClusterStore.from_settings(store, settings)
        ingest = Ingest(
            store,
            namespace=settings.namespace,
            dead_letter=_no_dead_letters,
            guard=PoisonGuard(max_ratio=1.0, window=10, min_invalid=10**9),
            group="rebuild",
            follow_ups=follow_ups,
            clusters=cluster_store,
        )

        async def exposure_notices(records: Sequence[Record]) -> int:
            return await follow_ups.add_exposures(_decoded(ExposureEvent, records), wall_clock_ms())

        async def cluster_lists(records: Sequence[Record]) -> int:
            return await cluster_store.restore(_decoded(ClustersEvent, records), wall_clock_ms())

        async def case_presences(records: Sequence[Record]) -> int:
            # the lists are those published (restored first): only the presences are rebuilt
            for case in _decoded(CaseEvent, records):
                await cluster_store.add_case(case, None, wall_clock_ms(), recompute=False)
            return len(records)

        venues = await read_topic(
            settings.kafka_bootstrap,
            topic_name(VENUES, settings.namespace),
            ingest.handle_venues,
        )
        scans = await read_topic(
            settings.kafka_bootstrap,
            topic_name(SCANS, settings.namespace),
            ingest.handle_scans,
            batch=settings.tracer_batch_max,
        )
        exposures = await read_topic(
            settings.kafka_bootstrap,
            topic_name(EXPOSURES, settings.namespace),
            exposure_notices,
        )
        declarations = await read_topic(
            settings.kafka_bootstrap,
            topic_name(DECLARATIONS, settings.namespace),
            ingest.handle_declarations,
        )
        cluster_events = await read_topic(
            settings.kafka_bootstrap, topic_name(CLUSTERS, settings.namespace), cluster_lists
        )
        case_events = await read_topic(
            settings.kafka_bootstrap, topic_name(CASES, settings.namespace), case_presences
        )
        for lane in lanes:
            await lane.close()
        return RebuildReport(
            deleted, venues, scans, exposures, declarations, cluster_events, case_events
        )
    finally:
        await redis.aclose()


def _decoded(kind: type[E], records: Sequence[Record]) -> list[E]:
    """The events of `records` that decode (the tracer published them checked; anything else
    holds nothing to rebuild from)."""
    found: list[E] = []
    for r in records:
        try:
            found.append(decode(kind, r.value))
        except InvalidEvent:
            continue
    return found
