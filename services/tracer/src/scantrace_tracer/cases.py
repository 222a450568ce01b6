"""Cases: opened by an epidemiologist, traced in the background (depth 1), then notified.

A case is kept in Redis as JSON; ids of cases not yet done are in a set, so a restarted
tracer finishes them. When done, one `exposures.v1` event per contact is sent (keyed by the
contact's person_id), after the `cases.v1` event sent when the case was opened.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import msgspec

from scantrace_common.events import CaseEvent, Encounter, ExposureEvent, encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.topics import CASES, EXPOSURES, topic_name
from scantrace_tracer import responses
from scantrace_tracer.exposures import exposures
from scantrace_tracer.store import TracerStore, wall_clock_ms

log = logging.getLogger(__name__)


class CaseService:
    def __init__(
        self, store: TracerStore, producer: DurableProducer, *, namespace: str, ttl_s: int
    ) -> None:
        self.store = store
        self.producer = producer
        self.namespace = namespace
        self.ttl_s = ttl_s
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def _pending_key(self) -> str:
        return f"{self.store.keys.prefix}cases:pending"

    async def open(
        self, *, person_id: str, t1: int, t2: int, min_overlap_minutes: int, opened_by: str
    ) -> str:
        case = CaseEvent(
            case_id=str(uuid.uuid4()),
            person_id=person_id,
            infectious_from=t1,
            infectious_to=t2,
            min_overlap_minutes=min_overlap_minutes,
            opened_by=opened_by,
            at=wall_clock_ms(),
        )
        body = {"case_id": case.case_id, "status": "pending", "contacts": []}
        redis = self.store.redis
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(self.store.keys.case(case.case_id), msgspec.json.encode(body), ex=self.ttl_s)
            pipe.hset(self._pending_key, case.case_id, encode(case))
            await pipe.execute()
        await self.producer.send_batch(
            topic_name(CASES, self.namespace), [(person_id.encode(), encode(case))]
        )
        self._spawn(case)
        return case.case_id

    async def get(self, case_id: str) -> dict[str, Any] | None:
        raw = await self.store.redis.get(self.store.keys.case(case_id))
        if raw is None:
            return None
        body: dict[str, Any] = msgspec.json.decode(raw)
        return body

    async def resume(self) -> int:
        """Trace again the cases a previous process left pending."""
        pending = await self.store.redis.hgetall(self._pending_key)
        for raw in pending.values():
            data = raw if isinstance(raw, bytes) else raw.encode()
            self._spawn(msgspec.msgpack.decode(data, type=CaseEvent))
        return len(pending)

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
                [(n.person_id.encode(), encode(n)) for n in notices],
            )
            body = {
                "case_id": case.case_id,
                "status": "done",
                "contacts": [responses.contact(c) for c in result.contacts],
            }
            async with self.store.redis.pipeline(transaction=True) as pipe:
                pipe.set(
                    self.store.keys.case(case.case_id), msgspec.json.encode(body), ex=self.ttl_s
                )
                pipe.hdel(self._pending_key, case.case_id)
                await pipe.execute()
        except Exception:
            log.exception("tracing case %s failed; it stays pending until restart", case.case_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
