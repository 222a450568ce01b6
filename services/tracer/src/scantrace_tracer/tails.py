"""The ingest's memory of each recently active person's tail, so an append needs no read-back.

The tracer has exactly one writer per person (one worker). After each batch it remembers, per
person, the latest visits it wrote and the logged scans from the point the next walk will
probably restart at. A batch whose scans all fall at or after that point is derived from memory
with the same functions as the Redis path (`visits.plan_restart`, `visits.derive`): only the
inputs come from memory, so the result is the same. A person not remembered, a late scan before
the remembered scans, a restart plan reaching further back or a scan_id seen with other content
take the Redis path.

Redis stays the source of the worker's state: the memory is dropped when Redis' ingest epoch is
not the one this process last saw (Redis emptied, restored, or written by another worker), on
venue events, around the retention sweep, and after a failed batch (see `TracerStore`).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from scantrace_tracer.visits import Derived, DwellMs, Restart, Scan, Visit, derive, plan_restart

#: Visits remembered per person: an append restarts at the last one or two (`plan_restart`).
KEEP_VISITS: Final = 4
#: Scans remembered per person; a person needing more is read from Redis.
KEEP_SCANS: Final = 16


@dataclass(slots=True)
class Tail:
    """A person as this worker last wrote them."""

    #: The person's latest visits, in walk order.
    visits: list[Visit]
    #: Whether `visits` are all of them.
    complete: bool
    #: `scans` are every logged scan with scanned_at >= lo (None: every logged scan).
    lo: int | None
    #: Those scans in walk order, each scan_id once.
    scans: list[Scan]
    #: time.monotonic() when the person's keys last got their TTL from this process.
    ttl_at: float


class FromMemory(NamedTuple):
    """A derivation from memory: `old` (the visits replaced) gave way to `derived.visits`."""

    old: list[Visit]
    derived: Derived
    tail: Tail


#: The batch adds nothing to the person (every scan was already logged).
UNCHANGED: Final = object()


def remembered_tail(
    visits: Sequence[Visit],
    complete: bool,
    plan: Restart,
    derived: Derived,
    walked: list[Scan],
    ttl_at: float,
) -> Tail:
    """What to remember after a walk from `plan` over `walked` (every logged scan from there)."""
    after = [*visits[: plan.keep], *derived.visits]
    if len(after) > KEEP_VISITS:
        after = after[-KEEP_VISITS:]
        complete = False
    lo = plan.from_time
    if len(walked) > KEEP_SCANS:
        # keep every scan at or after the cut's time, so `lo` stays exact
        lo = walked[-KEEP_SCANS].scanned_at
        walked = walked[bisect_left(walked, lo, key=_time) :]
    return Tail(after, complete, lo, walked, ttl_at)


def _time(scan: Scan) -> int:
    return scan.scanned_at


def derive_from_memory(
    tail: Tail, batch: list[Scan], dwell_ms: DwellMs
) -> FromMemory | object | None:
    """The person's new visits from memory; UNCHANGED; or None when Redis must be read."""
    known = {s.scan_id: s for s in tail.scans}
    fresh: list[Scan] = []
    for s in sorted(batch, key=_order) if len(batch) > 1 else batch:
        seen = known.get(s.scan_id)
        if seen is None:
            known[s.scan_id] = s
            fresh.append(s)
        elif seen != s:
            return None  # a scan_id again with other content: the log decides, not memory
    if not fresh:
        return UNCHANGED
    t0 = fresh[0].scanned_at
    if tail.lo is not None and t0 < tail.lo:
        return None
    plan = plan_restart(tail.visits, t0)
    if plan.from_time is None:
        if tail.lo is not None or not tail.complete:
            return None
    elif (plan.keep < 1 and not tail.complete) or (
        tail.lo is not None and plan.from_time < tail.lo
    ):
        return None
    scans = tail.scans
    if not scans or _order(fresh[0]) > _order(scans[-1]):
        merged = scans + fresh  # the common case: appended at the tail
    else:
        merged = sorted(scans + fresh, key=_order)
    walked = (
        merged
        if plan.from_time is None
        else merged[bisect_left(merged, plan.from_time, key=_time) :]
    )
    derived = derive(walked, dwell_ms, plan.state)
    return FromMemory(
        tail.visits[plan.keep :],
        derived,
        remembered_tail(tail.visits, tail.complete, plan, derived, walked, tail.ttl_at),
    )


def _order(scan: Scan) -> tuple[int, int, str]:
    return (scan.scanned_at, 0 if scan.direction == "out" else 1, scan.scan_id)


class Tails:
    """Tails of the most recently written persons, least recently written dropped first.

    `generation` grows on every `clear`: a batch that started before a clear does not put back
    what it derived from the memory that was cleared.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.generation = 0
        self._tails: OrderedDict[str, Tail] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tails)

    def take(self, person: str) -> Tail | None:
        """The person's tail, forgotten until `put` back after the batch's writes."""
        return self._tails.pop(person, None)

    def put(self, person: str, tail: Tail, generation: int) -> None:
        if generation != self.generation or self.capacity <= 0:
            return
        tails = self._tails
        tails[person] = tail
        if len(tails) > self.capacity:
            tails.popitem(last=False)

    def clear(self) -> None:
        self._tails.clear()
        self.generation += 1
