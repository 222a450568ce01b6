"""Follow-up records and declared days in Redis (SPEC 11), read back with their statuses.

A done case's depth-1 contacts become records (`followups.follow_ups`); every declaration on
`declarations.v1` marks its local day in the person's declared days. Statuses are computed at
the request from the stored days and the present moment (`followups.day_statuses`), so
`missed`, `pending` and `lost` need no job.

Every write is idempotent and order-free (a record's id derives from its case and person; a
declared day is set to `1` when any declaration lists a symptom, to `0` only when unset), so
replaying `exposures.v1` and `declarations.v1` rebuilds the same state (docs/tracer.md).

Retention: a record expires `SCANTRACE_RETENTION_DAYS` after its `until` day ended (it is
listed, `completed` or `lost`, that long); a person's declared days that long after their last
declaration; declarations older than the retention are not recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

import msgspec
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from scantrace_common.events import (
    DeclarationEvent,
    ExposureEvent,
    QuarantineEvent,
    encode_valid,
)
from scantrace_common.kafka import DurableProducer
from scantrace_common.timeparse import day_bounds, format_time, local_date
from scantrace_common.topics import QUARANTINES, topic_name
from scantrace_tracer import followups
from scantrace_tracer.followups import DayStatus, FollowUp, RecordStatus
from scantrace_tracer.keys import Keys
from scantrace_tracer.settings import TracerSettings

RECORD_STATUSES: Final = ("active", "completed", "lost")


@dataclass(frozen=True, slots=True)
class Tracked:
    """A record with its days and status at one moment."""

    record: FollowUp
    days: list[DayStatus]
    status: RecordStatus
    unseen_days: int

    def body(self) -> dict[str, Any]:
        r = self.record
        return {
            "follow_up_id": r.follow_up_id,
            "case_id": r.case_id,
            "person_id": r.person_id,
            "last_exposure": format_time(r.last_exposure),
            "until": r.until.isoformat(),
            "status": self.status,
            "unseen_days": self.unseen_days,
            "days": [{"date": d.day.isoformat(), "status": d.status} for d in self.days],
        }


class FollowUpStore:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        tz: str,
        days: int,
        retention_days: int,
        namespace: str,
        quarantine_unit: str | None = None,
    ) -> None:
        self.redis, self.keys, self.tz, self.days = redis, keys, tz, days
        self.retention_ms = retention_days * 86_400_000
        self.quarantines_topic = topic_name(QUARANTINES, namespace)
        self.quarantine_unit = quarantine_unit

    @classmethod
    def from_settings(
        cls, redis: Redis, keys: Keys, settings: TracerSettings, *, quarantines: bool
    ) -> FollowUpStore:
        """With `quarantines`, SCANTRACE_FOLLOW_UP_QUARANTINE decides (a rebuild sends none)."""
        on = quarantines and settings.follow_up_quarantine
        return cls(
            redis,
            keys,
            tz=settings.tz,
            days=settings.follow_up_days,
            retention_days=settings.retention_days,
            namespace=settings.namespace,
            quarantine_unit=settings.follow_up_unit if on else None,
        )

    def records(
        self, case_id: str, contacts: Iterable[tuple[str, Iterable[int]]]
    ) -> list[FollowUp]:
        """The records of a done case, from (person_id, encounter ends) per depth-1 contact."""
        return followups.follow_ups(case_id, contacts, self.tz, self.days)

    def dates_kept(self, now: int) -> tuple[date, date]:
        """The local days a kept record can follow: from those of records whose `until` ended a
        retention ago, to a year ahead (infectious periods may be given ahead of time)."""
        today = local_date(now, self.tz)
        back = self.retention_ms // 86_400_000 + self.days + 1
        return today - timedelta(days=back), today + timedelta(days=366)

    def _until_end(self, record: FollowUp) -> int:
        return day_bounds(record.until, self.tz)[1]

    def add_commands(self, pipe: Pipeline, records: Sequence[FollowUp], now: int) -> None:
        """Keep the records (queued on `pipe`, e.g. the case's own transaction)."""
        index = self.keys.follow_ups_until
        longest = 0
        kept = [r for r in records if self._until_end(r) + self.retention_ms > now]
        for r in kept:
            until_end = self._until_end(r)
            ttl_ms = until_end + self.retention_ms - now
            longest = max(longest, ttl_ms)
            body = {
                "follow_up_id": r.follow_up_id,
                "case_id": r.case_id,
                "person_id": r.person_id,
                "last_exposure": r.last_exposure,
                "until": r.until.isoformat(),
            }
            pipe.set(self.keys.follow_up(r.follow_up_id), msgspec.json.encode(body), px=ttl_ms)
            pipe.sadd(self.keys.case_follow_ups(r.case_id), r.follow_up_id)
            pipe.zadd(index, {r.follow_up_id: until_end})
        if not kept:
            return
        # NX gives a new key its expiry, GT only ever lengthens an existing one
        for key in {self.keys.case_follow_ups(r.case_id) for r in kept} | {index}:
            pipe.pexpire(key, longest, nx=True)
            pipe.pexpire(key, longest, gt=True)
        pipe.zremrangebyscore(index, "-inf", f"({now - self.retention_ms}")

    async def add_exposures(self, notices: Iterable[ExposureEvent], now: int) -> int:
        """The records of depth-1 `exposures.v1` notices (one per contact of a done case): how a
        rebuild finds them again; returns how many notices were depth 1."""
        records = [
            followups.follow_up(
                n.case_id, n.person_id, [e.end for e in n.encounters], self.tz, self.days
            )
            for n in notices
            if n.depth == 1 and n.encounters
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            self.add_commands(pipe, records, now)
            await pipe.execute()
        return len(records)

    async def quarantine_events(
        self, producer: DurableProducer, records: Sequence[FollowUp], now: int
    ) -> int:
        """With SCANTRACE_FOLLOW_UP_QUARANTINE on, one quarantine per record on quarantines.v1
        (the followed days, in SCANTRACE_FOLLOW_UP_UNIT); returns how many were sent."""
        if self.quarantine_unit is None or not records:
            return 0
        events = []
        for r in records:
            first, last = followups.quarantine_dates(r, self.tz)
            event = QuarantineEvent(
                person_id=r.person_id,
                unit_id=self.quarantine_unit,
                from_date=first.isoformat(),
                to_date=last.isoformat(),
                registered_at=now,
            )
            events.append((r.person_id.encode(), encode_valid(event)))
        await producer.send_batch(self.quarantines_topic, events)
        return len(events)

    async def add_declarations(self, declarations: Iterable[DeclarationEvent], now: int) -> int:
        """Mark the local days of declarations (one pipeline); returns how many were recorded."""
        ttl_ms = self.retention_ms
        recorded = 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for d in declarations:
                if d.declared_at < now - self.retention_ms:
                    continue
                key = self.keys.declared_days(d.person_id)
                day = local_date(d.declared_at, self.tz).isoformat()
                if d.symptoms:
                    pipe.hset(key, day, b"1")
                else:
                    pipe.hsetnx(key, day, b"0")
                pipe.pexpire(key, ttl_ms)
                recorded += 1
            if recorded:
                await pipe.execute()
        return recorded

    async def for_case(self, case_id: str, now: int) -> list[Tracked]:
        ids = await self.redis.smembers(self.keys.case_follow_ups(case_id))
        found = await self._load(sorted(_text(i) for i in ids), now)
        return sorted(found, key=lambda t: t.record.person_id)

    async def for_date(self, day: date, status: str | None, now: int) -> list[Tracked]:
        """The records whose followed days include `day`, with `status` at `now` if given."""
        start, _ = day_bounds(day, self.tz)
        ids: list[Any] = await self.redis.zrangebyscore(self.keys.follow_ups_until, start, "+inf")
        found = await self._load([_text(i) for i in ids], now)
        chosen = [
            t
            for t in found
            if local_date(t.record.last_exposure, self.tz) < day <= t.record.until
            and (status is None or t.status == status)
        ]
        return sorted(chosen, key=lambda t: (t.record.person_id, t.record.case_id))

    async def _load(self, ids: Sequence[str], now: int) -> list[Tracked]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.get(self.keys.follow_up(i))
            raws: list[Any] = await pipe.execute()
        records = [_record(raw) for raw in raws if raw is not None]
        persons = sorted({r.person_id for r in records})
        async with self.redis.pipeline(transaction=False) as pipe:
            for p in persons:
                pipe.hgetall(self.keys.declared_days(p))
            declared_raw: list[Any] = await pipe.execute()
        declared = {
            p: {date.fromisoformat(_text(k)): _text(v) == "1" for k, v in raw.items()}
            for p, raw in zip(persons, declared_raw, strict=True)
        }
        out: list[Tracked] = []
        for r in records:
            days = followups.day_statuses(r, declared[r.person_id], now, self.tz)
            status = followups.record_status(r, days, now, self.tz)
            out.append(Tracked(r, days, status, followups.unseen_days(days)))
        return out


def _record(raw: bytes) -> FollowUp:
    body: dict[str, Any] = msgspec.json.decode(raw)
    return FollowUp(
        body["follow_up_id"],
        body["case_id"],
        body["person_id"],
        int(body["last_exposure"]),
        date.fromisoformat(body["until"]),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
