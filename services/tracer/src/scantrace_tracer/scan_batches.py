"""scans.v1 read in batches with `getmany`, as a service of the Faust app.

Measured (docs/tracer.md, "Faust"): a Faust agent reading with `take_events` and doing nothing
else handles about 6,500 scans/s on this machine, while `getmany` on the same topic reads about
200,000/s; Faust creates a task, an event and an ack per message. So the hot topic is read here,
in batches, by a plain aiokafka consumer of the tracer's group, started, supervised and stopped by
the Faust app (`add_runtime_dependency`); venues.v1 stays a Faust agent. Offsets are committed
after a batch is applied; a crash before the commit replays it (the store's writes are idempotent).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError
from mode import Service

from scantrace_common.kafka import consumer_for
from scantrace_tracer.ingest import Ingest, Record

log = logging.getLogger(__name__)

#: Handles a batch; raises to have it retried (see `worker.with_retries`).
Retrying = Callable[
    [str, Callable[[Sequence[Record]], Awaitable[int]], Sequence[Record]], Awaitable[None]
]


class ScanBatches(Service):
    """getmany -> `Ingest.handle_scans` -> commit, until the Faust app stops."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group: str,
        ingest: Ingest,
        retrying: Retrying,
        batch_max: int,
        wait_s: float,
    ) -> None:
        super().__init__()
        self._bootstrap = bootstrap
        self._group = group
        self._ingest = ingest
        self._retrying = retrying
        self._batch_max = batch_max
        self._wait_ms = max(1, int(wait_s * 1000))
        self._consumer: AIOKafkaConsumer | None = None
        self.batches_done = 0

    async def on_start(self) -> None:
        self._consumer = consumer_for(
            self._bootstrap,
            [self._ingest.scans_topic],
            self._group,
            client_id="scantrace-tracer",
            max_poll_records=self._batch_max,
        )
        await self._consumer.start()

    async def on_stop(self) -> None:
        if self._consumer is not None:
            try:
                # bounded: leaving the group waits on a coordinator that may be gone; offsets
                # are committed after each batch, so giving up loses nothing
                await asyncio.wait_for(self._consumer.stop(), 10.0)
            except Exception:
                log.exception("error stopping the scans consumer")

    @Service.task
    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        while not self.should_stop:
            got = await consumer.getmany(timeout_ms=self._wait_ms, max_records=self._batch_max)
            records = [
                Record(r.topic, r.partition, r.offset, r.key, r.value)
                for part in got.values()
                for r in part
            ]
            if not records:
                continue
            started = time.perf_counter()
            await self._retrying("scan batch", self._ingest.handle_scans, records)
            try:
                await consumer.commit()
            except CommitFailedError:
                # The group rebalanced meanwhile: whoever owns the partitions now replays the
                # batch, and the store's writes are idempotent.
                log.warning("offset commit refused after a rebalance; the batch will be replayed")
            self.batches_done += 1
            log.debug("scan batch of %d in %.4fs", len(records), time.perf_counter() - started)

    async def lag(self) -> int | None:
        """Records of scans.v1 not yet read by this consumer, over its partitions."""
        consumer = self._consumer
        if consumer is None:
            return None
        total = 0
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is not None:
                total += max(0, high - await consumer.position(tp))
        return total
