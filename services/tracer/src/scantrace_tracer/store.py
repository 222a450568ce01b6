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
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from scantrace_common.venue_kinds import UNKNOWN_VENUE_DWELL_MINUTES
from scantrace_tracer import codec, scripts
from scantrace_tracer.fastpipe import EXEC, MULTI, Arg, Command, FastPipe, RedisReplyError
from scantrace_tracer.keys import BUCKET_MS, Keys, bucket_of
from scantrace_tracer.tails import (
    UNCHANGED,
    FromMemory,
    Tail,
    Tails,
    derive_from_memory,
    remembered_tail,
)
from scantrace_tracer.visits import (
    FROM_SCRATCH,
    MAX_VISIT_MS,
    MINUTE_MS,
    Derived,
    Restart,
    Scan,
    Visit,
    derive,
    numbered,
    plan_restart,
)

log = logging.getLogger(__name__)

DAY_MS: Final = 86_400_000
_SCRIPTS: Final = {
    "add_scans": scripts.ADD_SCANS_READ_TAIL,
    "replace": scripts.REPLACE_VISITS,
    "raise_stays": scripts.RAISE_STAYS,
}
#: EVALSHA names a script by its SHA-1 (Redis' choice, not a security use).
_SHA: Final = {
    name: hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    for name, text in _SCRIPTS.items()
}
#: Commands per pipelined round trip of a co-presence read (a depth-2 query sends thousands).
CO_PRESENT_CHUNK: Final = 10_000
#: How long the ingest trusts its memory of the venue stays it wrote (see `_stays_sent`).
STAYS_CACHE_S: Final = 3600.0
#: How many of a person's latest visits are read first; more are read only for late scans.
TAIL_VISITS: Final = 8
#: Persons whose tail the ingest remembers (`tails`), by default; 0 reads every tail back.
TAILS_REMEMBERED: Final = 100_000
#: How long a venue's stays hash outlives the retention: it must outlive every bucket it
#: describes (a read skips buckets without a stay), and it names no person, only durations.
STAYS_TTL_EXTRA_S: Final = 91 * 86_400
#: How often a remembered person's keys get their TTL again (it is retention + 1 day).
TTL_REFRESH_S: Final = 3600.0


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
    #: persons derived from the memory of their tail, without reading Redis back
    from_memory: int = 0


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
        tails_remembered: int = TAILS_REMEMBERED,
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
        #: The tails of recently written persons (one writer per person: this process), so an
        #: append is derived without reading Redis back; see `tails`. Only on the fast lanes.
        self.tails = Tails(tails_remembered)
        #: lane -> the ingest epoch Redis answered to this process's last batch on it.
        self._epochs: dict[int, int] = {}

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
        cutoff = self.clock() - self.retention_ms
        groups: dict[str, list[ScanLike]] = {}
        skipped = 0
        for s in scans:
            if s.scanned_at < cutoff:
                skipped += 1  # older than retention: neither stored nor counted
                continue
            group = groups.get(s.person_id)
            if group is None:
                groups[s.person_id] = [s]
            else:
                group.append(s)
        if len(lanes) == 1:
            return await self._apply_scans(groups, lanes[0], 0, skipped)
        parts: list[dict[str, list[ScanLike]]] = [{} for _ in lanes]
        for person, group in groups.items():
            parts[hash(person) % len(lanes)][person] = group
        # a TaskGroup: when one part fails the others are cancelled before the batch is retried
        async with asyncio.TaskGroup() as task_group:
            tasks = [
                task_group.create_task(self._apply_scans(p, lane, i, 0))
                for i, (p, lane) in enumerate(zip(parts, lanes, strict=True))
            ]
        done = [t.result() for t in tasks]
        return ApplyResult(
            sum(r.persons for r in done),
            sum(r.visits_added for r in done),
            sum(r.visits_removed for r in done),
            skipped,
            sum(r.from_memory for r in done),
        )

    async def _apply_scans(
        self, groups: dict[str, list[ScanLike]], lane: FastPipe | None, index: int, skipped: int
    ) -> ApplyResult:
        """Apply one lane's part: each person's scans of the batch (`groups`)."""
        if not groups:
            return ApplyResult(0, 0, 0, skipped)
        # tails are remembered on the fast lanes (the worker's); through redis-py, always read back
        remember = lane is not None and self.tails.capacity > 0
        try:
            return await self._apply_groups(groups, lane, index, remember, skipped)
        except BaseException:
            self.tails.clear()  # some writes may be missing: memory must not claim them
            raise

    async def _apply_groups(
        self,
        groups: dict[str, list[ScanLike]],
        lane: FastPipe | None,
        index: int,
        remember: bool,
        skipped: int,
    ) -> ApplyResult:
        tails = self.tails
        generation = tails.generation
        now = time.monotonic()
        ttl = self._ttl_s()
        #: persons derived from memory: their change, and what to remember once it is written
        known: dict[str, tuple[_PersonChange, Tail]] = {}
        #: persons whose scans were all remembered as logged already
        unchanged: list[str] = []
        #: persons read back from Redis: their scans' members and scores
        misses: dict[str, dict[bytes, int]] = {}
        first: list[Command] = [("INCR", self.keys.ingest_epoch(index))] if remember else []
        for person, group in groups.items():
            pairs = [(codec.scan_member(s.scan_id, s.direction, s.venue_id), s) for s in group]
            tail = tails.take(person) if remember else None
            if tail is not None:
                got = derive_from_memory(
                    tail,
                    [Scan(m[1:17].hex(), s.venue_id, s.direction, s.scanned_at) for m, s in pairs],  # type: ignore[arg-type]
                    self.dwell_ms,
                )
                if got is UNCHANGED:
                    unchanged.append(person)
                    tails.put(person, tail, generation)
                    continue
                if isinstance(got, FromMemory):
                    # the TTL (22 days) is refreshed now and then, not on every write
                    refresh = now - got.tail.ttl_at > TTL_REFRESH_S
                    if refresh:
                        got.tail.ttl_at = now
                    change = _change(
                        person, got.old, got.derived.visits, _open_until(got.derived), refresh
                    )
                    known[person] = (change, got.tail)
                    log_key = self.keys.scan_log(person)
                    cmd: list[Arg] = ["ZADD", log_key]
                    for m, s in pairs:
                        cmd += [s.scanned_at, m]
                    first.append(cmd)
                    if refresh:
                        first.append(("EXPIRE", log_key, ttl))
                    continue
            misses[person] = {m: s.scanned_at for m, s in pairs}
        earliest: dict[str, int] = {p: _earliest(groups[p]) for p in misses}
        first += self._add_scans_commands(misses, earliest)
        replies = await self._exec(first, lane)
        read_back = replies[len(replies) - len(misses) :]
        if remember and not self._epoch_is_ours(index, int(replies[0])):
            # this Redis may not hold what memory says: everyone of the batch is read back
            self._forget()
            generation = tails.generation
            again = {p: _members(groups[p]) for p in [*known, *unchanged]}
            earliest.update({p: _earliest(groups[p]) for p in again})
            read_back += await self._exec(self._add_scans_commands(again, earliest), lane)
            misses.update(again)
            known.clear()
            unchanged.clear()
        read: dict[str, tuple[list[Visit], bool]] = {}
        logs: dict[str, _ScanRead] = {}
        for person, (card, tail_rows, lo, rows) in zip(misses, read_back, strict=True):
            read[person] = (
                [codec.decode_person_visit(m) for m in tail_rows],
                card == len(tail_rows),
            )
            logs[person] = _ScanRead(None if lo == b"-inf" else float(lo), rows)
        changes, remembered = await self._derive(earliest, read, logs, lane, remember)
        changes += [change for change, _ in known.values()]
        added, removed = await self._write(changes, lane)
        if remember:
            for person, (_, tail) in known.items():
                tails.put(person, tail, generation)
            for person, tail in remembered.items():
                tails.put(person, tail, generation)
        return ApplyResult(len(groups), added, removed, skipped, len(known) + len(unchanged))

    def _add_scans_commands(
        self, persons: Mapping[str, dict[bytes, int]], earliest: Mapping[str, int]
    ) -> list[Command]:
        """Per person: add the scans, read back the tail of visits and the scans to re-walk."""
        ttl = self._ttl_s()
        commands: list[Command] = []
        for person, members in persons.items():
            cmd: list[Arg] = [
                "EVALSHA",
                _SHA["add_scans"],
                2,
                self.keys.scan_log(person),
                self.keys.person_visits(person),
                ttl,
                TAIL_VISITS,
                earliest[person],
            ]
            for member, score in members.items():
                cmd += [score, member]
            commands.append(cmd)
        return commands

    def _epoch_is_ours(self, index: int, epoch: int) -> bool:
        """Whether Redis counted exactly one batch on this lane since this process's last one.

        Anything else means the memory of tails may not match this Redis: it was emptied or
        restored from an older copy, or another worker writes to it (one writer per person).
        """
        last = self._epochs.get(index)
        self._epochs[index] = epoch
        if last is None:
            return False  # first batch of this process: nothing remembered yet
        if epoch != last + 1:
            log.warning(
                "Redis ingest epoch %d on lane %d, expected %d: Redis was emptied, restored or "
                "written by another worker; tails are read back from Redis",
                epoch,
                index,
                last + 1,
            )
            return False
        return True

    def _forget(self) -> None:
        """Drop what this process remembers of Redis (tails and venue stays)."""
        self.tails.clear()
        self._stays_sent.clear()

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
        self.tails.clear()  # a venue's dwell changed, or a caller re-derives: read everything back
        changes, _ = await self._derive(earliest, tails, logs, lane, remember=False)
        return await self._write(changes, lane)

    async def _derive(
        self,
        earliest: Mapping[str, int | None],
        tails: dict[str, tuple[list[Visit], bool]] | None,
        logs: Mapping[str, _ScanRead] | None,
        lane: FastPipe | None,
        remember: bool,
    ) -> tuple[list[_PersonChange], dict[str, Tail]]:
        """Each person's change from Redis' state, and with `remember` what to remember."""
        persons = list(earliest)
        if not persons:
            return [], {}
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
        remembered: dict[str, Tail] = {}
        now = time.monotonic()
        for person in persons:
            plan = plans[person]
            visits, complete = old_visits[person]
            tail_scans = _walk_scans(rows_of[person], plan.from_time)
            derived = derive(tail_scans, self.dwell_ms, plan.state)
            changes.append(
                _change(person, visits[plan.keep :], derived.visits, _open_until(derived))
            )
            if remember:
                remembered[person] = remembered_tail(
                    visits, complete, plan, derived, tail_scans, now
                )
        return changes, remembered

    async def _write(
        self, changes: Sequence[_PersonChange], lane: FastPipe | None
    ) -> tuple[int, int]:
        """(added, removed): one round trip, venue buckets first, then the persons' visits
        (see the module doc)."""
        bucket_commands, stays_raised = self._venue_bucket_commands(changes)
        await self._exec(bucket_commands + self._person_visit_commands(changes, lane), lane)
        self._stays_sent.update(stays_raised)
        return sum(len(c.added) for c in changes), sum(len(c.gone) for c in changes)

    def _venue_bucket_commands(
        self, changes: Sequence[_PersonChange]
    ) -> tuple[list[Command], dict[tuple[str, str], int]]:
        """Removals first, then additions, grouped per bucket key: one ZREM and one ZADD each;
        then the stays that grew. Also returns those stays, to remember once they are written."""
        retention_s = self.retention_ms // 1000
        removed: dict[tuple[str, int], list[bytes]] = defaultdict(list)
        added: dict[tuple[str, int], list[Arg]] = defaultdict(list)
        #: (venue, bucket) -> longest stay added in this batch starting in that bucket
        longest: dict[tuple[str, int], int] = {}
        member = codec.visit_member
        for c in changes:
            person = c.person
            for visit, n in c.gone:
                removed[(visit.venue_id, bucket_of(visit.start))].append(member(visit, person, n))
            for visit, n in c.added:
                start = visit.start
                where = (visit.venue_id, bucket_of(start))
                scored = added[where]
                scored.append(start)
                scored.append(member(visit, person, n))
                stay = visit.end - start
                if stay > longest.get(where, -1):
                    longest[where] = stay
        #: venue -> field (bucket number, and "max") -> longest stay added in this batch
        max_stay: dict[str, dict[str, int]] = defaultdict(dict)
        for (venue, b), stay in longest.items():
            stays = max_stay[venue]
            stays[str(b)] = stay
            if stay > stays.get("max", -1):
                stays["max"] = stay
        commands: list[Command] = []
        for (venue, b), members in removed.items():
            commands.append(("ZREM", self.keys.venue_bucket(venue, b), *members))
        for (venue, b), scored in added.items():
            key = self.keys.venue_bucket(venue, b)
            commands.append(("ZADD", key, *scored))
            # a visit is kept for the retention from its start: its bucket lives until the
            # retention has passed for the bucket's last possible start
            commands.append(("EXPIREAT", key, (b + 1) * BUCKET_MS // 1000 + retention_s))
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
                retention_s + STAYS_TTL_EXTRA_S,
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
            if gone and added:
                # MULTI/EXEC: atomic per person like the script, cheaper for Redis than Lua
                commands.append(MULTI)
                commands.append(("ZREM", key, *gone))
                commands.append(("ZADD", key, *added))
                if c.refresh_ttl:
                    commands.append(("EXPIRE", key, ttl))
                commands.append(EXEC)
                continue
            # one command is atomic by itself (often: an `in` only adds its open visit)
            commands.append(("ZREM", key, *gone) if gone else ("ZADD", key, *added))
            if c.refresh_ttl:
                commands.append(("EXPIRE", key, ttl))
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
        out: list[list[Found]] = [[] for _ in requests]
        for i, w, a, b, members in await self.co_present_rows(requests, min_overlap_ms):
            for member in members:
                start, end, closed_by, person = codec.split_member(member)
                if min(end, b) - max(start, a) >= min_overlap_ms:
                    out[i].append(Found(w, person, start, end, closed_by))
        return out

    async def co_present_rows(
        self, requests: Sequence[tuple[str, Sequence[tuple[int, int]]]], min_overlap_ms: int
    ) -> list[tuple[int, int, int, int, list[bytes]]]:
        """(request index, window index, a, b, venue bucket members): per (venue, windows)
        request and window [a, b], the visits there that can overlap it by min_overlap_ms, a
        superset the caller clips and checks (most of them match: 78 % on the bench's province).

        Two pipelined round trips of plain commands: the venues' longest stays (HMGET), then one
        ZRANGE BYSCORE per window and bucket over the starts in [a - the longest stay starting in
        that bucket, b - min_overlap_ms]. (The filtering once ran in a Lua script per venue, one
        round trip; Redis spent twice as long in it as these commands and the Python filter take
        together, see docs/tracer.md.)
        """
        wanted = [i for i, (_, w) in enumerate(requests) if w]
        spans = {
            i: (
                bucket_of(min(a for a, _ in requests[i][1]) - MAX_VISIT_MS),
                bucket_of(max(b for _, b in requests[i][1])),
            )
            for i in wanted
        }
        stays_of = await self._read(
            [
                (
                    "HMGET",
                    self.keys.venue_stays(requests[i][0]),
                    "max",
                    *[str(k) for k in range(spans[i][0], spans[i][1] + 1)],
                )
                for i in wanted
            ]
        )
        plan: list[tuple[int, int, int, int]] = []
        commands: list[Command] = []
        for i, stays in zip(wanted, stays_of, strict=True):
            venue, windows = requests[i]
            longest = int(stays[0] or 0)
            first, last = spans[i]
            if longest > MAX_VISIT_MS:  # no visit is longer; but rather read again than miss one
                first = bucket_of(min(a for a, _ in windows) - longest)
                fields = [str(k) for k in range(first, last + 1)]
                (stays,) = await self._read(
                    [("HMGET", self.keys.venue_stays(venue), "max", *fields)]
                )
            by_bucket = stays[1:]
            for w, (a, b) in enumerate(windows):
                hi = b - min_overlap_ms
                for k in range(max(first, bucket_of(a - longest)), bucket_of(hi) + 1):
                    stay = by_bucket[k - first]
                    if stay is None:
                        continue  # no visit starts in that bucket
                    lo = a - int(stay)
                    if lo <= hi:
                        plan.append((i, w, a, b))
                        commands.append(
                            ("ZRANGE", self.keys.venue_bucket(venue, k), lo, hi, "BYSCORE")
                        )
        replies: list[Any] = []
        for start in range(0, len(commands), CO_PRESENT_CHUNK):
            replies += await self._read(commands[start : start + CO_PRESENT_CHUNK])
        return [
            (i, w, a, b, members)
            for (i, w, a, b), members in zip(plan, replies, strict=True)
            if members
        ]

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
        self.tails.clear()  # trimmed persons are read back (also a batch racing the sweep)
        pattern = f"{self.keys.prefix}p:*"
        async for key in self.redis.scan_iter(match=pattern, count=batch):
            seen += 1
            # scans by scanned_at, visits by start: both scores are times
            await self.redis.zremrangebyscore(key, "-inf", f"({cutoff}")
        await self.redis.zremrangebyscore(self.keys.open_visits, "-inf", f"({cutoff}")
        self.tails.clear()
        return seen


class _ScanRead(NamedTuple):
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


class _PersonChange(NamedTuple):
    person: str
    gone: list[tuple[Visit, int]]
    added: list[tuple[Visit, int]]
    open_until: int | None
    #: Whether the person's visits get their TTL again (else set recently, see TTL_REFRESH_S).
    refresh_ttl: bool = True


def _change(
    person: str,
    old: list[Visit],
    new: list[Visit],
    open_until: int | None,
    refresh_ttl: bool = True,
) -> _PersonChange:
    """The visits gone and added when `old` (a tail of the stored visits) becomes `new`."""
    in_old: Collection[Visit]
    in_new: Collection[Visit]
    if len(old) + len(new) <= 8:
        # an append replaces one or two visits: `in` on short lists beats building sets
        in_old, in_new = old, new
        distinct = _distinct(old) and _distinct(new)
    else:
        in_old, in_new = set(old), set(new)
        distinct = len(in_old) == len(old) and len(in_new) == len(new)
    if distinct:  # no identical visits (the usual case): every member has the suffix #0
        gone = [(v, 0) for v in old if v not in in_new]
        added = [(v, 0) for v in new if v not in in_old]
        return _PersonChange(person, gone, added, open_until, refresh_ttl)
    old_n, new_n = set(numbered(old)), set(numbered(new))
    return _PersonChange(person, list(old_n - new_n), list(new_n - old_n), open_until, refresh_ttl)


def _distinct(visits: list[Visit]) -> bool:
    """Whether no two visits are identical (for the short lists of an append)."""
    n = len(visits)
    if n < 2:
        return True
    if n == 2:
        return visits[0] != visits[1]
    return len(set(visits)) == n


def _open_until(derived: Derived) -> int | None:
    """The end of the person's last visit when it is still open, else None."""
    return derived.visits[-1].end if derived.trailing_open and derived.visits else None


def _earliest(scans: Iterable[ScanLike]) -> int:
    return min(s.scanned_at for s in scans)


def _members(scans: Iterable[ScanLike]) -> dict[bytes, int]:
    return {codec.scan_member(s.scan_id, s.direction, s.venue_id): s.scanned_at for s in scans}
