"""The durable producer and the batch consumer loop against a real broker."""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from scantrace_common.events import ScanEvent, decode, encode
from scantrace_common.kafka import (
    BatchConsumerLoop,
    Decoded,
    DurableProducer,
    PoisonList,
    TooManyInvalid,
    consumer_for,
)
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.topics import SCANS, dlq_of, ensure_topics, topic_name

pytestmark = pytest.mark.integration


def _scan(i: int) -> ScanEvent:
    return ScanEvent(
        scan_id=str(uuid.uuid4()),
        person_id=f"p{i % 37}",
        venue_id=f"v{i % 11}",
        direction="in",
        scanned_at=1_621_215_000_000 + i,
        received_at=1_621_215_000_500 + i,
        device_id=f"d{i % 37}",
    )


async def _setup(bootstrap: str, namespace: str) -> tuple[str, DurableProducer]:
    await ensure_topics(
        bootstrap, namespace, partitions_override=3, retention_days=DEFAULT_RETENTION_DAYS
    )
    producer = DurableProducer(bootstrap, ack_timeout_s=20)
    await producer.start()
    return topic_name(SCANS, namespace), producer


async def _drain(
    consumer: AIOKafkaConsumer, want: int, timeout_s: float = 30
) -> list[ConsumerRecord[bytes, bytes]]:
    got: list[ConsumerRecord[bytes, bytes]] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(got) < want and asyncio.get_running_loop().time() < deadline:
        batch = await consumer.getmany(timeout_ms=500)
        got.extend(r for part in batch.values() for r in part)
    return got


def _decode(record: ConsumerRecord[bytes, bytes]) -> ScanEvent:
    return decode(ScanEvent, record.value)


async def test_batch_send_is_acknowledged_and_keyed_by_venue(
    kafka_bootstrap: str, namespace: str
) -> None:
    topic, producer = await _setup(kafka_bootstrap, namespace)
    scans = [_scan(i) for i in range(600)]
    try:
        await producer.send_batch(topic, [(s.venue_id.encode(), encode(s)) for s in scans])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        records = await _drain(consumer, len(scans))
    finally:
        await consumer.stop()
    assert sorted(decode(ScanEvent, r.value).scan_id for r in records) == sorted(
        s.scan_id for s in scans
    )
    partitions_of_venue: dict[bytes, set[int]] = {}
    for record in records:
        assert record.key is not None
        partitions_of_venue.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in partitions_of_venue.values())


async def test_loop_dead_letters_poison_and_commits_after_the_work(
    kafka_bootstrap: str, namespace: str
) -> None:
    topic, producer = await _setup(kafka_bootstrap, namespace)
    good = [_scan(i) for i in range(40)]
    poison = [b"\xc1not msgpack", msgspec.msgpack.encode({"v": 1, "scan_id": "nope"})]
    items = [(s.venue_id.encode(), encode(s)) for s in good] + [(b"v0", p) for p in poison]
    await producer.send_batch(topic, items)
    group = f"{namespace}group"
    handled: list[str] = []

    async def handle(batch: list[Decoded[ScanEvent]]) -> PoisonList | None:
        handled.extend(d.event.scan_id for d in batch)
        # a semantic poison found while processing: dead-lettered, not retried
        return [
            (d.record, "venue v3 is not accepted by this test")
            for d in batch
            if d.event.venue_id == "v3"
        ]

    consumer = consumer_for(kafka_bootstrap, [topic], group)
    await consumer.start()
    loop = BatchConsumerLoop(
        consumer=consumer, decode=_decode, handle=handle, dlq_producer=producer, group_id=group
    )
    task = asyncio.create_task(loop.run())
    try:
        for _ in range(120):
            if len(handled) >= len(good):
                break
            await asyncio.sleep(0.25)
    finally:
        loop.stop()
        await task
        await consumer.stop()
    assert sorted(handled) == sorted(s.scan_id for s in good)

    dlq = AIOKafkaConsumer(
        dlq_of(topic), bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await dlq.start()
    try:
        dead = await _drain(dlq, 2 + sum(1 for s in good if s.venue_id == "v3"))
    finally:
        await dlq.stop()
    reasons = [dict(r.headers)["dlq.reason"].decode() for r in dead]
    assert sum("undecodable" in r or "invalid" in r for r in reasons) == 2
    assert all(dict(r.headers)["dlq.topic"].decode() == topic for r in dead)
    assert sum("v3" in r for r in reasons) == sum(1 for s in good if s.venue_id == "v3")

    # Everything was committed: the same group sees nothing more.
    again = consumer_for(kafka_bootstrap, [topic], group)
    await again.start()
    try:
        assert await _drain(again, 1, timeout_s=3) == []
    finally:
        await again.stop()
        await producer.stop()


async def test_failed_work_is_not_committed(kafka_bootstrap: str, namespace: str) -> None:
    topic, producer = await _setup(kafka_bootstrap, namespace)
    scans = [_scan(i) for i in range(10)]
    await producer.send_batch(topic, [(s.venue_id.encode(), encode(s)) for s in scans])
    group = f"{namespace}group"

    async def fail(batch: list[Decoded[ScanEvent]]) -> PoisonList | None:
        raise RuntimeError("Redis is down")

    consumer = consumer_for(kafka_bootstrap, [topic], group)
    await consumer.start()
    loop = BatchConsumerLoop(
        consumer=consumer,
        decode=_decode,
        handle=fail,
        dlq_producer=producer,
        group_id=group,
        max_retries=2,
    )
    with pytest.raises(RuntimeError, match="Redis is down"):
        await asyncio.wait_for(loop.run(), 60)
    await consumer.stop()

    replay = consumer_for(kafka_bootstrap, [topic], group)
    await replay.start()
    try:
        records = await _drain(replay, len(scans))
    finally:
        await replay.stop()
        await producer.stop()
    assert len(records) == len(scans)


async def test_too_much_poison_stops_the_loop(kafka_bootstrap: str, namespace: str) -> None:
    topic, producer = await _setup(kafka_bootstrap, namespace)
    await producer.send_batch(topic, [(b"v", b"\xc1") for _ in range(80)])
    group = f"{namespace}group"

    async def handle(batch: list[Decoded[ScanEvent]]) -> PoisonList | None:
        return None

    consumer = consumer_for(kafka_bootstrap, [topic], group)
    await consumer.start()
    loop = BatchConsumerLoop(
        consumer=consumer, decode=_decode, handle=handle, dlq_producer=producer, group_id=group
    )
    try:
        with pytest.raises(TooManyInvalid):
            await asyncio.wait_for(loop.run(), 60)
    finally:
        await consumer.stop()
        await producer.stop()
