"""Kafka plumbing: a producer that keeps the durability promise and a batch consumer loop.

The producer sends with acks=all and idempotence, groups items by partition into batches, and
waits a bounded time for every acknowledgement. The consumer loop reads batches with
`getmany`, hands decoded events to the service, dead-letters poison events with the reason,
and commits offsets only after the work and the dead-lettering are done (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client import Counter, Gauge

from scantrace_common.events import InvalidEvent
from scantrace_common.topics import dlq_of

log = logging.getLogger(__name__)

T = TypeVar("T")
Item = tuple[bytes | None, bytes]


class KafkaUnavailable(Exception):
    """The broker could not be reached or refused the records."""


class ProduceTimeout(KafkaUnavailable):
    """Not every record was acknowledged within the bound; some may still arrive (dedup downstream)."""


class TooManyInvalid(Exception):
    """The share of poison events passed the limit: stop instead of dead-lettering everything."""


def idempotence_from_env() -> bool:
    """`SCANTRACE_KAFKA_IDEMPOTENCE` (default true); the stack sets false only for Tansu."""
    return os.environ.get("SCANTRACE_KAFKA_IDEMPOTENCE", "true").strip().lower() not in {
        "false",
        "0",
        "off",
        "no",
    }


class DurableProducer:
    """acks=all + idempotent producer with batch sends and a bounded wait for acknowledgements."""

    def __init__(
        self,
        bootstrap: str,
        *,
        client_id: str = "scantrace",
        ack_timeout_s: float = 5.0,
        linger_ms: int = 2,
        max_batch_size: int = 1 << 20,
        idempotence: bool | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        if idempotence is None:
            idempotence = idempotence_from_env()
        self._ack_timeout_s = ack_timeout_s
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            acks="all",
            # Off only for the embedded Tansu broker, which refuses idempotent producers.
            enable_idempotence=idempotence,
            linger_ms=linger_ms,
            max_batch_size=max_batch_size,
            request_timeout_ms=max(1000, int(ack_timeout_s * 1000)),
            retry_backoff_ms=100,
        )
        self._partitioner = DefaultPartitioner()
        self._max_batch_size = max_batch_size
        self.started = False

    @property
    def producer(self) -> AIOKafkaProducer:
        return self._producer

    async def start(self) -> None:
        try:
            await self._producer.start()
        except KafkaError as exc:
            # A failed start leaves the client's sockets open; close them before giving up.
            await self._producer.stop()
            raise KafkaUnavailable(f"cannot reach Kafka at {self._bootstrap}: {exc}") from exc
        self.started = True

    async def stop(self) -> None:
        if self.started:
            self.started = False
            await self._producer.stop()

    async def ping(self, timeout_s: float = 2.0) -> None:
        """Raises unless the cluster answers a metadata request in time (readiness)."""
        client = self._producer.client
        ok = await asyncio.wait_for(client.force_metadata_update(), timeout_s)
        if not ok or not client.cluster.brokers():
            raise KafkaUnavailable("no broker answered a metadata request")

    async def _partitions(self, topic: str) -> list[int]:
        partitions = await asyncio.wait_for(
            self._producer.partitions_for(topic), self._ack_timeout_s
        )
        return sorted(partitions)

    async def send_batch(
        self,
        topic: str,
        items: Sequence[Item],
        *,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Send every (key, value) and return once all are acknowledged by the cluster."""
        if not items:
            return
        try:
            partitions = await self._partitions(topic)
            by_partition: dict[int, list[Item]] = {}
            for key, value in items:
                partition = self._partitioner(key, partitions, partitions)
                by_partition.setdefault(partition, []).append((key, value))
            futures: list[asyncio.Future[Any]] = []
            for partition, part_items in by_partition.items():
                futures.extend(await self._send_partition(topic, partition, part_items, headers))
            await asyncio.wait_for(asyncio.gather(*futures), self._ack_timeout_s)
        except TimeoutError as exc:
            raise ProduceTimeout(
                f"Kafka did not acknowledge within {self._ack_timeout_s}s"
            ) from exc
        except KafkaError as exc:
            raise KafkaUnavailable(f"Kafka refused the batch: {exc}") from exc

    async def _send_partition(
        self,
        topic: str,
        partition: int,
        items: list[Item],
        headers: Sequence[tuple[str, bytes]] | None,
    ) -> list[asyncio.Future[Any]]:
        futures: list[asyncio.Future[Any]] = []
        batch = self._producer.create_batch()
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                batch.close()
                futures.append(await self._producer.send_batch(batch, topic, partition=partition))
                batch = self._producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise KafkaUnavailable("a single record is larger than the batch size")
        batch.close()
        futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        return futures


def dlq_headers(
    record: ConsumerRecord[bytes, bytes], reason: str, group_id: str
) -> list[tuple[str, bytes]]:
    """Headers of a dead letter: why, and where the original sits (topic, partition, offset)."""
    return [
        ("dlq.reason", reason[:1000].encode()),
        ("dlq.topic", record.topic.encode()),
        ("dlq.partition", str(record.partition).encode()),
        ("dlq.offset", str(record.offset).encode()),
        ("dlq.group", group_id.encode()),
    ]


@dataclass(frozen=True, slots=True)
class ConsumerMetrics:
    """The service's own metrics, each labelled by `topic`, updated by the loop."""

    processed: Counter
    dead_lettered: Counter
    lag: Gauge


