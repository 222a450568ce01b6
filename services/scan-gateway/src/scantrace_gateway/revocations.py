"""The set of revoked venues, followed from `venues.v1` from its beginning.

No consumer group: every gateway process reads the whole (compacted) topic itself by
assigning all partitions and seeking to the beginning, then follows it with a short fetch
wait, so a revocation takes effect within about half a second. Until the topic was read to the
end offsets it had at start (`caught_up`), the set may lack revocations: scans wait for it
(503) and `/readyz` says so. A revocation is final, as in the reporter: no later event lifts it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition

from scantrace_common.events import InvalidEvent, VenueEvent, decode

log = logging.getLogger(__name__)


class Revocations(Protocol):
    """What judging reads: whether a venue is revoked, and whether the set is complete yet."""

    @property
    def caught_up(self) -> bool: ...

    def __contains__(self, venue_id: object) -> bool: ...


class RevokedVenues:
    """venue_ids revoked; `caught_up` once the topic was read to its end at start."""

    def __init__(self, *, caught_up: bool = False) -> None:
        self._revoked: set[str] = set()
        self.caught_up = caught_up

    def __contains__(self, venue_id: object) -> bool:
        return venue_id in self._revoked

    def __len__(self) -> int:
        return len(self._revoked)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """One record of venues.v1. A revocation is final: an event without `revoked_at` after it
        (the registration re-read, a replayed or stray event) and a tombstone leave it revoked."""
        if value is None:
            return  # a tombstone: the reporter writes none; it revokes nothing and lifts nothing
        try:
            event = decode(VenueEvent, value)
        except InvalidEvent as exc:
            log.warning("ignoring an invalid venues event: %s", exc)
            return
        if event.revoked_at is not None:
            self._revoked.add(event.venue_id)


class RevocationFollower:
    """Background task feeding a RevokedVenues from the topic; survives broker outages."""

    def __init__(self, bootstrap: str, topic: str, revoked: RevokedVenues) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self.revoked = revoked
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=200,
                client_id="scantrace-gateway-revocations",
            )
            try:
                await consumer.start()
                await self._follow(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker away or topic missing: retry, keep the set we have
                log.warning("venue revocation follower restarting: %s", exc)
                await asyncio.sleep(1.0)
            finally:
                await consumer.stop()

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        partitions = consumer.partitions_for_topic(self._topic)
        while not partitions:
            await consumer._client.force_metadata_update()  # the topic may be created later
            partitions = consumer.partitions_for_topic(self._topic)
            if not partitions:
                await asyncio.sleep(1.0)
        assigned = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        end_offsets = await consumer.end_offsets(assigned)
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    self.revoked.apply(record.key, record.value)
            if not self.revoked.caught_up and all(
                await asyncio.gather(
                    *(self._reached(consumer, tp, end) for tp, end in end_offsets.items())
                )
            ):
                self.revoked.caught_up = True
                log.info("venue revocations caught up: %d revoked", len(self.revoked))

    @staticmethod
    async def _reached(consumer: AIOKafkaConsumer, tp: TopicPartition, end: int) -> bool:
        return bool(await consumer.position(tp) >= end)
