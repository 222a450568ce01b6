"""Every API call to `audit.v1`: queued in memory and sent in batches, so queries do not wait
for the broker. The queue is bounded; what cannot be sent is logged (and counted as lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from scantrace_common.events import AuditEvent, encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.topics import AUDIT, topic_name

log = logging.getLogger(__name__)


class AuditTrail:
    def __init__(self, producer: DurableProducer, namespace: str, max_queue: int = 100_000) -> None:
        self._producer = producer
        self._topic = topic_name(AUDIT, namespace)
        self._queue: asyncio.Queue[AuditEvent] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None

    def record(self, event: AuditEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.error("audit queue full, event lost: %s", event)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < 1000:
                batch.append(self._queue.get_nowait())
            await self._send(batch)

    async def _send(self, batch: list[AuditEvent]) -> None:
        delay = 0.2
        for _ in range(5):
            try:
                await self._producer.send_batch(
                    self._topic, [(e.staff_id.encode(), encode(e)) for e in batch]
                )
                return
            except Exception as exc:  # broker trouble: retry a little, then log the loss
                log.warning("audit send failed (%s), retrying", exc)
                await asyncio.sleep(delay)
                delay *= 2
        log.error("audit events lost after retries: %d", len(batch))

    async def close(self) -> None:
        """Flush what is queued (bounded wait), then stop."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        rest: list[AuditEvent] = []
        while not self._queue.empty():
            rest.append(self._queue.get_nowait())
        if rest:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._send(rest), 5.0)
