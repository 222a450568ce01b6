"""The reporter's Kafka consumers: registry first (caught up before anything else), then
scans, quarantines, declarations and SPEC 10's criteria, assessments and inspections, each a
`BatchConsumerLoop` with its own group."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord

from scantrace_common.events import (
    AssessmentEvent,
    CriteriaSetEvent,
    DeclarationEvent,
    InspectionEvent,
    QuarantineEvent,
    ScanEvent,
    UnitEvent,
    VenueEvent,
    VenueReportEvent,
    decode,
)
from scantrace_common.kafka import (
    BatchConsumerLoop,
    Decoded,
    DurableProducer,
    PoisonList,
    consumer_for,
)
from scantrace_common.topics import (
    ASSESSMENTS,
    CRITERIA,
    DECLARATIONS,
    INSPECTIONS,
    QUARANTINES,
    SCANS,
    UNITS,
    VENUE_REPORTS,
    VENUES,
    topic_name,
)
from scantrace_reporter.metrics import CONSUMER_METRICS
from scantrace_reporter.safety import SafetyStore
from scantrace_reporter.settings import ReporterSettings
from scantrace_reporter.store import ComplianceStore

log = logging.getLogger(__name__)

#: How long a consumer may take to leave its group at shutdown.
CONSUMER_STOP_TIMEOUT_S = 10.0
T = TypeVar("T")
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
SafetyEvent: TypeAlias = CriteriaSetEvent | AssessmentEvent | InspectionEvent | VenueReportEvent


def _poison(
    batch: Sequence[Decoded[Any]], refused: Sequence[tuple[object, str]]
) -> PoisonList | None:
    """Map refused events back to their records, for the dead-letter topic."""
    if not refused:
        return None
    reasons = {id(event): reason for event, reason in refused}
    return [(d.record, reasons[id(d.event)]) for d in batch if id(d.event) in reasons]


class ReporterConsumers:
    def __init__(
        self,
        settings: ReporterSettings,
        store: ComplianceStore,
        dlq: DurableProducer,
        safety: SafetyStore,
    ) -> None:
        self.settings = settings
        self.store = store
        self.safety = safety
        self.dlq = dlq
        ns = settings.namespace
        self.units_topic = topic_name(UNITS, ns)
        self.venues_topic = topic_name(VENUES, ns)
        self._safety_types: dict[str, type[SafetyEvent]] = {
            topic_name(CRITERIA, ns): CriteriaSetEvent,
            topic_name(ASSESSMENTS, ns): AssessmentEvent,
            topic_name(INSPECTIONS, ns): InspectionEvent,
            topic_name(VENUE_REPORTS, ns): VenueReportEvent,
        }
        self.caught_up = False
        self.failure: str | None = None
        self._consumers: list[AIOKafkaConsumer] = []
        self._loops: list[BatchConsumerLoop[Any]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def _make(
        self,
        topics: list[str],
        suffix: str,
        decoder: Callable[[Record], T],
        handle: Callable[[list[Decoded[T]]], Awaitable[PoisonList | None]],
    ) -> tuple[AIOKafkaConsumer, BatchConsumerLoop[T]]:
        group = f"{self.settings.namespace}{self.settings.reporter_group_prefix}-{suffix}"
        consumer = consumer_for(
            self.settings.kafka_bootstrap,
            topics,
            group,
            client_id=f"scantrace-reporter-{suffix}",
            max_poll_records=self.settings.reporter_max_batch,
        )
        loop = BatchConsumerLoop(
            consumer=consumer,
            decode=decoder,
            handle=handle,
            dlq_producer=self.dlq,
            group_id=group,
            metrics=CONSUMER_METRICS,
            max_records=self.settings.reporter_max_batch,
        )
        self._consumers.append(consumer)
        self._loops.append(loop)
        return consumer, loop

    # handlers --------------------------------------------------------------------------------

    def _decode_registry(self, record: Record) -> UnitEvent | VenueEvent:
        if record.topic == self.units_topic:
            return decode(UnitEvent, record.value)
        return decode(VenueEvent, record.value)

    async def _handle_registry(
        self, batch: list[Decoded[UnitEvent | VenueEvent]]
    ) -> PoisonList | None:
        units = [d.event for d in batch if isinstance(d.event, UnitEvent)]
        venues = [d.event for d in batch if isinstance(d.event, VenueEvent)]
        refused: list[tuple[object, str]] = []
        if units:
            refused.extend(await self.store.apply_units(units))
        if venues:
            refused.extend(await self.store.apply_venues(venues))
        return _poison(batch, refused)

    async def _handle_scans(self, batch: list[Decoded[ScanEvent]]) -> PoisonList | None:
        ingested = await self.store.ingest_scans([d.event for d in batch])
        return _poison(batch, ingested.refused)

    async def _handle_quarantines(self, batch: list[Decoded[QuarantineEvent]]) -> PoisonList | None:
        refused = await self.store.apply_quarantines([d.event for d in batch])
        return _poison(batch, refused)

    async def _handle_declarations(
        self, batch: list[Decoded[DeclarationEvent]]
    ) -> PoisonList | None:
        refused = await self.store.apply_declarations([d.event for d in batch])
        return _poison(batch, refused)

    def _decode_safety(self, record: Record) -> SafetyEvent:
        return decode(self._safety_types[record.topic], record.value)

    async def _handle_safety(self, batch: list[Decoded[SafetyEvent]]) -> PoisonList | None:
        """Criteria versions (refused: invalid, or a version reused), assessments, inspections,
        residents' reports."""
        events = [d.event for d in batch]
        refused: list[tuple[object, str]] = []
        sets = [e for e in events if isinstance(e, CriteriaSetEvent)]
        if sets:
            refused.extend(await self.safety.apply_criteria(sets))
        await self.safety.apply_assessments([e for e in events if isinstance(e, AssessmentEvent)])
        await self.safety.apply_inspections([e for e in events if isinstance(e, InspectionEvent)])
        await self.safety.apply_reports([e for e in events if isinstance(e, VenueReportEvent)])
        return _poison(batch, refused)

    # lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """`start`, recording a failure for the readiness check instead of losing it."""
        try:
            await self.start()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported by /readyz and the log; the process stays up
            self.failure = f"starting the consumers: {type(exc).__name__}: {exc}"
            log.exception("could not start the consumers")

    async def start(self, catch_up_timeout_s: float = 120.0) -> None:
        """Read the registry to its end, then follow every topic in the background."""
        ns = self.settings.namespace
        registry, registry_loop = self._make(
            [self.units_topic, self.venues_topic],
            "registry",
            self._decode_registry,
            self._handle_registry,
        )
        await registry.start()
        await catch_up(registry, registry_loop, catch_up_timeout_s)
        self.caught_up = True
        self._spawn(registry_loop, "registry")
        others: list[tuple[AIOKafkaConsumer, BatchConsumerLoop[Any]]] = [
            self._make(
                [topic_name(SCANS, ns)],
                "scans",
                lambda r: decode(ScanEvent, r.value),
                self._handle_scans,
            ),
            self._make(
                [topic_name(QUARANTINES, ns)],
                "quarantines",
                lambda r: decode(QuarantineEvent, r.value),
                self._handle_quarantines,
            ),
            self._make(
                [topic_name(DECLARATIONS, ns)],
                "declarations",
                lambda r: decode(DeclarationEvent, r.value),
                self._handle_declarations,
            ),
            self._make(
                sorted(self._safety_types), "safety", self._decode_safety, self._handle_safety
            ),
        ]
        for (consumer, loop), loop_name in zip(
            others, ("scans", "quarantines", "declarations", "safety"), strict=True
        ):
            await consumer.start()
            self._spawn(loop, loop_name)

    def _spawn(self, loop: BatchConsumerLoop[Any], name: str) -> None:
        task = asyncio.create_task(loop.run(), name=f"reporter-consumer-{name}")
        task.add_done_callback(self._ended)
        self._tasks.append(task)

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            # The loop gave up (offsets uncommitted): readiness turns red so the process is
            # restarted and replays the batch.
            self.failure = f"{task.get_name()}: {type(exc).__name__}: {exc}"
            log.error("consumer stopped: %s", self.failure, exc_info=exc)

    async def stop(self) -> None:
        for loop in self._loops:
            loop.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for consumer in self._consumers:
            try:
                # bounded: leaving the group waits on the coordinator, which may be gone or
                # slow; offsets are committed after each batch, so nothing is lost by giving up
                await asyncio.wait_for(consumer.stop(), CONSUMER_STOP_TIMEOUT_S)
            except Exception:  # stopping anyway; the broker may be gone
                log.exception("error stopping a consumer")


async def catch_up(
    consumer: AIOKafkaConsumer, loop: BatchConsumerLoop[Any], timeout_s: float
) -> None:
    """Process batches until the consumer's position reaches the end of every partition."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=200, max_records=5000)
        records = [record for part in batches.values() for record in part]
        if records:
            await loop.process(records)
            continue
        assignment = list(consumer.assignment())
        if not assignment:
            continue
        ends = await consumer.end_offsets(assignment)
        positions = [await consumer.position(tp) for tp in assignment]
        if all(pos >= ends[tp] for tp, pos in zip(assignment, positions, strict=True)):
            return
    log.warning("registry not caught up after %.0fs; starting the other consumers", timeout_s)
