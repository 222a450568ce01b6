"""The tracer's state in Redis: per-person scan logs and visits, per-venue co-presence buckets.

Writes are ordered so that replaying a batch after a crash converges to the same state:
1. the scans are added to the person's log (idempotent ZADD);
2. the venue buckets drop the visits that changed and gain the new ones;
3. the person's visits are replaced, atomically per person (MULTI/EXEC on the fast lanes, a Lua
   script through redis-py).
A replay plans its restart from the person's visits as they are (old or already new), and both
give the same result, so steps 2-3 are simply done again.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from scantrace_common.venue_kinds import UNKNOWN_VENUE_DWELL_MINUTES
from scantrace_tracer import codec, scripts
from scantrace_tracer.fastpipe import Arg, Command, FastPipe, RedisReplyError
from scantrace_tracer.keys import BUCKET_MS, Keys, bucket_of
from scantrace_tracer.visits import (
    FROM_SCRATCH,
    MAX_VISIT_MS,
    MINUTE_MS,
    Restart,
    Scan,
    Visit,
    derive,
    numbered,
    plan_restart,
)

DAY_MS: Final = 86_400_000
_SCRIPTS: Final = {
    "add_scans": scripts.ADD_SCANS_READ_TAIL,
    "replace": scripts.REPLACE_VISITS,
    "raise_stays": scripts.RAISE_STAYS,
    "co_present": scripts.CO_PRESENT,
}
#: EVALSHA names a script by its SHA-1 (Redis' choice, not a security use).
_SHA: Final = {
    name: hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    for name, text in _SCRIPTS.items()
}
#: Scripts per pipelined round trip of a co-presence read.
CO_PRESENT_CHUNK: Final = 256
#: How long the ingest trusts its memory of the venue stays it wrote (see `_stays_sent`).
STAYS_CACHE_S: Final = 3600.0
#: How many of a person's latest visits are read first; more are read only for late scans.
TAIL_VISITS: Final = 8
#: Buckets passed to a co-presence read reach back this far; the script asks for more if needed.
DEFAULT_LOOKBACK_MS: Final = 26 * 3600 * 1000


class ScanLike(Protocol):
    @property
    def scan_id(self) -> str: ...
    @property
    def person_id(self) -> str: ...
    @property
    def venue_id(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def scanned_at(self) -> int: ...


def _score_min(t: int | None) -> Arg:
    return "-inf" if t is None else t


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Found:
    """A visit of another person found by a co-presence read, with the window it matched."""

    window: int
    person_id: str
    start: int
    end: int
    closed_by: str


@dataclass(frozen=True, slots=True)
class ApplyResult:
    persons: int
    visits_added: int
    visits_removed: int
    skipped_expired: int


class TracerStore:
    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        retention_days: int = 21,
        clock: Callable[[], int] = wall_clock_ms,
        fast: FastPipe | Sequence[FastPipe] | None = None,
        readers: Sequence[FastPipe] = (),
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.retention_ms = retention_days * DAY_MS
        self.clock = clock
        self.dwell_minutes: dict[str, int] = {}
        #: Connections of the ingest. With two or more, a batch is split by person over them and
        #: the parts run concurrently: Python derives one part while Redis executes another
        #: (parts touch disjoint persons; their venue-bucket writes commute).
        self.lanes: list[FastPipe | None] = (
            [None] if fast is None else [fast] if isinstance(fast, FastPipe) else list(fast)
        )
        #: Connections of the queries (a pool: one per concurrent query), else redis-py.
        self._readers: asyncio.Queue[FastPipe] = asyncio.Queue()
        for reader in readers:
            self._readers.put_nowait(reader)
        self._has_readers = bool(readers)
        self._scripts_loaded = False
        #: (venue, stays field) -> the stay this process last raised it to. A batch then sends
        #: only the stays that grew, instead of one script call per venue it touched. Cleared
        #: every hour (which also refreshes the hashes' TTL) and when Redis has forgotten the
        #: scripts (NOSCRIPT: restarted, maybe empty).
        self._stays_sent: dict[tuple[str, str], int] = {}
        self._stays_sent_since = time.monotonic()

    # -- venue registry -------------------------------------------------------------------

    def dwell_ms(self, venue_id: str) -> int:
        return self.dwell_minutes.get(venue_id, UNKNOWN_VENUE_DWELL_MINUTES) * MINUTE_MS

    async def load_venues(self) -> None:
        raw = await self.redis.hgetall(self.keys.venues)
        self.dwell_minutes = {
            (k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()
        }

    async def set_venue_dwell(self, venue_id: str, minutes: int) -> int:
        """Record dwell(v) and derive again every person with a visit there; returns how many.

        Scans that came before their venue event were walked with the unknown-venue dwell; this
        corrects them. It runs on every venue event (not only on changes) so a crash between the
        registry write and the re-derivation is repaired by the replay.
        """
        self.dwell_minutes[venue_id] = minutes
        await self.redis.hset(self.keys.venues, venue_id, str(minutes))
        persons = await self.persons_at_venue(venue_id)
        if persons:
            await self.rederive(dict.fromkeys(persons))
        return len(persons)

    async def persons_at_venue(self, venue_id: str) -> set[str]:
        now = self.clock()
        first = bucket_of(now - self.retention_ms - DAY_MS)
        last = bucket_of(now + DAY_MS)
        results = await self._exec(
            [("ZRANGE", self.keys.venue_bucket(venue_id, b), 0, -1) for b in range(first, last + 1)]
        )
        return {codec.split_member(m)[3] for rows in results for m in rows}

    # -- writes ---------------------------------------------------------------------------

    def _ttl_s(self) -> int:
        return (self.retention_ms + DAY_MS) // 1000

    async def _exec(
        self, commands: Sequence[Command], lane: FastPipe | None = None, *, plain: bool = False
    ) -> list[Any]:
        """Run commands pipelined (one write, one read); scripts are loaded on first use.

        A Redis restarted empty has forgotten the scripts (NOSCRIPT): they are loaded again and
        the commands sent once more, which is safe because every write here is idempotent.
        """
        if not commands:
            return []
        if not self._scripts_loaded:
            await self._load_scripts()
        try:
            return await self._send(commands, lane, plain)
        except (RedisReplyError, NoScriptError) as exc:
            if isinstance(exc, RedisReplyError) and not str(exc).startswith("NOSCRIPT"):
                raise
            self._stays_sent.clear()
            await self._load_scripts()
            return await self._send(commands, lane, plain)

    async def _load_scripts(self) -> None:
        for text in _SCRIPTS.values():
            await self.redis.script_load(text)
        self._scripts_loaded = True

    async def _send(
        self, commands: Sequence[Command], lane: FastPipe | None, plain: bool
    ) -> list[Any]:
        if lane is None and not plain:
            lane = self.lanes[0]
        if lane is not None:
            return await lane.execute(commands)
        async with self.redis.pipeline(transaction=False) as pipe:
            for cmd in commands:
                pipe.execute_command(*cmd)
            replies: list[Any] = await pipe.execute()
            return replies

    async def apply_scans(self, scans: Iterable[ScanLike]) -> ApplyResult:
        """Add scans to their persons' logs and derive again the visits they can change."""
        lanes = self.lanes
        if len(lanes) == 1:
            return await self._apply_scans(scans, lanes[0])
        parts: list[list[ScanLike]] = [[] for _ in lanes]
        for s in scans:
            parts[hash(s.person_id) % len(lanes)].append(s)
        # a TaskGroup: when one part fails the others are cancelled before the batch is retried
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self._apply_scans(p, lane))
                for p, lane in zip(parts, lanes, strict=True)
            ]
        done = [t.result() for t in tasks]
        return ApplyResult(
            sum(r.persons for r in done),
            sum(r.visits_added for r in done),
            sum(r.visits_removed for r in done),
            sum(r.skipped_expired for r in done),
        )

    async def _apply_scans(self, scans: Iterable[ScanLike], lane: FastPipe | None) -> ApplyResult:
        cutoff = self.clock() - self.retention_ms
        by_person: dict[str, dict[bytes, int]] = defaultdict(dict)
        earliest: dict[str, int | None] = {}
        skipped = 0
        for s in scans:
            if s.scanned_at < cutoff:
                skipped += 1  # older than retention: neither stored nor counted
                continue
            by_person[s.person_id][codec.scan_member(s.scan_id, s.direction, s.venue_id)] = (
                s.scanned_at
            )
            prev = earliest.get(s.person_id)
            earliest[s.person_id] = s.scanned_at if prev is None else min(prev, s.scanned_at)
        if not by_person:
            return ApplyResult(0, 0, 0, skipped)
        ttl = self._ttl_s()
        commands: list[Command] = []
        for person, members in by_person.items():
            cmd: list[Arg] = [
                "EVALSHA",
                _SHA["add_scans"],
                2,
                self.keys.scan_log(person),
                self.keys.person_visits(person),
                ttl,
                TAIL_VISITS,
                earliest[person] or 0,
            ]
            for member, score in members.items():
                cmd += [score, member]
            commands.append(cmd)
        replies = await self._exec(commands, lane)
        tails: dict[str, tuple[list[Visit], bool]] = {}
        logs: dict[str, _ScanRead] = {}
        for person, (card, tail, lo, rows) in zip(by_person, replies, strict=True):
            tails[person] = ([codec.decode_person_visit(m) for m in tail], card == len(tail))
            logs[person] = _ScanRead(None if lo == b"-inf" else float(lo), rows)
        added, removed = await self.rederive(earliest, tails, logs, lane)
        return ApplyResult(len(by_person), added, removed, skipped)

    async def rederive(
        self,
        earliest: Mapping[str, int | None],
        tails: dict[str, tuple[list[Visit], bool]] | None = None,
        logs: Mapping[str, _ScanRead] | None = None,
        lane: FastPipe | None = None,
    ) -> tuple[int, int]:
        """Derive the visits of each person again from `earliest` (None: from scratch).

        `tails`: each person's latest visits and whether that is all of them, when known;
        `logs`: the scans already read for each person, from some time on.
        """
        persons = list(earliest)
        if tails is None:
            replies = await self._exec(
                [("ZRANGE", self.keys.person_visits(p), -TAIL_VISITS, -1) for p in persons]
                + [("ZCARD", self.keys.person_visits(p)) for p in persons],
                lane,
            )
            n = len(persons)
            tails = {
                p: (
                    [codec.decode_person_visit(m) for m in replies[i]],
                    replies[n + i] == len(replies[i]),
                )
                for i, p in enumerate(persons)
            }
        old_visits = dict(tails)
        plans: dict[str, Restart] = {}
        incomplete: list[str] = []
        for person in persons:
            visits, complete = old_visits[person]
            t0 = earliest[person]
            plan = FROM_SCRATCH if t0 is None else plan_restart(visits, t0)
            if not complete and plan.keep < 1:
                incomplete.append(person)
            else:
                plans[person] = plan
        if incomplete:
            full = await self._exec(
                [("ZRANGE", self.keys.person_visits(p), 0, -1) for p in incomplete], lane
            )
            for person, rows in zip(incomplete, full, strict=True):
                visits = [codec.decode_person_visit(m) for m in rows]
                old_visits[person] = (visits, True)
                t0 = earliest[person]
                plans[person] = FROM_SCRATCH if t0 is None else plan_restart(visits, t0)

        # the scans read with the tail do when they reach back as far as the plan
        rows_of: dict[str, list[Any]] = {}
        for person in persons:
            read = logs.get(person) if logs is not None else None
            if read is None:
                continue
            plan_from = plans[person].from_time
            if read.lo is None or (plan_from is not None and plan_from >= read.lo):
                rows_of[person] = read.rows
        missing = [p for p in persons if p not in rows_of]
        if missing:
            more = await self._exec(
                [
                    (
                        "ZRANGE",
                        self.keys.scan_log(p),
                        _score_min(plans[p].from_time),
                        "+inf",
                        "BYSCORE",
                        "WITHSCORES",
                    )
                    for p in missing
                ],
                lane,
            )
            rows_of.update(zip(missing, more, strict=True))
        changes: list[_PersonChange] = []
        for person in persons:
            plan = plans[person]
            visits, _ = old_visits[person]
            tail_scans = _walk_scans(rows_of[person], plan.from_time)
            derived = derive(tail_scans, self.dwell_ms, plan.state)
            changes.append(
                _PersonChange.of(
                    person,
                    set(numbered(visits[plan.keep :])),
                    set(numbered(derived.visits)),
                    derived.visits[-1].end if derived.trailing_open and derived.visits else None,
                )
            )
        # one round trip: venue buckets first, then the persons' visits (see the module doc)
        bucket_commands, stays_raised = self._venue_bucket_commands(changes)
        await self._exec(bucket_commands + self._person_visit_commands(changes, lane), lane)
        self._stays_sent.update(stays_raised)
        return sum(len(c.added) for c in changes), sum(len(c.gone) for c in changes)

    def _venue_bucket_commands(
        self, changes: Sequence[_PersonChange]
    ) -> tuple[list[Command], dict[tuple[str, str], int]]:
        """Removals first, then additions, grouped per bucket key: one ZREM and one ZADD each;
        then the stays that grew. Also returns those stays, to remember once they are written."""
        bucket_ttl_extra_s = (self.retention_ms + DAY_MS) // 1000
        removed: dict[tuple[str, int], list[bytes]] = defaultdict(list)
        added: dict[tuple[str, int], list[Arg]] = defaultdict(list)
        #: venue -> field (bucket number, and "max") -> longest stay added in this batch
        max_stay: dict[str, dict[str, int]] = defaultdict(dict)
        for c in changes:
            for visit, n in c.gone:
                removed[(visit.venue_id, bucket_of(visit.start))].append(
                    codec.visit_member(visit, c.person, n)
                )
            for visit, n in c.added:
                added[(visit.venue_id, bucket_of(visit.start))] += [
                    visit.start,
                    codec.visit_member(visit, c.person, n),
                ]
                stay = visit.end - visit.start
                stays = max_stay[visit.venue_id]
                for field in ("max", str(bucket_of(visit.start))):
                    if stay > stays.get(field, -1):
                        stays[field] = stay
        commands: list[Command] = []
        for (venue, b), members in removed.items():
            commands.append(("ZREM", self.keys.venue_bucket(venue, b), *members))
        for (venue, b), scored in added.items():
            key = self.keys.venue_bucket(venue, b)
            commands.append(("ZADD", key, *scored))
            commands.append(("EXPIREAT", key, (b + 1) * BUCKET_MS // 1000 + bucket_ttl_extra_s))
        oldest = bucket_of(self.clock() - self.retention_ms - DAY_MS)
        if time.monotonic() - self._stays_sent_since > STAYS_CACHE_S:
            self._stays_sent.clear()
            self._stays_sent_since = time.monotonic()
        sent = self._stays_sent
        raised: dict[tuple[str, str], int] = {}
        for venue, stays in max_stay.items():
            grown = [
                (field, stay)
                for field, stay in stays.items()
                if stay > sent.get((venue, field), -1)
            ]
            if not grown:
                continue
            cmd: list[Arg] = [
                "EVALSHA",
                _SHA["raise_stays"],
                1,
                self.keys.venue_stays(venue),
                bucket_ttl_extra_s + 90 * 86400,
                oldest,
            ]
            for field, stay in grown:
                cmd += [field, stay]
                raised[(venue, field)] = stay
            commands.append(cmd)
        return commands, raised

    def _person_visit_commands(
        self, changes: Sequence[_PersonChange], lane: FastPipe | None
    ) -> list[Command]:
        ttl = self._ttl_s()
        commands: list[Command] = []
        for c in changes:
            key = self.keys.person_visits(c.person)
            gone = [codec.visit_member(v, v.venue_id, n) for v, n in c.gone]
            added: list[Arg] = []
            for v, n in c.added:
                added += [v.start, codec.visit_member(v, v.venue_id, n)]
            if not gone and not added:
                continue
            if lane is None:
                # redis-py parses every reply of a pipeline, which a MULTI's QUEUED replies break
                commands.append(["EVALSHA", _SHA["replace"], 1, key, ttl, len(gone), *gone, *added])
                continue
            # MULTI/EXEC: atomic per person like the script, and cheaper for Redis than a Lua call
            commands.append(("MULTI",))
            if gone:
                commands.append(("ZREM", key, *gone))
            if added:
                commands.append(("ZADD", key, *added))
            commands.append(("EXPIRE", key, ttl))
            commands.append(("EXEC",))
        closed = [c.person for c in changes if c.open_until is None]
        if closed:
            commands.append(("ZREM", self.keys.open_visits, *closed))
        still_open: list[Arg] = []
        for c in changes:
            if c.open_until is not None:
                still_open += [c.open_until, c.person]
        if still_open:
            commands.append(("ZADD", self.keys.open_visits, *still_open))
        return commands

    # -- reads ----------------------------------------------------------------------------

    async def person_visits(self, person_id: str, t1: int, t2: int) -> list[Visit]:
        """Every visit of the person overlapping [t1, t2], unclipped, ordered by start."""
        many = await self.persons_visits([person_id], t1, t2)
        return many[person_id]

    async def persons_visits(
        self, persons: Sequence[str], t1: int, t2: int
    ) -> dict[str, list[Visit]]:
        # no visit is longer than MAX_VISIT_MS: earlier starts cannot reach t1
        results = await self._read(
            [
                ("ZRANGE", self.keys.person_visits(p), t1 - MAX_VISIT_MS, t2, "BYSCORE")
                for p in persons
            ]
        )
        out: dict[str, list[Visit]] = {}
        for person, rows in zip(persons, results, strict=True):
            visits = [codec.decode_person_visit(m) for m in rows]
            out[person] = sorted(
                (v for v in visits if v.end >= t1),
                key=lambda v: (v.start, v.venue_id, v.end, v.closed_by),
            )
        return out

    async def _read(self, commands: Sequence[Command]) -> list[Any]:
        """A query's pipelined reads, on a connection of the readers' pool when there is one."""
        if not self._has_readers:
            return await self._exec(commands, plain=True)
        reader = await self._readers.get()
        try:
            return await self._exec(commands, reader)
        finally:
            self._readers.put_nowait(reader)

    async def co_present(
        self, requests: Sequence[tuple[str, Sequence[tuple[int, int]]]], min_overlap_ms: int
    ) -> list[list[Found]]:
        """For each (venue, windows): the visits there overlapping a window by >= min_overlap_ms."""
        out: list[list[Found]] = []
        for reply in await self.co_present_raw(requests, min_overlap_ms, clip=False):
            found: list[Found] = []
            for j in range(0, len(reply), 2):
                start, end, closed_by, person = codec.split_member(reply[j + 1])
                found.append(Found(int(reply[j]), person, start, end, closed_by))
            out.append(found)
        return out

    async def co_present_raw(
        self,
        requests: Sequence[tuple[str, Sequence[tuple[int, int]]]],
        min_overlap_ms: int,
        *,
        clip: bool,
    ) -> list[list[Any]]:
        """`co_present` undecoded: per request, flat pairs (window index, venue bucket member),
        or with `clip` flat quadruples (window index, overlap start, overlap end, person_id).

        One pipelined round trip of server-side filtering scripts (one per venue); a venue whose
        longest stay reaches further back than the buckets sent is asked again. (Splitting it in
        concurrent pipelines, to decode one while Redis runs the next, was measured slower.)
        """
        results: list[list[Any] | None] = [None] * len(requests)
        lookback = dict.fromkeys(range(len(requests)), DEFAULT_LOOKBACK_MS)
        pending = [i for i, (_, w) in enumerate(requests) if w]
        for i, (_, w) in enumerate(requests):
            if not w:
                results[i] = []
        while pending:
            replies: list[Any] = []
            # bounded pipelines: a depth-2 query can touch thousands of venues
            for chunk_start in range(0, len(pending), CO_PRESENT_CHUNK):
                commands: list[Command] = []
                for i in pending[chunk_start : chunk_start + CO_PRESENT_CHUNK]:
                    venue, windows = requests[i]
                    first = bucket_of(min(a for a, _ in windows) - lookback[i])
                    last = bucket_of(max(b for _, b in windows))
                    cmd: list[Arg] = [
                        "EVALSHA",
                        _SHA["co_present"],
                        2 + last - first,
                        self.keys.venue_stays(venue),
                        *[self.keys.venue_bucket(venue, b) for b in range(first, last + 1)],
                        first,
                        BUCKET_MS,
                        min_overlap_ms,
                        lookback[i],
                        int(clip),
                    ]
                    for a, b in windows:
                        cmd += [a, b]
                    commands.append(cmd)
                replies += await self._read(commands)
            retry: list[int] = []
            for i, reply in zip(pending, replies, strict=True):
                if reply and reply[0] == -1:
                    lookback[i] = int(reply[1])
                    retry.append(i)
                else:
                    results[i] = reply
            pending = retry
        return [r if r is not None else [] for r in results]

    async def venue_visits(self, venue_id: str, t1: int, t2: int) -> list[Found]:
        """Visits at the venue overlapping [t1, t2], ordered by start, then person_id."""
        (found,) = await self.co_present([(venue_id, [(t1, t2)])], 0)
        return sorted(found, key=lambda f: (f.start, f.person_id, f.end, f.closed_by))

    async def occupancy(self, venue_id: str, at: int) -> int:
        """How many visits there contain `at` (start <= at < end)."""
        (found,) = await self.co_present([(venue_id, [(at, at)])], 0)
        return sum(1 for f in found if f.end > at)

    async def open_visits(self, at: int) -> int:
        return int(await self.redis.zcount(self.keys.open_visits, f"({at}", "+inf"))

    # -- retention ------------------------------------------------------------------------

    async def sweep(self, batch: int = 500) -> int:
        """Trim scans and visits older than the retention from every person; returns keys seen.

        Venue buckets and idle persons expire by themselves (EXPIREAT / EXPIRE set on write);
        this pass trims persons who keep scanning and so never expire.
        """
        cutoff = self.clock() - self.retention_ms
        seen = 0
        pattern = f"{self.keys.prefix}p:*"
        async for key in self.redis.scan_iter(match=pattern, count=batch):
            seen += 1
            # scans by scanned_at, visits by start: both scores are times
            await self.redis.zremrangebyscore(key, "-inf", f"({cutoff}")
        await self.redis.zremrangebyscore(self.keys.open_visits, "-inf", f"({cutoff}")
        return seen


@dataclass(frozen=True, slots=True)
class _ScanRead:
    """A person's scans with score >= lo (None: all of them), WITHSCORES, in walk order."""

    lo: float | None
    rows: list[Any]


def _walk_scans(rows: list[Any], from_time: int | None) -> list[Scan]:
    """Scans at or after `from_time` in walk order, each scan_id once.

    Redis already returns them in walk order: by score (scanned_at), then by member, which
    starts with the direction (`out` first) and the scan_id's bytes.
    """
    seen: set[bytes] = set()
    out: list[Scan] = []
    if rows and isinstance(rows[0], list | tuple):  # redis-py pairs them
        rows = [x for pair in rows for x in pair]
    for i in range(0, len(rows), 2):
        member = rows[i]
        at = int(float(rows[i + 1]))
        if from_time is not None and at < from_time:
            continue
        scan_id = member[1:17]  # see codec.scan_member
        if scan_id not in seen:
            seen.add(scan_id)
            out.append(codec.decode_scan(member, at))
    return out


@dataclass(frozen=True, slots=True)
class _PersonChange:
    person: str
    gone: list[tuple[Visit, int]]
    added: list[tuple[Visit, int]]
    open_until: int | None

    @classmethod
    def of(
        cls,
        person: str,
        old: set[tuple[Visit, int]],
        new: set[tuple[Visit, int]],
        open_until: int | None,
    ) -> _PersonChange:
        return cls(person, list(old - new), list(new - old), open_until)
