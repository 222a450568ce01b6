"""The reporter's Redis view: registry mirror, per-day compliance counters, and their queries.

Every write goes through `lock`, so a registry change (which re-judges which venues count on
each day) and a scan batch (which reads the registry to judge new scans) never interleave in
this process; the day-state hash (`{D}:vs`) then keeps each venue-day counted at most once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
from redis.asyncio import Redis

from scantrace_common.events import (
    DeclarationEvent,
    QuarantineEvent,
    ScanEvent,
    UnitEvent,
    VenueEvent,
    decode,
    encode,
)
from scantrace_reporter.days import DayClock, DayRefused, check_quarantine, days_between, parse_day
from scantrace_reporter.figures import Figures, from_counters
from scantrace_reporter.keys import Keys
from scantrace_reporter.registry import Registry, RegistryConflict, UnknownUnit
from scantrace_reporter.safety import SafetyStore
from scantrace_reporter.scripts import INGEST_SCANS, REBUILD_UNIT_PERSONS, SET_VENUE_STATES

log = logging.getLogger(__name__)

#: Scans per script call: bounds how long one call holds Redis (queries wait behind it).
SCRIPT_CHUNK = 1000
_pack = msgspec.msgpack.encode


@dataclass(frozen=True, slots=True)
class Ingested:
    """What a scan batch did: how many scans were new, and those refused with the reason."""

    new: int
    refused: list[tuple[ScanEvent, str]]


class ComplianceStore:
    def __init__(
        self, redis: Redis, keys: Keys, registry: Registry, clock: DayClock, retention_days: int
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.registry = registry
        self.clock = clock
        self.retention_days = retention_days
        self.lock = asyncio.Lock()
        self._ingest = redis.register_script(INGEST_SCANS)
        self._set_states = redis.register_script(SET_VENUE_STATES)
        self._rebuild = redis.register_script(REBUILD_UNIT_PERSONS)
        self._data_days: set[date] = set()
        #: Venue events whose unit has not arrived yet (the two topics are read concurrently).
        self._pending_venues: dict[str, VenueEvent] = {}
        #: Units read before their parent (another partition, or a parent registered later).
        self._pending_units: dict[str, UnitEvent] = {}
        #: SPEC 10's view, for `venues_assessed` (set by the app; None: every count is 0).
        self.safety: SafetyStore | None = None

    # start-up --------------------------------------------------------------------------------

    async def load(self) -> None:
        """Fill the in-memory registry from the Redis view (kept by earlier runs)."""
        async with self.lock:
            raw_units: dict[bytes, bytes] = await self.redis.hgetall(self.keys.units)  # type: ignore[assignment]
            units = [decode(UnitEvent, value) for value in raw_units.values()]
            while units:
                waiting = []
                for unit in units:
                    try:
                        self.registry.add_unit(unit)
                    except UnknownUnit:
                        waiting.append(unit)
                if len(waiting) == len(units):
                    log.warning("units waiting for their parent: %d", len(waiting))
                    self._pending_units = {u.unit_id: u for u in waiting}
                    break
                units = waiting
            raw_venues: dict[bytes, bytes] = await self.redis.hgetall(self.keys.venues)  # type: ignore[assignment]
            for value in raw_venues.values():
                venue = decode(VenueEvent, value)
                try:
                    self.registry.add_venue(venue)
                except (UnknownUnit, RegistryConflict):
                    self._pending_venues[venue.venue_id] = venue
                except DayRefused as exc:  # kept by an older version; never countable
                    log.warning("ignoring venue %s of the view: %s", venue.venue_id, exc)
            members: set[bytes] = await self.redis.smembers(self.keys.data_days)  # type: ignore[assignment]
            self._data_days = {parse_day(m.decode()) for m in members}

    def _live(self, day: date) -> bool:
        return self.clock.expire_at_s(day, self.retention_days) > time.time()

    # registry --------------------------------------------------------------------------------

    async def apply_units(self, events: Sequence[UnitEvent]) -> list[tuple[UnitEvent, str]]:
        """Apply unit events (idempotent); returns those refused, with the reason."""
        refused: list[tuple[UnitEvent, str]] = []
        async with self.lock:
            changed: list[UnitEvent] = []
            # A child may come before its parent; it waits (kept in the view, so a restart keeps
            # it too) and is applied as soon as the parent arrives.
            waiting = [*self._pending_units.values(), *events]
            while waiting:
                still: list[UnitEvent] = []
                for event in waiting:
                    try:
                        if self.registry.add_unit(event):
                            changed.append(event)
                    except UnknownUnit:
                        still.append(event)
                if len(still) == len(waiting):
                    break
                waiting = still
            self._pending_units = {e.unit_id: e for e in waiting}
            stored = changed + waiting
            if stored:
                await self.redis.hset(
                    self.keys.units, mapping={e.unit_id: encode(e) for e in stored}
                )
            pending = list(self._pending_venues.values())
        if changed and pending:
            self._pending_venues.clear()
            await self.apply_venues(pending)
        return refused

    async def apply_venues(self, events: Sequence[VenueEvent]) -> list[tuple[VenueEvent, str]]:
        """Apply venue events (idempotent): view, registration-day sets, and day states."""
        refused: list[tuple[VenueEvent, str]] = []
        async with self.lock:
            changed: list[VenueEvent] = []
            for event in events:
                current = self.registry.venues.get(event.venue_id)
                if current == event or (current is not None and is_stale(current, event)):
                    continue
                try:
                    self.registry.add_venue(event)
                except DayRefused as exc:
                    refused.append((event, str(exc)))
                    continue
                except UnknownUnit:
                    # Kept until its unit arrives; stored in the view so a restart keeps it too.
                    self._pending_venues[event.venue_id] = event
                    await self.redis.hset(self.keys.venues, event.venue_id, encode(event))
                    continue
                except RegistryConflict as exc:
                    refused.append((event, str(exc)))
                    continue
                changed.append(event)
            if changed:
                await self._write_venues(changed)
                await self._rejudge(changed)
        return refused

    async def _write_venues(self, venues: list[VenueEvent]) -> None:
        # One ZADD / ZREM per unit of the chains, not per venue: a bulk import stays cheap.
        registered: dict[str, dict[str, int]] = {}
        revoked: dict[str, dict[str, int]] = {}
        unrevoked: dict[str, list[str]] = {}
        for venue in venues:
            days = self.registry.days[venue.venue_id]
            for unit in self.registry.chain(venue.unit_id):
                registered.setdefault(unit, {})[venue.venue_id] = days.first.toordinal()
                if days.stop is None:
                    unrevoked.setdefault(unit, []).append(venue.venue_id)
                else:
                    revoked.setdefault(unit, {})[venue.venue_id] = days.stop.toordinal()
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(self.keys.venues, mapping={v.venue_id: encode(v) for v in venues})
        for unit, members in registered.items():
            pipe.zadd(self.keys.registered(unit), members)
        for unit, members in revoked.items():
            pipe.zadd(self.keys.revoked(unit), members)
        for unit, ids in unrevoked.items():
            pipe.zrem(self.keys.revoked(unit), *ids)
        await pipe.execute()

    async def _rejudge(self, venues: list[VenueEvent]) -> None:
        """Move the changed venues' counters in or out of each day that holds data."""
        stale = [d for d in self._data_days if not self._live(d)]
        if stale:
            self._data_days.difference_update(stale)
            await self.redis.srem(self.keys.data_days, *[d.isoformat() for d in stale])
        days = sorted(self._data_days)
        if not days:
            return
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            items = [
                [
                    v.venue_id,
                    "1" if self.registry.registered_on(v.venue_id, day) else "0",
                    *self.registry.chain(v.unit_id),
                ]
                for v in venues
            ]
            await self._set_states(
                keys=[self.keys.venue_state(day)],
                args=[self.keys.day(day), self._expire(day), _pack(items)],
                client=pipe,
            )
        results = await pipe.execute()
        rebuild = self.redis.pipeline(transaction=False)
        needed = False
        for day, removed in zip(days, results, strict=True):
            if removed:
                needed = True
                plan = self._rebuild_plan([r.decode() for r in removed])
                await self._rebuild(
                    keys=[self.keys.venue_state(day)],
                    args=[self.keys.day(day), self._expire(day), _pack(plan)],
                    client=rebuild,
                )
        if needed:
            await rebuild.execute()

    def _rebuild_plan(self, venue_ids: Iterable[str]) -> list[list[Any]]:
        """Units whose persons HLL must be rebuilt, deepest first, with their sources."""
        units: set[str] = set()
        for venue_id in venue_ids:
            units.update(self.registry.chain(self.registry.venues[venue_id].unit_id))
        ordered = sorted(units, key=lambda u: -len(self.registry.chain(u)))
        return [
            [
                unit,
                sorted(self.registry.venues_of_unit.get(unit, ())),
                self.registry.children.get(unit, []),
            ]
            for unit in ordered
        ]

    def _expire(self, day: date) -> int:
        return self.clock.expire_at_s(day, self.retention_days)

    # scans -----------------------------------------------------------------------------------

    async def ingest_scans(self, scans: Sequence[ScanEvent]) -> Ingested:
        """Count the scans not seen before; those of a day beyond computing are refused."""
        by_day: dict[date, list[list[str]]] = {}
        refused: list[tuple[ScanEvent, str]] = []
        for scan in scans:
            try:
                day = self.clock.day_of(scan.scanned_at)
            except DayRefused as exc:
                refused.append((scan, f"scanned_at: {exc}"))
                continue
            entry = [
                scan.scan_id,
                scan.venue_id,
                scan.person_id,
                "|i" if scan.direction == "in" else "|o",
            ]
            bucket = by_day.get(day)
            if bucket is None:
                by_day[day] = [entry]
            else:
                bucket.append(entry)
        if not by_day:
            return Ingested(0, refused)
        async with self.lock:
            pipe = self.redis.pipeline(transaction=False)
            new_days = []
            for day, entries in by_day.items():
                if not self._live(day):
                    continue  # older than the retention: its keys are gone (or going)
                if day not in self._data_days:
                    new_days.append(day)
                for start in range(0, len(entries), SCRIPT_CHUNK):
                    chunk = entries[start : start + SCRIPT_CHUNK]
                    info = self._venue_info(day, {e[1] for e in chunk})
                    await self._ingest(
                        keys=[self.keys.seen(day)],
                        args=[self.keys.day(day), self._expire(day), _pack(chunk), _pack(info)],
                        client=pipe,
                    )
            if new_days:
                pipe.sadd(self.keys.data_days, *[d.isoformat() for d in new_days])
            results = await pipe.execute()
            self._data_days.update(new_days)
        return Ingested(sum(r for r in results[: len(results) - (1 if new_days else 0)]), refused)

    def _venue_info(self, day: date, venue_ids: Iterable[str]) -> dict[str, list[str]]:
        registry = self.registry
        info: dict[str, list[str]] = {}
        for venue_id in venue_ids:
            venue = registry.venues.get(venue_id)
            if venue is None:
                info[venue_id] = ["0"]  # unknown: judged again when its registration arrives
            else:
                flag = "1" if registry.days[venue_id].registered_on(day) else "0"
                info[venue_id] = [flag, *registry.chain(venue.unit_id)]
        return info

    # quarantines and declarations ------------------------------------------------------------

    async def apply_quarantines(
        self, events: Sequence[QuarantineEvent]
    ) -> list[tuple[QuarantineEvent, str]]:
        refused: list[tuple[QuarantineEvent, str]] = []
        pipe = self.redis.pipeline(transaction=False)
        for event in events:
            try:
                chain = self.registry.chain(event.unit_id)
                first, last = self.quarantine_days(event)
            except (UnknownUnit, DayRefused) as exc:
                refused.append((event, f"{type(exc).__name__}: {exc}"))
                continue
            for day in days_between(first, last):
                if not self._live(day):
                    continue
                for unit in chain:
                    key = self.keys.quarantined(day, unit)
                    pipe.sadd(key, event.person_id)
                    pipe.expireat(key, self._expire(day))
        await pipe.execute()
        return refused

    def quarantine_days(self, event: QuarantineEvent) -> tuple[date, date]:
        """The first and last day of a quarantine; DayRefused when it cannot be counted."""
        first, last = parse_day(event.from_date), parse_day(event.to_date)
        check_quarantine(first, last, self.clock.day_of(event.registered_at))
        return first, last

    async def apply_declarations(
        self, events: Sequence[DeclarationEvent]
    ) -> list[tuple[DeclarationEvent, str]]:
        """Record who declared on which day; those of a day beyond computing are refused."""
        refused: list[tuple[DeclarationEvent, str]] = []
        by_day: dict[date, set[str]] = {}
        for event in events:
            try:
                day = self.clock.day_of(event.declared_at)
            except DayRefused as exc:
                refused.append((event, f"declared_at: {exc}"))
                continue
            by_day.setdefault(day, set()).add(event.person_id)
        pipe = self.redis.pipeline(transaction=False)
        for day, persons in by_day.items():
            if self._live(day):
                key = self.keys.declared(day)
                pipe.sadd(key, *persons)
                pipe.expireat(key, self._expire(day))
        await pipe.execute()
        return refused

    # queries ---------------------------------------------------------------------------------

    async def figures(self, unit_ids: Sequence[str], day: date) -> list[Figures]:
        """The figures of each unit's subtree on `day`, in one pipelined round trip."""
        return (await self.figures_days(unit_ids, [day]))[day]

    async def figures_days(
        self, unit_ids: Sequence[str], days: Sequence[date]
    ) -> dict[date, list[Figures]]:
        pipe = self.redis.pipeline(transaction=False)
        k = self.keys
        for day in days:
            ordinal = day.toordinal()
            agg, declared = k.aggregates(day), k.declared(day)
            for unit in unit_ids:
                pipe.hmget(agg, [f"{unit}|i", f"{unit}|o", f"{unit}|a"])
                pipe.pfcount(k.unit_persons(day, unit))
                pipe.zcount(k.registered(unit), "-inf", ordinal)
                pipe.zcount(k.revoked(unit), "-inf", ordinal)
                pipe.scard(k.quarantined(day, unit))
                pipe.execute_command("SINTERCARD", 2, k.quarantined(day, unit), declared)
        answers = await pipe.execute()
        result: dict[date, list[Figures]] = {}
        position = 0
        for day in days:
            assessed = (
                self.safety.current_by_unit(self.registry, day) if self.safety else Counter[str]()
            )
            rows = []
            for unit in unit_ids:
                counters, persons, registered, revoked, quarantined, declared_n = answers[
                    position : position + 6
                ]
                position += 6
                rows.append(
                    from_counters(
                        unit,
                        day,
                        registered=int(registered),
                        revoked=int(revoked),
                        counters=list(counters),
                        persons=int(persons),
                        quarantined=int(quarantined),
                        declared=int(declared_n),
                        assessed=assessed[unit],
                    )
                )
            result[day] = rows
        return result

    async def compliance(self, unit_id: str, day: date) -> dict[str, Any]:
        """SPEC section 4: the unit's figures with one entry per direct child."""
        children = self.registry.children.get(unit_id, [])
        rows = await self.figures([unit_id, *children], day)
        body = rows[0].as_dict()
        body["children"] = [row.as_dict() for row in rows[1:]]
        return body


def is_stale(current: VenueEvent, event: VenueEvent) -> bool:
    """An event older than the state we hold: the consumer re-reading the registration after
    this process applied the revocation (revocations are final: never undone)."""
    return current.revoked_at is not None and event.revoked_at is None
