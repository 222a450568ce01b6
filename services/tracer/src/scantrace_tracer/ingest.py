"""Batch handling of scans.v1 and venues.v1, independent of the stream framework that feeds it.

A batch is decoded, poison goes to `<topic>.dlq` with the reason, the rest is applied to the
store; the caller commits the offsets only after `handle_*` returns. Too much poison in a
window stops the worker (`TooManyInvalid`) instead of dead-lettering everything.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from scantrace_common.events import InvalidEvent, ScanEvent, VenueEvent, decode
from scantrace_common.kafka import TooManyInvalid, dlq_headers
from scantrace_common.topics import SCANS, VENUES, dlq_of, topic_name
from scantrace_common.venue_kinds import dwell_minutes
from scantrace_tracer import metrics
from scantrace_tracer.store import TracerStore, wall_clock_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


#: (dlq topic, [(key, value)], headers) -> awaited until the broker acknowledged it.
DeadLetter = Callable[
    [str, list[tuple[bytes | None, bytes]], list[tuple[str, bytes]]], Awaitable[None]
]


class PoisonGuard:
    """Sliding window of valid/invalid outcomes; raises when the invalid share is too high."""

    def __init__(self, *, max_ratio: float, window: int, min_invalid: int) -> None:
        self._window: deque[bool] = deque(maxlen=window)
        self._max_ratio = max_ratio
        self._min_invalid = min_invalid

    def record(self, invalid: bool) -> None:
        self._window.append(invalid)

    def check(self) -> None:
        bad = sum(self._window)
        if bad >= self._min_invalid and bad / len(self._window) > self._max_ratio:
            raise TooManyInvalid(
                f"{bad} of the last {len(self._window)} events were invalid; stopping the "
                "tracer instead of dead-lettering everything (fix the producer, then restart)"
            )


class Ingest:
    def __init__(
        self,
        store: TracerStore,
        *,
        namespace: str,
        dead_letter: DeadLetter,
        guard: PoisonGuard,
        group: str,
    ) -> None:
        self.store = store
        self.scans_topic = topic_name(SCANS, namespace)
        self.venues_topic = topic_name(VENUES, namespace)
        self._dead_letter = dead_letter
        self._guard = guard
        self._group = group

    async def handle_scans(self, records: Sequence[Record]) -> int:
        """Apply a batch of scans.v1 records; returns how many were valid."""
        scans: list[ScanEvent] = []
        poison: list[tuple[Record, str]] = []
        for record in records:
            try:
                scans.append(decode(ScanEvent, record.value))
                self._guard.record(False)
            except InvalidEvent as exc:
                poison.append((record, str(exc)))
                self._guard.record(True)
        self._guard.check()
        if scans:
            await self.store.apply_scans(scans)
            now = wall_clock_ms()
            for scan in scans:
                metrics.SCAN_TO_QUERYABLE.observe(max(0, now - scan.received_at) / 1000)
        await self._send_poison(poison, SCANS)
        metrics.EVENTS_PROCESSED.labels(topic=SCANS).inc(len(records))
        return len(scans)

    async def handle_venues(self, records: Sequence[Record]) -> int:
        """Record dwell(v) of each venue event and re-derive the persons who visited it."""
        poison: list[tuple[Record, str]] = []
        latest: dict[str, VenueEvent] = {}
        for record in records:
            try:
                event = decode(VenueEvent, record.value)
                latest[event.venue_id] = event  # a compacted topic: the last state wins
            except InvalidEvent as exc:
                poison.append((record, str(exc)))
        for venue in latest.values():
            minutes = dwell_minutes(venue.kind, venue.default_dwell_minutes)
            await self.store.set_venue_dwell(venue.venue_id, minutes)
        await self._send_poison(poison, VENUES)
        metrics.EVENTS_PROCESSED.labels(topic=VENUES).inc(len(records))
        return len(latest)

    async def _send_poison(self, poison: list[tuple[Record, str]], base: str) -> None:
        for record, reason in poison:
            log.warning(
                "dead-lettering %s[%d]@%d: %s",
                record.topic,
                record.partition,
                record.offset,
                reason,
            )
            await self._dead_letter(
                dlq_of(record.topic),
                [(record.key, record.value or b"")],
                dlq_headers(record, reason, self._group),
            )
            metrics.DLQ_EVENTS.labels(topic=base).inc()
