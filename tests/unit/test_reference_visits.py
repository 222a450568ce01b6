"""Hand-worked cases for the reference of SPEC section 6 rules 1-3 (scans -> visits)."""

from __future__ import annotations

import random
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.reference.dwell import KIND_DWELL_MINUTES, make_dwell
from tests.reference.model import ClosedBy, Direction, Scan, Venue, Visit
from tests.reference.visits import reference_visits

pytestmark = pytest.mark.unit

T0 = 1_621_209_600_000  # 2021-05-17T00:00:00Z
MIN = 60_000

# cafe: 60 min, shop: 30 min, office: 480 min; anything else: 60 min.
DWELL = {"cafe": 60, "shop": 30, "office": 480}


def dwell(venue_id: str) -> int:
    return DWELL.get(venue_id, 60)


def at(minutes: float) -> int:
    return T0 + round(minutes * MIN)


def scan(
    scan_id: str, direction: Direction, venue_id: str, minutes: float, person: str = "p"
) -> Scan:
    return Scan(scan_id, person, venue_id, direction, at(minutes))


def v(venue_id: str, start: float, end: float, closed_by: ClosedBy, person: str = "p") -> Visit:
    return Visit(person, venue_id, at(start), at(end), closed_by)


def visits_of(*scans: Scan) -> list[Visit]:
    result = reference_visits(scans, dwell)
    return result.get("p", [])


# --- rule 3: the last open visit ---------------------------------------------------------------


def test_single_in_ends_at_dwell() -> None:
    assert visits_of(scan("1", "in", "cafe", 0)) == [v("cafe", 0, 60, "dwell")]


def test_no_scans_no_visits() -> None:
    assert reference_visits([], dwell) == {}


# --- rule 1: double scans and in-then-in ---------------------------------------------------------


def test_double_scan_within_dwell_is_ignored() -> None:
    got = visits_of(scan("1", "in", "cafe", 0), scan("2", "in", "cafe", 30))
    assert got == [v("cafe", 0, 60, "dwell")]


def test_double_scan_one_ms_before_dwell_end_is_ignored() -> None:
    got = visits_of(scan("1", "in", "cafe", 0), scan("2", "in", "cafe", 60 - 1 / MIN))
    assert got == [v("cafe", 0, 60, "dwell")]


def test_in_again_exactly_at_dwell_end_opens_a_new_visit() -> None:
    # t == start + dwell is not "before": the first visit closes by dwell, a new one opens.
    got = visits_of(scan("1", "in", "cafe", 0), scan("2", "in", "cafe", 60))
    assert got == [v("cafe", 0, 60, "dwell"), v("cafe", 60, 120, "dwell")]


def test_double_scan_window_counts_from_first_in_not_the_ignored_one() -> None:
    got = visits_of(
        scan("1", "in", "cafe", 0), scan("2", "in", "cafe", 50), scan("3", "in", "cafe", 70)
    )
    assert got == [v("cafe", 0, 60, "dwell"), v("cafe", 70, 130, "dwell")]


def test_in_elsewhere_before_dwell_closes_by_next_in() -> None:
    got = visits_of(scan("1", "in", "cafe", 0), scan("2", "in", "shop", 20))
    assert got == [v("cafe", 0, 20, "next_in"), v("shop", 20, 50, "dwell")]


def test_in_elsewhere_after_dwell_closes_by_dwell() -> None:
    got = visits_of(scan("1", "in", "cafe", 0), scan("2", "in", "shop", 90))
    assert got == [v("cafe", 0, 60, "dwell"), v("shop", 90, 120, "dwell")]


def test_in_elsewhere_exactly_at_dwell_end_closes_by_dwell() -> None:
    got = visits_of(scan("1", "in", "cafe", 0), scan("2", "in", "shop", 60))
    assert got == [v("cafe", 0, 60, "dwell"), v("shop", 60, 90, "dwell")]


def test_in_elsewhere_uses_the_dwell_of_the_open_visit_venue() -> None:
    # The open shop visit (30 min) is closed by dwell at 30 even though cafe's dwell is 60.
    got = visits_of(scan("1", "in", "shop", 0), scan("2", "in", "cafe", 40))
    assert got == [v("shop", 0, 30, "dwell"), v("cafe", 40, 100, "dwell")]


# --- rule 2: out at the open visit's venue ---------------------------------------------------


def test_out_at_same_venue_closes_by_out() -> None:
    got = visits_of(scan("1", "in", "cafe", 0), scan("2", "out", "cafe", 45))
    assert got == [v("cafe", 0, 45, "out")]