@dataclass(frozen=True, slots=True)
class Decoded(Generic[T]):
    record: ConsumerRecord[bytes, bytes]
    event: T


PoisonList = list[tuple[ConsumerRecord[bytes, bytes], str]]
Handler = Callable[[list[Decoded[T]]], Awaitable[PoisonList | None]]


class BatchConsumerLoop(Generic[T]):
    """getmany -> decode -> handle -> dead-letter -> commit, until stopped.

    `decode(record)` raises `InvalidEvent` for poison; `handle(batch)` does the work (it must be
    idempotent, since a crash before the commit replays the batch) and may return further poison
    found while processing. A handler error is retried with backoff; after `max_retries` it is
    raised, so the process dies with offsets uncommitted and a restart replays the batch.
    """

    def __init__(
        self,
        *,
        consumer: AIOKafkaConsumer,
        decode: Callable[[ConsumerRecord[bytes, bytes]], T],
        handle: Handler[T],
        dlq_producer: DurableProducer,
        group_id: str,
        metrics: ConsumerMetrics | None = None,
        max_records: int = 2000,
        poll_timeout_ms: int = 200,
        max_invalid_ratio: float = 0.2,
        invalid_window: int = 1000,
        min_invalid_to_stop: int = 50,
        max_retries: int = 5,
    ) -> None:
        self._consumer = consumer
        self._decode = decode
        self._handle = handle
        self._dlq = dlq_producer
        self._group_id = group_id
        self._metrics = metrics
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._max_invalid_ratio = max_invalid_ratio
        self._min_invalid_to_stop = min_invalid_to_stop
        self._max_retries = max_retries
        self._window: deque[bool] = deque(maxlen=invalid_window)
        self._stopping = asyncio.Event()
        self.batches_done = 0
        self.last_batch_at = 0.0

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            batches = await self._consumer.getmany(
                timeout_ms=self._poll_timeout_ms, max_records=self._max_records
            )
            records = [record for part in batches.values() for record in part]
            if records:
                await self.process(records)
            await self._update_lag()

    async def process(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Handle one batch fully, then commit the offsets after it."""
        decoded: list[Decoded[T]] = []
        poison: PoisonList = []
        for record in records:
            try:
                decoded.append(Decoded(record, self._decode(record)))
                self._window.append(False)
            except InvalidEvent as exc:
                poison.append((record, str(exc)))
                self._window.append(True)
        self._check_invalid_ratio()
        more = await self._handle_with_retries(decoded) if decoded else None
        if more:
            poison.extend(more)
        if poison:
            await self._dead_letter(poison)
        await self._commit(records)
        self._count(records, poison)
        self.batches_done += 1
        self.last_batch_at = time.monotonic()

    async def _handle_with_retries(self, decoded: list[Decoded[T]]) -> PoisonList | None:
        delay = 0.2
        for attempt in range(1, self._max_retries + 1):
            try:
                return await self._handle(decoded)
            except Exception:
                if attempt == self._max_retries:
                    raise
                log.exception(
                    "batch handler failed (attempt %d), retrying in %.1fs", attempt, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        return None  # pragma: no cover - the loop returns or raises

    def _check_invalid_ratio(self) -> None:
        invalid = sum(self._window)
        if (
            invalid >= self._min_invalid_to_stop
            and invalid / len(self._window) > self._max_invalid_ratio
        ):
            raise TooManyInvalid(
                f"{invalid} of the last {len(self._window)} events were invalid "
                f"(limit {self._max_invalid_ratio:.0%}); stopping instead of dead-lettering them all"
            )

    async def _dead_letter(self, poison: PoisonList) -> None:
        by_topic: dict[str, list[tuple[ConsumerRecord[bytes, bytes], str]]] = {}
        for record, reason in poison:
            by_topic.setdefault(record.topic, []).append((record, reason))
        for topic, entries in by_topic.items():
            for record, reason in entries:
                log.warning(
                    "dead-lettering %s[%d]@%d: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    reason,
                )
                await self._dlq.send_batch(
                    dlq_of(topic),
                    [(record.key, record.value or b"")],
                    headers=dlq_headers(record, reason, self._group_id),
                )

    async def _commit(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        await self._consumer.commit(offsets)

    def _count(self, records: list[ConsumerRecord[bytes, bytes]], poison: PoisonList) -> None:
        if self._metrics is None:
            return
        per_topic: dict[str, int] = {}
        for record in records:
            per_topic[record.topic] = per_topic.get(record.topic, 0) + 1
        for topic, count in per_topic.items():
            self._metrics.processed.labels(topic=topic).inc(count)
        for record, _ in poison:
            self._metrics.dead_lettered.labels(topic=record.topic).inc()

    async def _update_lag(self) -> None:
        if self._metrics is None:
            return
        lag_by_topic: dict[str, int] = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self._consumer.position(tp)
            lag_by_topic[tp.topic] = lag_by_topic.get(tp.topic, 0) + max(0, highwater - position)
        for topic, lag in lag_by_topic.items():
            self._metrics.lag.labels(topic=topic).set(lag)


def consumer_for(
    bootstrap: str,
    topics: Sequence[str],
    group_id: str,
    *,
    client_id: str = "scantrace",
    max_poll_records: int = 2000,
) -> AIOKafkaConsumer:
    """A consumer for `BatchConsumerLoop`: manual commits, earliest on first start."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=max_poll_records,
        fetch_max_bytes=16 << 20,
        max_partition_fetch_bytes=4 << 20,
    )
