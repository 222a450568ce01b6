"""A local three-broker Apache Kafka (SCANTRACE_LOCAL_KAFKA_BROKERS=3, SPEC 1): topics with three
replicas and `min.insync.replicas` 2, and acknowledged writes that survive the leader's SIGKILL.

One cluster for the module: three JVMs cost tens of seconds on two cores.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from scantrace_cli.stack.kafka import LocalKafkaCluster
from scantrace_cli.stack.kafka_dist import missing_prerequisites
from scantrace_cli.stack.process import wait_until
from scantrace_common.kafka import DurableProducer
from scantrace_common.settings import DEFAULT_RETENTION_DAYS
from scantrace_common.topics import SCANS, ensure_topics, topic_name

pytestmark = [pytest.mark.integration, pytest.mark.kafka_only, pytest.mark.timeout(600)]

NAMESPACE = "cluster."
TOPIC = topic_name(SCANS, NAMESPACE)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafkaCluster]:
    reason = missing_prerequisites()
    if reason is not None:
        pytest.skip(f"Apache Kafka cannot run here: {reason}")
    brokers = LocalKafkaCluster(tmp_path_factory.mktemp("cluster-state"), 0, 3)
    # Started from this thread: each broker dies with the thread that spawned it.
    brokers.start()
    asyncio.run(
        ensure_topics(
            brokers.address,
            NAMESPACE,
            retention_days=DEFAULT_RETENTION_DAYS,
            replication_factor=3,
            partitions_override=3,
        )
    )
    yield brokers
    brokers.stop()


@pytest.fixture
async def admin(cluster: LocalKafkaCluster) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=cluster.address, request_timeout_ms=15000)
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def partitions(admin: AIOKafkaAdminClient) -> list[dict[str, Any]]:
    (described,) = await admin.describe_topics([TOPIC])
    found: list[dict[str, Any]] = described["partitions"]
    return sorted(found, key=lambda p: p["partition"])


async def test_topics_have_three_replicas_and_need_two_in_sync(
    admin: AIOKafkaAdminClient,
) -> None:
    for partition in await partitions(admin):
        assert sorted(partition["replicas"]) == [1, 2, 3]
    (configs,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, TOPIC)])
    entries = {entry[0]: entry[1] for entry in configs.resources[0][4]}
    assert entries["min.insync.replicas"] == "2"


async def _produce(producer: DurableProducer, first: int, count: int) -> None:
    for start in range(first, first + count, 100):
        batch = [(str(i % 7).encode(), str(i).encode()) for i in range(start, start + 100)]
        await producer.send_batch(TOPIC, batch)


async def _read_all(bootstrap: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        while len(values) < expected:
            batches = await consumer.getmany(timeout_ms=2000)
            if not batches:
                break
            for records in batches.values():
                values.extend(r.value for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return values


async def test_acknowledged_writes_survive_the_leaders_sigkill(
    cluster: LocalKafkaCluster, admin: AIOKafkaAdminClient
) -> None:
    """acks=all with idempotence: every acknowledged record is there once after the leader of
    partition 0 is killed mid-stream and comes back."""
    # the election after the kill can outlast the default 5 s wait on a loaded 2-core machine
    producer = DurableProducer(cluster.address, client_id="cluster-test", ack_timeout_s=60)
    await producer.start()
    try:
        await _produce(producer, 0, 1000)
        leader = (await partitions(admin))[0]["leader"]
        await asyncio.to_thread(cluster.node(leader).kill)
        await _produce(producer, 1000, 1000)  # the remaining two replicas are enough
        # the fixture's admin client may be pinned to the killed node: ask the survivors
        moved = (await _described_retrying(cluster.address))[0]["leader"]
        assert moved != leader
        # The killed broker restarts on its state and catches up (a bounded wait, no figure).
        cluster.node(leader).spawn()  # from this thread, which outlives it
        await asyncio.to_thread(cluster.node(leader).wait_ready)
        await _produce(producer, 2000, 1000)
    finally:
        await producer.stop()

    def back_in_sync() -> bool:
        described = asyncio.run(_described_retrying(cluster.address))
        return all(sorted(p["isr"]) == [1, 2, 3] for p in described)

    await asyncio.to_thread(wait_until, back_in_sync, what="the ISR of 3", timeout=120)
    values = await _read_all(cluster.address, 3000)
    assert sorted(int(v) for v in values) == list(range(3000))


async def _described_retrying(bootstrap: str, timeout_s: float = 60) -> list[dict[str, Any]]:
    """Describe the topic with a new client per try: a client whose chosen node was just killed
    raises NodeNotReadyError instead of asking another broker."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            return await _described(bootstrap)
        except KafkaError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1)


async def _described(bootstrap: str) -> list[dict[str, Any]]:
    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await client.start()
    try:
        return await partitions(client)
    finally:
        await client.close()
