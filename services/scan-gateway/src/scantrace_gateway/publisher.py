"""Publishing accepted items durably: Kafka (acks=all) within a bound, else the fsynced spool.

One flush at a time takes every item queued meanwhile (group commit) and sends it with batch
sends. A failed or slow send switches to "degraded": items go straight to the spool (no
per-request wait on a dead broker) until the replay task has delivered the whole spool, in
order, and so proved the broker is back. Spooled items whose time is older than the retention
when they are delivered are dropped, never published (`drop_expired`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import msgspec
from aiokafka.partitioner import DefaultPartitioner

from scantrace_common.kafka import DurableProducer
from scantrace_gateway import metrics
from scantrace_gateway.coalesce import Coalescer
from scantrace_gateway.spool import Record, Spool, SpoolBusy, SpoolError, orphan_slots

log = logging.getLogger(__name__)

# Timeouts use `asyncio.timeout`, never `wait_for`: on Python 3.11 `wait_for` can swallow the
# cancellation of its caller when the awaited call has just failed.
Sink = Literal["kafka", "spool"]

#: The spool's delivery mark is fsynced at most this often; a crash resends at most the sends
#: of this interval (downstream dedups by id).
_ACK_PERSIST_INTERVAL_S = 0.2
#: Batches whose oldest frame waited in the spool longer than this have their items' times
#: examined at delivery. Younger ones (the steady `spool` ack mode) are sent unexamined: an item
#: of theirs is at most this far past the retention, as it could be had Kafka taken it at once.
_EXAMINE_AFTER_MS = 60_000


class Unavailable(Exception):
    """Neither Kafka nor the spool took the items: answer 503 with Retry-After."""

    retry_after_s = 5


class BatchSender(Protocol):
    async def send_batch(self, topic: str, records: Sequence[Record]) -> None:
        """Send records of `topic` (the first element of each is that topic) and wait."""
        ...

    async def ping(self) -> None:
        """Raises unless the broker answers."""
        ...


class Publisher(Protocol):
    """What the routes need; unit tests put an in-memory fake behind this boundary."""

    async def publish(self, records: list[Record]) -> Sink:
        """Returns where the records are durable; raises Unavailable."""
        ...


class KafkaLink:
    """Keeps one started DurableProducer, (re)starting it in the background while Kafka is away."""

    def __init__(self, bootstrap: str, *, ack_timeout_s: float, client_id: str) -> None:
        self._bootstrap = bootstrap
        self._ack_timeout_s = ack_timeout_s
        self._client_id = client_id
        self.producer: DurableProducer | None = None
        self._connected = asyncio.Event()
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._key_partition: dict[str, dict[bytes, int]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        delay = 0.2
        while True:
            producer = DurableProducer(
                self._bootstrap, client_id=self._client_id, ack_timeout_s=self._ack_timeout_s
            )
            try:
                await producer.start()
            except Exception as exc:  # any start failure: retry; intake spools meanwhile
                log.warning("Kafka producer not started (%s); retrying in %.1fs", exc, delay)
                # DurableProducer.stop() skips a producer that never started; close its sockets.
                with contextlib.suppress(Exception):
                    await producer.producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self.producer = producer
            self._connected.set()
            log.info("Kafka producer started on %s", self._bootstrap)
            return

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def send_batch(self, topic: str, records: Sequence[Record]) -> None:
        """Like DurableProducer.send_batch (one batch per partition, wait for acks=all), with the
        partition of each key cached: aiokafka's murmur2 is pure Python and costs more per
        scan than all our validation, while venue keys repeat. The caller bounds the wait."""
        await self._connected.wait()  # before the first connection (the caller's timeout bounds it)
        producer = self.producer
        assert producer is not None
        kafka = producer.producer
        partitions = self._partitions.get(topic)
        if partitions is None:
            partitions = sorted(await kafka.partitions_for(topic))
            self._partitions[topic] = partitions
            self._key_partition[topic] = {}
        cache = self._key_partition[topic]
        by_partition: dict[int, list[Record]] = {}
        for item in records:
            key = item[1]
            partition = cache.get(key) if key is not None else None
            if partition is None:
                partition = self._partitioner(key, partitions, partitions)
                if key is not None and len(cache) < 1_000_000:
                    cache[key] = partition
            part = by_partition.get(partition)
            if part is None:
                by_partition[partition] = [item]
            else:
                part.append(item)
        futures: list[asyncio.Future[object]] = []
        for partition, part in by_partition.items():
            batch = kafka.create_batch()
            append = batch.append
            for _, key, value in part:
                if append(key=key, value=value, timestamp=None) is None:
                    batch.close()
                    futures.append(await kafka.send_batch(batch, topic, partition=partition))
                    batch = kafka.create_batch()
                    append = batch.append
                    if append(key=key, value=value, timestamp=None) is None:
                        raise ValueError("a single record is larger than the batch size")
            batch.close()
            futures.append(await kafka.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)

    async def ping(self) -> None:
        producer = self.producer
        if producer is None:
            raise ConnectionError("Kafka producer not connected yet")
        await producer.ping(self._ack_timeout_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.producer is not None:
            await self.producer.stop()
            self.producer = None


async def send_records(sender: BatchSender, records: list[Record]) -> None:
    """Send records grouped by topic (order kept within a topic), timing the whole send."""
    topics = {record[0] for record in records}
    by_topic: dict[str, list[Record]]
    if len(topics) == 1:  # the usual case, without an operation per record
        by_topic = {topics.pop(): records}
    else:
        by_topic = {}
        for record in records:
            by_topic.setdefault(record[0], []).append(record)
    started = time.perf_counter()
    await asyncio.gather(*(sender.send_batch(topic, items) for topic, items in by_topic.items()))
    metrics.PRODUCE_DURATION.observe(time.perf_counter() - started)


class _EventTime(msgspec.Struct):
    """The time of a scans.v1 or declarations.v1 event; the other fields are skipped."""

    scanned_at: int | None = None
    declared_at: int | None = None


_event_time = msgspec.msgpack.Decoder(_EventTime).decode


def drop_expired(records: list[Record], oldest_ms: int) -> list[Record]:
    """The records whose event time is not older than `oldest_ms`; the others are counted."""
    kept: list[Record] = []
    for record in records:
        try:
            stamp = _event_time(record[2])
        except msgspec.DecodeError:
            kept.append(record)  # not an event of ours: it was never judged by time
            continue
        at = stamp.scanned_at if stamp.scanned_at is not None else stamp.declared_at
        if at is None or at >= oldest_ms:
            kept.append(record)
    expired = len(records) - len(kept)
    if expired:
        metrics.SPOOL_EXPIRED.inc(expired)
        log.warning("dropped %d spooled items older than the retention", expired)
    return kept


class KafkaSpoolPublisher:
    """The real Publisher: Kafka first, the spool when Kafka fails or is slower than the bound."""

    def __init__(
        self,
        sender: BatchSender,
        spool: Spool,
        *,
        produce_timeout_s: float,
        replay_batch_items: int = 20_000,
        adopt_orphans: bool = True,
        spool_first: bool = False,
        retention_ms: int | None = None,
    ) -> None:
        """`retention_ms`: spooled items older than this at delivery are dropped (None: none)."""
        self._sender = sender
        self._spool = spool
        self._timeout_s = produce_timeout_s
        self._replay_batch_items = replay_batch_items
        self._adopt_orphans = adopt_orphans
        self._spool_first = spool_first
        self._retention_ms = retention_ms
        self._coalescer: Coalescer[Record, Sink] = Coalescer(self._flush)
        self._degraded = spool.items > 0  # replay what a previous run left before new items
        self._spool_writes = 0
        self._replay_wake = asyncio.Event()
        self._replay_task: asyncio.Task[None] | None = None
        self.delivered_from_spool = 0
        self._ack_persisted_at = 0.0

    @property
    def degraded(self) -> bool:
        return self._degraded

    @property
    def spool(self) -> Spool:
        return self._spool

    def start(self) -> None:
        self._update_spool_gauges()
        self._replay_task = asyncio.create_task(self._replay_loop())

    async def stop(self) -> None:
        await self._coalescer.close()
        if self._replay_task is not None:
            self._replay_task.cancel()
            await asyncio.gather(self._replay_task, return_exceptions=True)
        self._spool.close()

    async def publish(self, records: list[Record]) -> Sink:
        if not records:
            return "kafka"
        sinks = await self._coalescer.submit(records)
        return "spool" if "spool" in sinks else "kafka"

    async def _flush(self, records: list[Record]) -> list[Sink]:
        if not self._degraded and not self._spool_first:
            try:
                async with asyncio.timeout(self._timeout_s):
                    await send_records(self._sender, records)
                return ["kafka"] * len(records)
            except Exception as exc:  # timeout or any broker error: spool instead of failing
                log.warning("Kafka send failed (%s: %s); spooling", type(exc).__name__, exc)
                self._degraded = True
        self._spool_writes += 1
        try:
            await asyncio.to_thread(self._spool.append, records)
        except SpoolError as exc:
            log.error("spool refused %d items: %s", len(records), exc)
            raise Unavailable(str(exc)) from exc
        finally:
            self._spool_writes -= 1
            self._replay_wake.set()
        self._update_spool_gauges()
        return ["spool"] * len(records)

    def _update_spool_gauges(self) -> None:
        metrics.SPOOL_ITEMS.set(self._spool.items)
        oldest = self._spool.oldest_created_ms()
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest / 1000)
        metrics.SPOOL_OLDEST_AGE.set(age)

    async def _replay_loop(self) -> None:
        last_orphan_check = 0.0
        while True:
            try:
                delivered = await self._drain(self._spool, own=True)
            except Exception:
                log.exception("spool replay failed; retrying")
                await asyncio.sleep(1.0)
                continue
            idle = self._spool.items == 0 and self._spool_writes == 0
            if idle and self._degraded and (delivered or await self._broker_answers()):
                self._degraded = False
                log.info("spool empty and Kafka reachable: back to direct sends")
            now = time.monotonic()
            if self._adopt_orphans and not self._degraded and now - last_orphan_check > 10:
                last_orphan_check = now
                await self._adopt()
            self._update_spool_gauges()
            self._replay_wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._replay_wake.wait()

    async def _broker_answers(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._sender.ping()
        except Exception:
            return False
        return True

    async def _drain(self, spool: Spool, *, own: bool) -> int:
        """Deliver `spool` in order until empty or a send fails; returns the items delivered."""
        delivered = 0
        delay = 0.2
        while spool.items:
            oldest_frame_ms = spool.oldest_created_ms()  # the first frame the peek takes
            frames, records = await asyncio.to_thread(spool.peek, self._replay_batch_items)
            now_ms = time.time_ns() // 1_000_000
            if (
                self._retention_ms is not None
                and oldest_frame_ms is not None
                and now_ms - oldest_frame_ms > _EXAMINE_AFTER_MS
            ):
                records = drop_expired(records, now_ms - self._retention_ms)
            try:
                if records:
                    async with asyncio.timeout(self._timeout_s * 2):
                        await send_records(self._sender, records)
            except Exception as exc:  # broker still away: keep everything, try again later
                log.info("spool replay waits for Kafka (%s: %s)", type(exc).__name__, exc)
                if own:
                    self._update_spool_gauges()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                if not own:
                    return delivered
                continue
            now = time.monotonic()
            persist = not own or now - self._ack_persisted_at >= _ACK_PERSIST_INTERVAL_S
            if persist:
                self._ack_persisted_at = now
            await asyncio.to_thread(functools.partial(spool.ack, frames, persist=persist))
            delivered += len(records)
            self.delivered_from_spool += len(records)
            delay = 0.2
            if own:
                self._update_spool_gauges()
        if delivered:
            log.info("delivered %d spooled items from %s", delivered, spool.directory)
        return delivered

    async def _adopt(self) -> None:
        """Deliver slots left by workers that no longer run (e.g. after fewer workers)."""
        root: Path = self._spool.directory.parent
        for path in orphan_slots(root, self._spool.directory):
            orphan = Spool(path, max_bytes=1 << 62)
            try:
                await asyncio.to_thread(orphan.open)
            except SpoolBusy:
                continue
            try:
                await self._drain(orphan, own=False)
            finally:
                orphan.close()
