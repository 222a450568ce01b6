"""The local broker: durable produce, group consume, and data kept across a SIGKILL + restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from scantrace_cli.stack import LocalKafka
from scantrace_cli.stack.kafka_dist import missing_prerequisites
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.topics import SCANS, ensure_topics, topic_name
from tests.support.servers import BrokerSource

pytestmark = pytest.mark.integration

COUNT = 200


async def _produce(bootstrap: str, topic: str, *, idempotent: bool) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotent
    )
    await producer.start()
    try:
        sends = [
            await producer.send(topic, f"value-{i}".encode(), key=f"venue-{i % 7}".encode())
            for i in range(COUNT)
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def _consume(
    bootstrap: str, topic: str, group: str, want: int
) -> list[ConsumerRecord[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while len(got) < want and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got.extend(record for records in batch.values() for record in records)
        await consumer.commit()
    finally:
        await consumer.stop()
    return got


async def _committed(bootstrap: str, topic: str, group: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()  # first contact: load the topic
            partitions = consumer.partitions_for_topic(topic) or set()
        total = 0
        for partition in partitions:
            total += await consumer.committed(TopicPartition(topic, partition)) or 0
        return total
    finally:
        await consumer.stop()


async def test_durable_produce_then_group_consume(
    kafka_bootstrap: str, kafka_topics: str, broker_source: BrokerSource
) -> None:
    topic = topic_name(SCANS, kafka_topics)
    # Tansu refuses idempotent producers (docs/local-stack.md); Kafka must accept them.
    await _produce(kafka_bootstrap, topic, idempotent=broker_source != "tansu")
    group = f"{kafka_topics}stack-test"
    got = await _consume(kafka_bootstrap, topic, group, COUNT)
    assert sorted(record.value for record in got) == sorted(
        f"value-{i}".encode() for i in range(COUNT)
    )
    # Every key stays on one partition, so per-venue order holds.
    partitions_by_key: dict[bytes | None, set[int]] = {}
    for record in got:
        partitions_by_key.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in partitions_by_key.values())
    assert await _committed(kafka_bootstrap, topic, group) == COUNT


@pytest.mark.kafka_only
async def test_sigkill_and_restart_keep_records_and_offsets(tmp_path: Path) -> None:
    reason = missing_prerequisites()
    if reason is not None:
        pytest.skip(f"Apache Kafka cannot run here: {reason}")
    broker = LocalKafka(tmp_path / "state", 0)
    # Started from this thread, not a worker: the broker dies with the thread that spawned it.
    broker.start()
    try:
        namespace = "crash."
        await ensure_topics(
            broker.address, namespace, partitions_override=3, retention_days=DEFAULT_RETENTION_DAYS
        )
        topic = topic_name(SCANS, namespace)
        await _produce(broker.address, topic, idempotent=True)
        half = await _consume(broker.address, topic, "crash-group", COUNT)
        assert len(half) == COUNT

        await asyncio.to_thread(broker.kill)
        assert not broker.alive
        port = broker.port
        broker.start()
        assert broker.port == port

        again = await _consume(broker.address, topic, "fresh-group", COUNT)
        assert sorted(r.value for r in again) == sorted(r.value for r in half)
        assert await _committed(broker.address, topic, "crash-group") == COUNT
    finally:
        await asyncio.to_thread(broker.stop)


@pytest.mark.kafka_only
async def test_a_kept_cluster_id_starting_with_a_dash_still_formats(tmp_path: Path) -> None:
    reason = missing_prerequisites()
    if reason is not None:
        pytest.skip(f"Apache Kafka cannot run here: {reason}")
    state = tmp_path / "state"
    (state / "kafka").mkdir(parents=True)
    # One fresh id in 64 started so before the fix; a state folder may still keep one.
    (state / "kafka" / "cluster-id").write_text("-7QTA1A5gehwLTSSLaFxnw\n")
    broker = LocalKafka(state, 0)
    broker.start()
    try:
        namespace = "dash."
        await ensure_topics(
            broker.address, namespace, partitions_override=1, retention_days=DEFAULT_RETENTION_DAYS
        )
        await _produce(broker.address, topic_name(SCANS, namespace), idempotent=True)
    finally:
        await asyncio.to_thread(broker.stop)
