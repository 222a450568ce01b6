"""SPEC section 6 visit rules as pure functions: the walk over one person's scans, and where to
restart it when new scans arrive, so that only the affected tail of the visits is derived again.

Times are epoch milliseconds. Scans are ordered by (scanned_at, `out` before `in`, scan_id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Final, Literal, NamedTuple

ClosedBy = Literal["next_in", "dwell", "out", "out_only"]
Direction = Literal["in", "out"]

#: An `out` closes its visit at most this long after the visit's start (rule 2).
OUT_CAP_MS: Final = 12 * 3600 * 1000
MINUTE_MS: Final = 60_000
#: No visit is longer: an `out` closes at most 12 h after the start, dwell(v) is at most
#: 1440 minutes (the venue schema's bound). Reads of visits overlapping a time use it.
MAX_VISIT_MS: Final = max(OUT_CAP_MS, 1440 * MINUTE_MS)


class Scan(NamedTuple):
    # NamedTuples (not dataclasses) for the hot types: hashing and comparing them is done in C,
    # which the ingest does for every visit it diffs, and building one is cheaper than a frozen
    # dataclass (whose __init__ goes through object.__setattr__ per field).
    scan_id: str
    venue_id: str
    direction: Direction
    scanned_at: int

    @property
    def order_key(self) -> tuple[int, int, str]:
        return (self.scanned_at, 0 if self.direction == "out" else 1, self.scan_id)


class Visit(NamedTuple):
    venue_id: str
    start: int
    end: int
    closed_by: ClosedBy

    @property
    def opened_at(self) -> int:
        """Time of the scan that created this visit: an `in` at its start, an `out` at its end."""
        return self.end if self.closed_by == "out_only" else self.start


class WalkState(NamedTuple):
    """The walk between two scans: the open visit, if any, and the end of the last recorded one."""

    open_venue: str | None = None
    open_start: int = 0
    prev_end: int | None = None


class Derived(NamedTuple):
    visits: list[Visit]
    #: True when the last visit was still open after the last scan (rule 3).
    trailing_open: bool


DwellMs = Callable[[str], int]


def ordered_unique(scans: Iterable[Scan]) -> list[Scan]:
    """Scans in walk order with repeated scan_ids dropped (the first in walk order stays)."""
    seen: set[str] = set()
    out: list[Scan] = []
    for scan in sorted(scans, key=lambda s: s.order_key):
        if scan.scan_id not in seen:
            seen.add(scan.scan_id)
            out.append(scan)
    return out


def derive(scans: Sequence[Scan], dwell_ms: DwellMs, state: WalkState | None = None) -> Derived:
    """Walk scans (already in walk order, unique) from `state` and return the visits recorded."""
    st = state or WalkState()
    open_venue, open_start, prev_end = st.open_venue, st.open_start, st.prev_end
    visits: list[Visit] = []
    append = visits.append
    for scan in scans:
        t, v = scan.scanned_at, scan.venue_id
        is_in = scan.direction == "in"
        if is_in:
            if open_venue == v and t < open_start + dwell_ms(v):
                continue  # a double scan
        elif open_venue == v:
            end = min(t, open_start + OUT_CAP_MS)
            append(Visit(v, open_start, end, "out"))
            prev_end, open_venue = end, None
            continue
        if open_venue is not None:
            # rule 1's closing (inline: a nested function would cost a call per visit)
            limit = open_start + dwell_ms(open_venue)
            if t < limit:
                append(Visit(open_venue, open_start, t, "next_in"))
                prev_end = t
            else:
                append(Visit(open_venue, open_start, limit, "dwell"))
                prev_end = limit
            open_venue = None
        if is_in:
            open_venue, open_start = v, t
        else:
            start = t - dwell_ms(v)
            if prev_end is not None and prev_end > start:
                start = prev_end
            append(Visit(v, start, t, "out_only"))
            prev_end = t
    trailing = open_venue is not None
    if open_venue is not None:
        append(Visit(open_venue, open_start, open_start + dwell_ms(open_venue), "dwell"))
    return Derived(visits, trailing)


class Restart(NamedTuple):
    """Keep `visits[:keep]`, walk again every scan with scanned_at >= `from_time` from `state`.

    `from_time` None means the whole scan log, from an empty state.
    """

    keep: int
    from_time: int | None
    state: WalkState


FROM_SCRATCH: Final = Restart(0, None, WalkState())


def plan_restart(visits: Sequence[Visit], earliest_new: int) -> Restart:
    """Where to restart the walk so that scans at `earliest_new` or later are taken into account.

    `visits` are the person's current visits in walk order (consistent with the scans already
    logged). We restart at the opening scan of the last visit opened before `earliest_new`; the
    state just before that moment follows from the visit before it. Visits opened at the same
    millisecond are restarted together, and a visit closed by an `out` capped at 12 h (whose `out`
    time is unknown) moves the restart one visit further back.
    """
    r = len(visits)
    while r > 0 and visits[r - 1].opened_at >= earliest_new:
        r -= 1
    r -= 1  # the last visit opened strictly before earliest_new
    while r > 0:
        t_r = visits[r].opened_at
        while r > 0 and visits[r - 1].opened_at == t_r:
            r -= 1
        if r == 0:
            break
        state = _state_before(visits, r, t_r)
        if state is not None:
            # an open visit is recorded again by the walk, so it is not kept
            return Restart(r - 1 if state.open_venue is not None else r, t_r, state)
        r -= 1
    return FROM_SCRATCH


def _state_before(visits: Sequence[Visit], r: int, t_r: int) -> WalkState | None:
    """The walk state just before the first scan at `t_r`, from the visit before visits[r]."""
    w = visits[r - 1]
    before_w = visits[r - 2].end if r >= 2 else None
    if w.closed_by == "out_only":
        return WalkState(None, 0, w.end)
    if w.closed_by == "out":
        if w.end == w.start + OUT_CAP_MS:
            return None  # the closing `out` came at some unknown time >= end
        if w.end < t_r:
            return WalkState(None, 0, w.end)
        return WalkState(w.venue_id, w.start, before_w)
    # next_in / dwell: closed by the scan that opened visits[r], so still open before t_r
    return WalkState(w.venue_id, w.start, before_w)


def numbered(visits: Iterable[Visit]) -> list[tuple[Visit, int]]:
    """Each visit with how many identical visits came before it, so stored members stay unique."""
    counts: dict[Visit, int] = {}
    out: list[tuple[Visit, int]] = []
    for visit in visits:
        n = counts.get(visit, 0)
        counts[visit] = n + 1
        out.append((visit, n))
    return out
