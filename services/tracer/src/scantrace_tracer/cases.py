"""Cases: opened by an epidemiologist, traced in the background (depth 1), then notified.

A case is kept in Redis as JSON; cases not yet done are in a hash (case_id -> its `cases.v1`
event), so a restarted tracer finishes them. When done, one `exposures.v1` event per contact is
sent (keyed by the contact's person_id), after the `cases.v1` event sent when the case was
opened, and each contact becomes a follow-up record (`followup_store`; with
SCANTRACE_FOLLOW_UP_QUARANTINE on, also a quarantine on `quarantines.v1`); the venues where the
case's person was while infectious are recomputed for clusters (`cluster_store`, `clusters.v1`). Every event is checked against its schema before it is published or kept.

Retention (SCANTRACE_RETENTION_DAYS): a case's record expires that long after it was last
written (opened, then done); a pending entry is removed when its case is done, one older than
the retention (its tracing failed) is dropped at the next start, and the pending hash as a whole
expires that long after the last case was opened.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import msgspec

from scantrace_common.events import (
    CaseEvent,
    Encounter,
    ExposureEvent,
    InvalidEvent,
    decode,
    encode_valid,
)
from scantrace_common.kafka import DurableProducer
from scantrace_common.topics import CASES, EXPOSURES, dlq_of, topic_name
from scantrace_tracer import responses
from scantrace_tracer.cluster_store import ClusterStore
from scantrace_tracer.exposures import exposures
from scantrace_tracer.followup_store import FollowUpStore
from scantrace_tracer.store import TracerStore, wall_clock_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A case as answered (`body`) and the person it is about (for the audit record)."""

    person_id: str | None
    body: dict[str, Any]


