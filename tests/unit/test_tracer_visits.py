"""The pure visit walk: SPEC section 6 examples and the incremental restart against a full walk."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scantrace_tracer.visits import (
    OUT_CAP_MS,
    Scan,
    Visit,
    derive,
    numbered,
    ordered_unique,
    plan_restart,
)

MIN = 60_000
DWELL = {"a": 60 * MIN, "b": 30 * MIN, "c": 480 * MIN}


def dwell(venue: str) -> int:
    return DWELL.get(venue, 60 * MIN)


def scan(direction: str, venue: str, minute: int, sid: str | None = None) -> Scan:
    return Scan(sid or str(uuid.uuid4()), venue, direction, minute * MIN)  # type: ignore[arg-type]


pytestmark = pytest.mark.unit


def test_in_then_out_is_one_visit() -> None:
    got = derive(ordered_unique([scan("in", "a", 0), scan("out", "a", 20)]), dwell)
    assert got.visits == [Visit("a", 0, 20 * MIN, "out")]
    assert not got.trailing_open


def test_double_scan_ignored_and_dwell_closes() -> None:
    scans = [scan("in", "a", 0), scan("in", "a", 10), scan("in", "b", 90)]
    got = derive(ordered_unique(scans), dwell)
    assert got.visits == [
        Visit("a", 0, 60 * MIN, "dwell"),
        Visit("b", 90 * MIN, 120 * MIN, "dwell"),
    ]
    assert got.trailing_open


def test_next_in_and_out_only_after_previous_end() -> None:
    scans = [scan("in", "a", 0), scan("in", "b", 10), scan("out", "c", 20)]
    got = derive(ordered_unique(scans), dwell)
    assert got.visits == [
        Visit("a", 0, 10 * MIN, "next_in"),
        Visit("b", 10 * MIN, 20 * MIN, "next_in"),
        Visit("c", 20 * MIN, 20 * MIN, "out_only"),
    ]


def test_out_capped_at_twelve_hours() -> None:
    got = derive(ordered_unique([scan("in", "c", 0), scan("out", "c", 13 * 60)]), dwell)
    assert got.visits == [Visit("c", 0, OUT_CAP_MS, "out")]


def test_ties_out_before_in() -> None:
    scans = [scan("in", "b", 30), scan("in", "a", 0), scan("out", "a", 30)]
    got = derive(ordered_unique(scans), dwell)
    assert got.visits[0] == Visit("a", 0, 30 * MIN, "out")


def test_numbered_counts_identical_visits() -> None:
    v = Visit("a", 1, 1, "out_only")
    assert numbered([v, v, Visit("a", 2, 2, "out_only")]) == [
        (v, 0),
        (v, 1),
        (Visit("a", 2, 2, "out_only"), 0),
    ]


scan_strategy = st.builds(
    lambda d, v, m, i: Scan(f"00000000-0000-4000-8000-{i:012d}", v, d, m * MIN),
    st.sampled_from(["in", "out"]),
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 24 * 60),
    st.integers(0, 10_000),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(scan_strategy, max_size=25), st.integers(0, 24 * 60 + 1), st.data())
def test_restart_equals_full_walk(scans: list[Scan], cut_minute: int, data: st.DataObject) -> None:
    everything = ordered_unique(scans)
    t0 = cut_minute * MIN
    late = [s for s in everything if s.scanned_at >= t0]
    new = set(data.draw(st.lists(st.sampled_from(late), unique=True)) if late else [])
    old_scans = [s for s in everything if s not in new]
    full = derive(everything, dwell).visits
    old = derive(old_scans, dwell).visits
    earliest = min((s.scanned_at for s in new), default=t0)
    restart = plan_restart(old, earliest)
    tail_scans = [
        s for s in everything if restart.from_time is None or s.scanned_at >= restart.from_time
    ]
    again = old[: restart.keep] + derive(tail_scans, dwell, restart.state).visits
    assert again == full