def test_out_at_same_venue_long_after_dwell_still_closes_the_open_visit() -> None:
    got = visits_of(scan("1", "in", "cafe", 0), scan("2", "out", "cafe", 480))
    assert got == [v("cafe", 0, 480, "out")]


def test_out_at_same_venue_exactly_12_hours_later() -> None:
    got = visits_of(scan("1", "in", "office", 0), scan("2", "out", "office", 720))
    assert got == [v("office", 0, 720, "out")]


def test_out_at_same_venue_is_capped_at_12_hours() -> None:
    got = visits_of(scan("1", "in", "office", 0), scan("2", "out", "office", 780))
    assert got == [v("office", 0, 720, "out")]


def test_in_after_out_at_same_venue_opens_a_new_visit() -> None:
    got = visits_of(
        scan("1", "in", "cafe", 0), scan("2", "out", "cafe", 10), scan("3", "in", "cafe", 20)
    )
    assert got == [v("cafe", 0, 10, "out"), v("cafe", 20, 80, "dwell")]


# --- rule 2: out-only ----------------------------------------------------------------------


def test_out_only_without_previous_visit_starts_dwell_before() -> None:
    assert visits_of(scan("1", "out", "cafe", 100)) == [v("cafe", 40, 100, "out_only")]


def test_out_only_after_a_visit_closed_by_out_starts_at_its_end() -> None:
    got = visits_of(
        scan("1", "in", "shop", 0), scan("2", "out", "shop", 20), scan("3", "out", "cafe", 50)
    )
    assert got == [v("shop", 0, 20, "out"), v("cafe", 20, 50, "out_only")]


def test_out_only_after_a_long_past_visit_starts_dwell_before() -> None:
    got = visits_of(
        scan("1", "in", "cafe", 0), scan("2", "out", "cafe", 30), scan("3", "out", "shop", 200)
    )
    assert got == [v("cafe", 0, 30, "out"), v("shop", 170, 200, "out_only")]


def test_out_elsewhere_closes_open_visit_by_dwell_then_out_only() -> None:
    # Open shop visit (dwell 30) closed at 30 by dwell; cafe from max(50 - 60, 30) = 30.
    got = visits_of(scan("1", "in", "shop", 0), scan("2", "out", "cafe", 50))
    assert got == [v("shop", 0, 30, "dwell"), v("cafe", 30, 50, "out_only")]


def test_out_elsewhere_before_dwell_closes_by_next_in_and_gives_zero_length_out_only() -> None:
    # "close any open visit as in rule 1": closed_by is next_in, even though the scan is an out.
    got = visits_of(scan("1", "in", "shop", 0), scan("2", "out", "cafe", 20))
    assert got == [v("shop", 0, 20, "next_in"), v("cafe", 20, 20, "out_only")]


def test_out_elsewhere_long_after_dwell() -> None:
    got = visits_of(scan("1", "in", "shop", 0), scan("2", "out", "cafe", 100))
    assert got == [v("shop", 0, 30, "dwell"), v("cafe", 40, 100, "out_only")]


def test_two_out_only_in_a_row_chain() -> None:
    got = visits_of(scan("1", "out", "cafe", 100), scan("2", "out", "cafe", 130))
    assert got == [v("cafe", 40, 100, "out_only"), v("cafe", 100, 130, "out_only")]


def test_two_outs_at_the_same_instant_second_is_zero_length() -> None:
    got = visits_of(scan("1", "out", "cafe", 100), scan("2", "out", "cafe", 100))
    assert got == [v("cafe", 40, 100, "out_only"), v("cafe", 100, 100, "out_only")]


def test_in_after_out_only_opens_a_visit() -> None:
    got = visits_of(scan("1", "out", "cafe", 100), scan("2", "in", "shop", 110))
    assert got == [v("cafe", 40, 100, "out_only"), v("shop", 110, 140, "dwell")]


# --- ordering and ties ----------------------------------------------------------------------


def test_tie_out_before_in() -> None:
    # Both at 30: the out is walked first and closes the cafe visit; then the shop opens.
    got = visits_of(
        scan("1", "in", "cafe", 0), scan("a", "in", "shop", 30), scan("b", "out", "cafe", 30)
    )
    assert got == [v("cafe", 0, 30, "out"), v("shop", 30, 60, "dwell")]