class CaseService:
    def __init__(
        self,
        store: TracerStore,
        producer: DurableProducer,
        *,
        namespace: str,
        retention_days: int,
        follow_ups: FollowUpStore | None = None,
        clusters: ClusterStore | None = None,
    ) -> None:
        self.store = store
        self.follow_ups = follow_ups
        self.clusters = clusters
        self.producer = producer
        self.namespace = namespace
        self.retention_s = retention_days * 86_400
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def _pending_key(self) -> str:
        return f"{self.store.keys.prefix}cases:pending"

    def _record(self, case: CaseEvent, status: str, contacts: list[Any]) -> bytes:
        body = {"case_id": case.case_id, "status": status, "contacts": contacts}
        return msgspec.json.encode({**body, "person_id": case.person_id})

    async def open(
        self, *, person_id: str, t1: int, t2: int, min_overlap_minutes: int, opened_by: str
    ) -> str:
        """Record the case, publish it on `cases.v1` and start tracing it; returns its id.

        Raises `InvalidEvent` for a case outside the schema (nothing kept or published) and
        `KafkaUnavailable` when the event is not acknowledged (nothing kept either).
        """
        case = CaseEvent(
            case_id=str(uuid.uuid4()),
            person_id=person_id,
            infectious_from=t1,
            infectious_to=t2,
            min_overlap_minutes=min_overlap_minutes,
            opened_by=opened_by,
            at=wall_clock_ms(),
        )
        event = encode_valid(case)
        redis, key = self.store.redis, self.store.keys.case(case.case_id)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(key, self._record(case, "pending", []), ex=self.retention_s)
            pipe.hset(self._pending_key, case.case_id, event)
            pipe.expire(self._pending_key, self.retention_s)
            await pipe.execute()
        try:
            await self.producer.send_batch(
                topic_name(CASES, self.namespace), [(person_id.encode(), event)]
            )
        except BaseException:
            # refused: the case must not be traced (and notified) by a later restart either
            async with redis.pipeline(transaction=True) as pipe:
                pipe.delete(key)
                pipe.hdel(self._pending_key, case.case_id)
                await pipe.execute()
            raise
        self._spawn(case)
        return case.case_id

    async def get(self, case_id: str) -> CaseRecord | None:
        raw = await self.store.redis.get(self.store.keys.case(case_id))
        if raw is None:
            return None
        body: dict[str, Any] = msgspec.json.decode(raw)
        person_id = body.pop("person_id", None)
        return CaseRecord(person_id if isinstance(person_id, str) else None, body)

    async def resume(self) -> int:
        """Trace again the cases a previous process left pending; returns how many.

        An entry that does not decode as a case is dead-lettered (`cases.v1.dlq`) and dropped;
        one older than the retention is dropped. Neither stops the tracer from starting.
        """
        pending = await self.store.redis.hgetall(self._pending_key)
        cutoff = wall_clock_ms() - self.retention_s * 1000
        resumed = 0
        for key, value in pending.items():
            field, raw = _bytes(key), _bytes(value)
            case_id = field.decode(errors="replace")
            try:
                case = decode(CaseEvent, raw)
            except InvalidEvent as exc:
                await self._dead_letter(field, raw, str(exc))
                continue
            if case.at < cutoff:
                log.warning("pending case %s is older than the retention: dropped", case_id)
                await self.store.redis.hdel(self._pending_key, field)
                continue
            self._spawn(case)
            resumed += 1
        return resumed

    async def _dead_letter(self, field: bytes, raw: bytes, reason: str) -> None:
        """An undecodable pending entry to `cases.v1.dlq`, then out of the hash; kept (and
        retried at the next start) when the dead-letter topic cannot take it."""
        case_id = field.decode(errors="replace")
        try:
            await self.producer.send_batch(
                dlq_of(topic_name(CASES, self.namespace)),
                [(field, raw)],
                headers=[("dlq.reason", reason[:1000].encode()), ("dlq.source", b"cases:pending")],
            )
        except Exception:
            log.exception(
                "pending case %s is invalid (%s) and could not be dead-lettered; it "
                "stays until the next start",
                case_id,
                reason,
            )
            return
        log.error("pending case %s is invalid (%s): dead-lettered and dropped", case_id, reason)
        await self.store.redis.hdel(self._pending_key, field)

    def _spawn(self, case: CaseEvent) -> None:
        task = asyncio.create_task(self._trace(case))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _trace(self, case: CaseEvent) -> None:
        try:
            result = await exposures(
                self.store,
                case.person_id,
                case.infectious_from,
                case.infectious_to,
                case.min_overlap_minutes,
                1,
            )
            now = wall_clock_ms()
            notices = [
                ExposureEvent(
                    case_id=case.case_id,
                    person_id=c.person_id,
                    case_person_id=case.person_id,
                    depth=1,
                    via=None,
                    total_overlap_minutes=c.total_overlap_minutes,
                    encounters=[
                        Encounter(
                            venue_id=e.venue_id,
                            start=e.start,
                            end=e.end,
                            overlap_minutes=e.overlap_minutes,
                        )
                        for e in c.encounters
                    ],
                    at=now,
                )
                for c in result.contacts
            ]
            await self.producer.send_batch(
                topic_name(EXPOSURES, self.namespace),
                [(n.person_id.encode(), encode_valid(n)) for n in notices],
            )
            contacts = [responses.contact(c) for c in result.contacts]
            records = []
            if self.follow_ups is not None:
                records = self.follow_ups.records(
                    case.case_id,
                    [(c.person_id, [e.end for e in c.encounters]) for c in result.contacts],
                )
                # before the case is done: a failure leaves it pending, retraced at the restart
                # (the same records and quarantines again, which is harmless)
                await self.follow_ups.quarantine_events(self.producer, records, now)
            if self.clusters is not None:
                await self.clusters.add_case(case, self.producer, now)
            async with self.store.redis.pipeline(transaction=True) as pipe:
                if self.follow_ups is not None:
                    self.follow_ups.add_commands(pipe, records, now)
                pipe.set(
                    self.store.keys.case(case.case_id),
                    self._record(case, "done", contacts),
                    ex=self.retention_s,
                )
                pipe.hdel(self._pending_key, case.case_id)
                await pipe.execute()
        except Exception:
            log.exception("tracing case %s failed; it stays pending until restart", case.case_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()
