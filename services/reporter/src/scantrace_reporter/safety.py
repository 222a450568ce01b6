"""The reporter's view of SPEC section 10: every version of every criteria set, the venues'
assessments and inspections, in Redis and mirrored in memory for the map.

Redis keys (every key starts with the settings namespace):

| key | type | holds |
|---|---|---|
| `<ns>rp:criteria` | hash | `<set_id>|<version>` -> msgpack CriteriaSetEvent, **every version** |
| `<ns>rp:as:<venue>` | hash | assessment_id -> msgpack AssessmentEvent |
| `<ns>rp:in:<venue>` | hash | inspection_id -> msgpack InspectionEvent |
| `<ns>rp:rep:<venue>` | hash | report_id -> received_at (epoch ms) of residents' reports; no person |
| `<ns>rp:safety-venues` | set | venues with any assessment, inspection or report (read at start) |

`criteria.v1` is compacted by set_id, so Kafka keeps only the newest version of each set; the
hash keeps every version this view has seen, so `?version=` of an older one can be answered and
an assessment against it checked. Every apply is idempotent (by id; a criteria version that comes
again with other content is refused: the first one stays).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import msgspec
from redis.asyncio import Redis

from scantrace_common.events import (
    AssessmentEvent,
    CriteriaSetEvent,
    InspectionEvent,
    VenueReportEvent,
    decode,
    encode,
)
from scantrace_reporter.criteria import set_problems
from scantrace_reporter.map_status import Assessed, Inspected, MapStatus, status_at
from scantrace_reporter.registry import Registry


@dataclass(frozen=True, slots=True)
class SafetyKeys:
    namespace: str

    @property
    def criteria(self) -> str:
        return f"{self.namespace}rp:criteria"

    @property
    def venues(self) -> str:
        return f"{self.namespace}rp:safety-venues"

    def assessments(self, venue_id: str) -> str:
        return f"{self.namespace}rp:as:{venue_id}"

    def inspections(self, venue_id: str) -> str:
        return f"{self.namespace}rp:in:{venue_id}"

    def reports(self, venue_id: str) -> str:
        return f"{self.namespace}rp:rep:{venue_id}"


def _version_field(set_id: str, version: int) -> str:
    return f"{set_id}|{version}"


def same_document(a: CriteriaSetEvent, b: CriteriaSetEvent) -> bool:
    """The same version published twice (two reporters publishing a shipped set at once): the
    same document whatever its `published_at`."""
    return msgspec.structs.replace(a, published_at=None) == msgspec.structs.replace(
        b, published_at=None
    )


def assessed(event: AssessmentEvent) -> Assessed:
    return Assessed(event.assessed_at, event.assessment_id, event.level, event.valid_until)


def inspected(event: InspectionEvent) -> Inspected:
    return Inspected(event.at, event.inspection_id, event.result, event.suspend)


class SafetyStore:
    def __init__(self, redis: Redis, keys: SafetyKeys) -> None:
        self.redis = redis
        self.keys = keys
        self.lock = asyncio.Lock()
        #: set_id -> version -> document.
        self.criteria: dict[str, dict[int, CriteriaSetEvent]] = {}
        #: venue_id -> its assessments and inspections, as the map status needs them.
        self.assessed: dict[str, dict[str, Assessed]] = {}
        self.inspected: dict[str, dict[str, Inspected]] = {}
        #: venue_id -> report_id -> received_at: residents' reports, counted on the map.
        self.reported: dict[str, dict[str, int]] = {}

    async def load(self) -> None:
        """Fill the memory from the Redis view (kept by earlier runs)."""
        async with self.lock:
            raw: dict[bytes, bytes] = await self.redis.hgetall(self.keys.criteria)  # type: ignore[assignment]
            for value in raw.values():
                cs = decode(CriteriaSetEvent, value)
                self.criteria.setdefault(cs.set_id, {})[cs.version] = cs
            members: set[bytes] = await self.redis.smembers(self.keys.venues)  # type: ignore[assignment]
            venues = sorted(m.decode() for m in members)
            pipe = self.redis.pipeline(transaction=False)
            for venue_id in venues:
                pipe.hvals(self.keys.assessments(venue_id))
                pipe.hvals(self.keys.inspections(venue_id))
                pipe.hgetall(self.keys.reports(venue_id))
            replies = await pipe.execute()
            for i, venue_id in enumerate(venues):
                for value in replies[3 * i]:
                    a = decode(AssessmentEvent, value)
                    self.assessed.setdefault(venue_id, {})[a.assessment_id] = assessed(a)
                for value in replies[3 * i + 1]:
                    n = decode(InspectionEvent, value)
                    self.inspected.setdefault(venue_id, {})[n.inspection_id] = inspected(n)
                if replies[3 * i + 2]:
                    self.reported[venue_id] = {
                        k.decode(): int(v) for k, v in replies[3 * i + 2].items()
                    }

    # criteria --------------------------------------------------------------------------------

    def criteria_set(self, set_id: str, version: int | None = None) -> CriteriaSetEvent | None:
        """The version asked for, else the newest; None when there is none."""
        versions = self.criteria.get(set_id)
        if not versions:
            return None
        return versions.get(version) if version is not None else versions[max(versions)]

    async def apply_criteria(
        self, events: Sequence[CriteriaSetEvent]
    ) -> list[tuple[CriteriaSetEvent, str]]:
        """Store new versions; returns those refused (invalid, or a version reused)."""
        refused: list[tuple[CriteriaSetEvent, str]] = []
        async with self.lock:
            new: list[CriteriaSetEvent] = []
            for cs in events:
                problems = set_problems(cs)
                known = self.criteria.get(cs.set_id, {}).get(cs.version)
                if problems:
                    refused.append((cs, "; ".join(problems)))
                elif known is not None and not same_document(known, cs):
                    refused.append((cs, f"version {cs.version} of {cs.set_id!r} exists already"))
                elif known is None:
                    self.criteria.setdefault(cs.set_id, {})[cs.version] = cs
                    new.append(cs)
            if new:
                await self.redis.hset(
                    self.keys.criteria,
                    mapping={_version_field(c.set_id, c.version): encode(c) for c in new},
                )
        return refused

    # assessments and inspections -------------------------------------------------------------

    async def apply_assessments(self, events: Sequence[AssessmentEvent]) -> None:
        async with self.lock:
            pipe = self.redis.pipeline(transaction=False)
            for a in events:
                pipe.hset(self.keys.assessments(a.venue_id), a.assessment_id, encode(a))
                pipe.sadd(self.keys.venues, a.venue_id)
                self.assessed.setdefault(a.venue_id, {})[a.assessment_id] = assessed(a)
            if events:
                await pipe.execute()

    async def apply_inspections(self, events: Sequence[InspectionEvent]) -> None:
        async with self.lock:
            pipe = self.redis.pipeline(transaction=False)
            for n in events:
                pipe.hset(self.keys.inspections(n.venue_id), n.inspection_id, encode(n))
                pipe.sadd(self.keys.venues, n.venue_id)
                self.inspected.setdefault(n.venue_id, {})[n.inspection_id] = inspected(n)
            if events:
                await pipe.execute()

    async def apply_reports(self, events: Sequence[VenueReportEvent]) -> None:
        """Keep each report's id and time only: the map counts them, and shows no person."""
        async with self.lock:
            pipe = self.redis.pipeline(transaction=False)
            for r in events:
                pipe.hset(self.keys.reports(r.venue_id), r.report_id, str(r.received_at))
                pipe.sadd(self.keys.venues, r.venue_id)
                self.reported.setdefault(r.venue_id, {})[r.report_id] = r.received_at
            if events:
                await pipe.execute()

    def reports_since(self, venue_id: str, since: int, t: int) -> int:
        """The venue's reports received in (since, t]."""
        return sum(1 for at in self.reported.get(venue_id, {}).values() if since < at <= t)

    async def assessments_of(self, venue_id: str) -> list[AssessmentEvent]:
        """A venue's assessments, newest first (assessed_at, then assessment_id, descending)."""
        raw: list[bytes] = await self.redis.hvals(self.keys.assessments(venue_id))  # type: ignore[assignment]
        events = [decode(AssessmentEvent, value) for value in raw]
        return sorted(events, key=lambda a: (a.assessed_at, a.assessment_id), reverse=True)

    async def inspections_of(self, venue_id: str) -> list[InspectionEvent]:
        """A venue's inspections, newest first."""
        raw: list[bytes] = await self.redis.hvals(self.keys.inspections(venue_id))  # type: ignore[assignment]
        events = [decode(InspectionEvent, value) for value in raw]
        return sorted(events, key=lambda n: (n.at, n.inspection_id), reverse=True)

    def status(self, venue_id: str, t: int) -> MapStatus:
        """The venue's map status at t (map_status.status_at over what this view holds)."""
        return status_at(
            self.inspected.get(venue_id, {}).values(), self.assessed.get(venue_id, {}).values(), t
        )

    def current_by_unit(self, registry: Registry, day: date) -> Counter[str]:
        """Per unit, the venues of its subtree registered on `day` whose status is `current` at
        the day's last millisecond (SPEC 10's `venues_assessed`). Only assessed venues can be
        current, so this walks those, not the registry."""
        t = registry.clock.bounds(day)[1] - 1
        counts: Counter[str] = Counter()
        for venue_id in self.assessed:
            venue = registry.venues.get(venue_id)
            if venue is None or not registry.registered_on(venue_id, day):
                continue
            if self.status(venue_id, t).status == "current":
                counts.update(registry.chain(venue.unit_id))
        return counts