def test_tie_between_two_ins_by_scan_id() -> None:
    # "a" (shop) first, then "b" (cafe) closes it at 0 by next_in; sorted by start then venue.
    got = visits_of(scan("b", "in", "cafe", 0), scan("a", "in", "shop", 0))
    assert got == [v("cafe", 0, 60, "dwell"), v("shop", 0, 0, "next_in")]


def test_tie_between_two_ins_by_scan_id_other_way() -> None:
    got = visits_of(scan("a", "in", "cafe", 0), scan("b", "in", "shop", 0))
    assert got == [v("cafe", 0, 0, "next_in"), v("shop", 0, 30, "dwell")]


def test_arrival_order_does_not_matter() -> None:
    scans = [
        scan("1", "in", "cafe", 0),
        scan("2", "in", "shop", 20),
        scan("3", "out", "shop", 40),
        scan("4", "out", "cafe", 100),
    ]
    expected = [
        v("cafe", 0, 20, "next_in"),
        v("shop", 20, 40, "out"),
        v("cafe", 40, 100, "out_only"),
    ]
    assert visits_of(*scans) == expected
    assert visits_of(*reversed(scans)) == expected


def test_duplicate_scan_ids_are_dropped() -> None:
    once = visits_of(scan("1", "in", "cafe", 0), scan("2", "out", "cafe", 45))
    twice = visits_of(
        scan("2", "out", "cafe", 45),
        scan("1", "in", "cafe", 0),
        scan("2", "out", "cafe", 45),
        scan("1", "in", "cafe", 0),
    )
    assert once == twice == [v("cafe", 0, 45, "out")]


def test_duplicate_scan_id_first_seen_wins() -> None:
    # Not expected in practice (a scan_id is one scan); the reference keeps the first.
    got = visits_of(scan("1", "in", "cafe", 0), scan("1", "in", "shop", 5))
    assert got == [v("cafe", 0, 60, "dwell")]


def test_persons_are_walked_separately() -> None:
    result = reference_visits(
        [
            scan("1", "in", "cafe", 0, person="a"),
            scan("2", "in", "shop", 10, person="b"),
            scan("3", "out", "cafe", 20, person="b"),
        ],
        dwell,
    )
    assert result == {
        "a": [v("cafe", 0, 60, "dwell", person="a")],
        "b": [v("shop", 10, 20, "next_in", person="b"), v("cafe", 20, 20, "out_only", "b")],
    }


# --- dwell(v) -------------------------------------------------------------------------------


def test_dwell_venue_value_then_kind_then_60() -> None:
    venues = [
        Venue("own", "u", "shop", 25, registered_at=0),
        Venue("kind", "u", "school", None, registered_at=0),
        Venue("other", "u", "other", None, registered_at=0),
        Venue("odd", "u", "spaceport", None, registered_at=0),
    ]
    d = make_dwell(venues)
    assert (d("own"), d("kind"), d("other"), d("odd"), d("missing")) == (25, 420, 60, 60, 60)


def test_kind_table() -> None:
    assert KIND_DWELL_MINUTES == {
        "office": 480,
        "public_service": 60,
        "hospital": 120,
        "clinic": 60,
        "school": 420,
        "factory": 480,
        "shop": 30,
        "market": 60,
        "restaurant": 60,
        "cafe": 60,
        "transport": 45,
        "quarantine_facility": 1440,
        "other": 60,
    }


# --- invariants of the reference itself ------------------------------------------------------

SCANS = st.lists(
    st.builds(
        Scan,
        scan_id=st.sampled_from("abcdefghij"),
        person_id=st.sampled_from(["p", "q"]),
        venue_id=st.sampled_from(["cafe", "shop", "office"]),
        direction=st.sampled_from(["in", "out"]),
        scanned_at=st.integers(T0, T0 + 900 * MIN),
    ),
    max_size=12,
)


@given(SCANS, st.randoms(use_true_random=False))
def test_walk_is_order_independent_and_visits_do_not_overlap(
    scans: list[Scan], rng: random.Random
) -> None:
    # Repeated scan_ids with different content are outside the contract: keep the first of each.
    unique = list({sc.scan_id: sc for sc in reversed(scans)}.values())
    result = reference_visits(unique, dwell)
    shuffled = list(unique)
    rng.shuffle(shuffled)
    assert reference_visits(shuffled, dwell) == result
    for person_visits in result.values():
        for visit in person_visits:
            assert visit.start <= visit.end <= visit.start + 720 * MIN
        # Sorted by (start, end), not the output's (start, venue, end), for zero-length visits.
        for before, after in pairwise(sorted(person_visits, key=lambda x: (x.start, x.end))):
            assert before.end <= after.start
