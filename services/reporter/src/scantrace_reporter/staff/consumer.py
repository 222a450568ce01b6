"""Follows `staff.v1` into the Redis view of accounts, with a group of its own.

The commands apply their events themselves; this consumer makes the view whole again after a
Redis flush or a change of the group prefix (the topic is compacted: every account's last
state is kept for ever), and carries the accounts other replicas create.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from scantrace_common.events import StaffEvent, decode
from scantrace_common.kafka import BatchConsumerLoop, Decoded, DurableProducer, consumer_for
from scantrace_common.topics import STAFF, topic_name
from scantrace_reporter.consumers import CONSUMER_STOP_TIMEOUT_S, catch_up
from scantrace_reporter.metrics import CONSUMER_METRICS
from scantrace_reporter.settings import ReporterSettings
from scantrace_reporter.staff.accounts import StaffAccounts

log = logging.getLogger(__name__)


class StaffConsumer:
    def __init__(
        self, settings: ReporterSettings, accounts: StaffAccounts, dlq: DurableProducer
    ) -> None:
        group = f"{settings.namespace}{settings.reporter_group_prefix}-staff"
        self._consumer: AIOKafkaConsumer = consumer_for(
            settings.kafka_bootstrap,
            [topic_name(STAFF, settings.namespace)],
            group,
            client_id="scantrace-reporter-staff",
        )
        self._loop: BatchConsumerLoop[StaffEvent] = BatchConsumerLoop(
            consumer=self._consumer,
            decode=lambda record: decode(StaffEvent, record.value),
            handle=self._handle,
            dlq_producer=dlq,
            group_id=group,
            metrics=CONSUMER_METRICS,
        )
        self._accounts = accounts
        self._started = False
        self.caught_up = False
        self.failure: str | None = None

    async def _handle(self, batch: list[Decoded[StaffEvent]]) -> None:
        await self._accounts.apply([d.event for d in batch])

    async def run(self, catch_up_timeout_s: float = 120.0) -> None:
        """Catch up, then follow; a failure is kept for the readiness check."""
        try:
            self._started = True  # stop() closes it, even when cancelled halfway through start()
            await self._consumer.start()
            await catch_up(self._consumer, self._loop, catch_up_timeout_s)
            self.caught_up = True
            await self._loop.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported by /readyz and the log; the process stays up
            self.failure = f"staff.v1 consumer: {type(exc).__name__}: {exc}"
            log.exception("the staff.v1 consumer stopped")

    async def stop(self) -> None:
        self._loop.stop()
        if self._started:
            try:
                await asyncio.wait_for(self._consumer.stop(), CONSUMER_STOP_TIMEOUT_S)
            except Exception:  # stopping anyway; the broker may be gone
                log.exception("error stopping the staff consumer")
