"""Reading a whole topic, from its first offset to its end now, for the checker."""

from __future__ import annotations

from collections import Counter

from aiokafka import AIOKafkaConsumer, TopicPartition

from scantrace_common.events import ScanEvent, decode


async def read_values(bootstrap: str, topic: str) -> list[bytes]:
    """Every record value of `topic` (all partitions), up to the end offsets at the call."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        # A consumer that subscribed to nothing knows no partitions: ask for this topic's.
        consumer._client.add_topic(topic)
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        assert parts, f"topic {topic} not found"
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        values: list[bytes] = []
        while todo:
            got = await consumer.getmany(*todo, timeout_ms=1000, max_records=10_000)
            for tp, messages in got.items():
                for message in messages:
                    if message.offset < ends[tp] and message.value is not None:
                        values.append(message.value)
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    todo.discard(tp)
        return values
    finally:
        await consumer.stop()


async def read_scans(bootstrap: str, topic: str) -> list[ScanEvent]:
    return [decode(ScanEvent, value) for value in await read_values(bootstrap, topic)]


def copies_by_id(scans: list[ScanEvent]) -> Counter[str]:
    """scan_id -> how many records of it the log holds."""
    return Counter(scan.scan_id for scan in scans)
