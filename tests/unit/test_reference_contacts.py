"""Hand-worked cases for the reference of SPEC section 6 contacts and the tracer listings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reference.contacts import (
    reference_exposures,
    reference_occupancy,
    reference_person_visits,
    reference_venue_visits,
)
from tests.reference.dwell import make_dwell
from tests.reference.model import Scan, Venue, Visit
from tests.reference.visits import reference_visits

pytestmark = pytest.mark.unit

T0 = 1_621_209_600_000  # 2021-05-17T00:00:00Z
MIN = 60_000


def at(minutes: float) -> int:
    return T0 + round(minutes * MIN)


def v(person: str, venue_id: str, start: float, end: float) -> Visit:
    return Visit(person, venue_id, at(start), at(end), "dwell")


def enc(venue_id: str, start: float, end: float, minutes: int) -> dict[str, Any]:
    return {"venue_id": venue_id, "start": at(start), "end": at(end), "overlap_minutes": minutes}


def contact(
    person: str, depth: int, via: str | None, total: int, encounters: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "person_id": person,
        "depth": depth,
        "via": via,
        "total_overlap_minutes": total,
        "encounters": encounters,
    }


def contacts_of(
    visits: list[Visit], t1: float, t2: float, min_overlap: int = 15, depth: int = 1
) -> list[dict[str, Any]]:
    result = reference_exposures(visits, "p", at(t1), at(t2), min_overlap, depth)
    assert result["person_id"] == "p"
    assert (result["from"], result["to"]) == (at(t1), at(t2))
    assert (result["min_overlap_minutes"], result["depth"]) == (min_overlap, depth)
    contacts: list[dict[str, Any]] = result["contacts"]
    return contacts


# --- person and venue listings ----------------------------------------------------------------


LISTING = [
    v("p", "cafe", 0, 60),
    v("p", "shop", 60, 90),
    v("p", "cafe", 100, 160),
    v("q", "cafe", 30, 90),
    v("a", "cafe", 30, 40),
    v("q", "shop", 200, 230),
]


def test_person_visits_closed_interval_unclipped() -> None:
    # [60, 100]: the cafe visit ending at 60 and the one starting at 100 both touch it.
    got = reference_person_visits(LISTING, "p", at(60), at(100))
    assert got == [v("p", "cafe", 0, 60), v("p", "shop", 60, 90), v("p", "cafe", 100, 160)]


def test_person_visits_excludes_visits_just_outside() -> None:
    got = reference_person_visits(LISTING, "p", at(60) + 1, at(100) - 1)
    assert got == [v("p", "shop", 60, 90)]


def test_person_visits_accepts_visits_by_person() -> None:
    by_person = {"p": LISTING[:3], "q": [LISTING[3], LISTING[5]], "a": [LISTING[4]]}
    assert reference_person_visits(by_person, "q", at(0), at(1000)) == [
        v("q", "cafe", 30, 90),
        v("q", "shop", 200, 230),
    ]


def test_venue_visits_ordered_by_start_then_person() -> None:
    got = reference_venue_visits(LISTING, "cafe", at(40), at(100))
    assert got == [
        v("p", "cafe", 0, 60),
        v("a", "cafe", 30, 40),
        v("q", "cafe", 30, 90),
        v("p", "cafe", 100, 160),
    ]


def test_occupancy_is_start_inclusive_end_exclusive() -> None:
    visits = [*LISTING, v("z", "cafe", 40, 40)]
    assert reference_occupancy(visits, "cafe", at(30)) == 3  # p, q, a
    assert reference_occupancy(visits, "cafe", at(40)) == 2  # a has ended; z is zero-length
    assert reference_occupancy(visits, "cafe", at(60)) == 1  # p has ended
    assert reference_occupancy(visits, "cafe", at(90)) == 0
    assert reference_occupancy(visits, "shop", at(60)) == 1


# --- depth 1 --------------------------------------------------------------------------------


def test_exactly_min_overlap_counts_and_one_ms_less_does_not() -> None:
    visits = [
        v("p", "cafe", 0, 60),
        v("q", "cafe", 45, 105),  # 45..60: exactly 15 min
        v("r", "cafe", 45 + 1 / MIN, 100),  # 15 min minus 1 ms
    ]
    assert contacts_of(visits, 0, 1000) == [contact("q", 1, None, 15, [enc("cafe", 45, 60, 15)])]


def test_overlap_minutes_rounded_down() -> None:
    visits = [v("p", "cafe", 0, 60), v("q", "cafe", 39.5, 80)]  # 20.5 min
    assert contacts_of(visits, 0, 1000) == [contact("q", 1, None, 20, [enc("cafe", 39.5, 60, 20)])]


def test_other_venue_or_same_person_is_no_encounter() -> None:
    visits = [v("p", "cafe", 0, 60), v("p", "cafe", 0, 60), v("q", "shop", 0, 60)]
    assert contacts_of(visits, 0, 1000) == []


def test_zero_min_overlap_counts_touching_but_not_disjoint_visits() -> None:
    visits = [v("p", "cafe", 0, 60), v("q", "cafe", 60, 90), v("r", "cafe", 61, 90)]
    assert contacts_of(visits, 0, 1000, min_overlap=0) == [
        contact("q", 1, None, 0, [enc("cafe", 60, 60, 0)])
    ]


def test_p_visits_are_clipped_to_the_window_but_others_are_not() -> None:
    visits = [
        v("p", "cafe", 0, 120),
        v("q", "cafe", 0, 70),  # 60..70 after clipping to [60, 100]: 10 min, no contact
        v("r", "cafe", 0, 90),  # 60..90: 30 min
        v("s", "cafe", 80, 200),  # 80..100: 20 min (P clipped at 100)
        v("t", "cafe", 101, 130),  # after the window
    ]
    assert contacts_of(visits, 60, 100) == [
        contact("r", 1, None, 30, [enc("cafe", 60, 90, 30)]),
        contact("s", 1, None, 20, [enc("cafe", 80, 100, 20)]),
    ]


def test_p_visit_outside_window_gives_nothing() -> None:
    visits = [v("p", "cafe", 0, 60), v("q", "cafe", 0, 60)]
    assert contacts_of(visits, 61, 1000) == []


def test_p_visit_touching_window_clips_to_zero_length() -> None:
    # P's visit ends at T1 exactly: clipped to [60, 60], only an encounter when min is 0.
    visits = [v("p", "cafe", 0, 60), v("q", "cafe", 0, 90)]
    assert contacts_of(visits, 60, 1000) == []
    assert contacts_of(visits, 60, 1000, min_overlap=0) == [
        contact("q", 1, None, 0, [enc("cafe", 60, 60, 0)])
    ]


def test_contacts_ordered_by_total_desc_then_person_and_encounters_summed() -> None:
    visits = [
        v("p", "cafe", 0, 60),
        v("p", "shop", 100, 130),
        v("b", "cafe", 0, 20),  # 20
        v("b", "shop", 100, 125),  # 25 -> total 45
        v("c", "cafe", 0, 45),  # 45
        v("a", "shop", 100, 120),  # 20
    ]
    assert contacts_of(visits, 0, 1000) == [
        contact("b", 1, None, 45, [enc("cafe", 0, 20, 20), enc("shop", 100, 125, 25)]),
        contact("c", 1, None, 45, [enc("cafe", 0, 45, 45)]),
        contact("a", 1, None, 20, [enc("shop", 100, 120, 20)]),
    ]


def test_encounters_ordered_by_start_then_venue() -> None:
    visits = [
        v("p", "shop", 0, 60),
        v(
            "p", "cafe", 0, 60
        ),  # overlapping P visits are not produced by rules 1-3 but allowed here
        v("q", "shop", 0, 30),
        v("q", "cafe", 0, 20),
        v("q", "cafe", 40, 60),
    ]
    assert contacts_of(visits, 0, 1000) == [
        contact(
            "q",
            1,
            None,
            70,
            [enc("cafe", 0, 20, 20), enc("shop", 0, 30, 30), enc("cafe", 40, 60, 20)],
        )
    ]


def test_one_encounter_per_pair_of_visits() -> None:
    visits = [v("p", "cafe", 0, 60), v("q", "cafe", 0, 20), v("q", "cafe", 20, 40)]
    assert contacts_of(visits, 0, 1000) == [
        contact("q", 1, None, 40, [enc("cafe", 0, 20, 20), enc("cafe", 20, 40, 20)])
    ]


# --- depth 2 --------------------------------------------------------------------------------


DEPTH2 = [
    # P meets c1 (0..60) and c2 (30..60) at the cafe; c1 and c2 also meet each other there.
    v("p", "cafe", 0, 60),
    v("c1", "cafe", 0, 60),
    v("c2", "cafe", 30, 90),
    # c2 met r before its encounter with P started (s = 30): not a depth-2 encounter.
    v("c2", "market", -60, 0),
    v("r", "market", -60, 0),
    # q meets c1 and c2 at the shop at the same time: via tie -> the smaller id, c1.
    v("c1", "shop", 100, 160),
    v("c2", "shop", 100, 160),
    v("q", "shop", 100, 130),
    # q2 meets c2 first (200), then c1 (230): via c2 although c1 < c2.
    v("c2", "restaurant", 200, 260),
    v("c1", "restaurant", 230, 290),
    v("q2", "restaurant", 200, 300),
    # x meets c1 after T2 = 400: c1's visits are clipped to [s, T2].
    v("c1", "bar", 390, 500),
    v("x", "bar", 390, 500),
]


def test_depth_2_contacts_via_and_exclusions() -> None:
    assert contacts_of(DEPTH2, 0, 400, depth=2) == [
        contact("c1", 1, None, 60, [enc("cafe", 0, 60, 60)]),
        contact("c2", 1, None, 30, [enc("cafe", 30, 60, 30)]),
        contact(
            "q2",
            2,
            "c2",
            120,
            [enc("restaurant", 200, 260, 60), enc("restaurant", 230, 290, 60)],
        ),
        contact("q", 2, "c1", 60, [enc("shop", 100, 130, 30), enc("shop", 100, 130, 30)]),
    ]


def test_depth_2_clip_at_t2_can_drop_an_encounter() -> None:
    # With T2 = 400, c1 and x share only 390..400 (10 min); with T2 = 500, 110 min.
    got = contacts_of(DEPTH2, 0, 500, depth=2)
    assert contact("x", 2, "c1", 110, [enc("bar", 390, 500, 110)]) in got


def test_depth_1_query_ignores_depth_2() -> None:
    assert contacts_of(DEPTH2, 0, 400, depth=1) == [
        contact("c1", 1, None, 60, [enc("cafe", 0, 60, 60)]),
        contact("c2", 1, None, 30, [enc("cafe", 30, 60, 30)]),
    ]


def test_p_is_never_a_depth_2_contact() -> None:
    visits = [
        v("p", "cafe", 0, 60),
        v("c", "cafe", 0, 60),
        v("c", "shop", 100, 160),
        v("p", "shop", 100, 160),  # also a depth-1 encounter with c
    ]
    assert contacts_of(visits, 0, 1000, depth=2) == [
        contact("c", 1, None, 120, [enc("cafe", 0, 60, 60), enc("shop", 100, 160, 60)])
    ]


def test_depth_2_starts_at_the_earliest_encounter_with_p() -> None:
    visits = [
        v("p", "cafe", 0, 60),
        v("p", "cafe", 200, 260),
        v("c", "cafe", 20, 60),  # earliest encounter with P starts at 20
        v("c", "cafe", 200, 260),
        v("q", "cafe", 0, 40),  # c's visit clipped to [20, T2]: 20..40, 20 min
    ]
    assert contacts_of(visits, 0, 1000, depth=2) == [
        contact("c", 1, None, 100, [enc("cafe", 20, 60, 40), enc("cafe", 200, 260, 60)]),
        # q is also a depth-1 contact of p (0..40, 40 min), so it is not depth 2.
        contact("q", 1, None, 40, [enc("cafe", 0, 40, 40)]),
    ]


def test_depth_2_clip_from_s() -> None:
    visits = [
        v("p", "shop", 20, 60),
        v("c", "cafe", 0, 60),
        v("c", "shop", 20, 60),  # s = 20
        v("q", "cafe", 0, 30),  # c's cafe visit clipped to [20, T2]: 20..30, 10 min: no
        v("r", "cafe", 0, 40),  # 20..40: 20 min
    ]
    assert contacts_of(visits, 0, 1000, depth=2) == [
        contact("c", 1, None, 40, [enc("shop", 20, 60, 40)]),
        contact("r", 2, "c", 20, [enc("cafe", 20, 40, 20)]),
    ]


def test_invalid_depth_is_refused() -> None:
    with pytest.raises(ValueError, match="depth"):
        reference_exposures([], "p", at(0), at(1), 15, 3)


def test_from_scans_to_exposures() -> None:
    # P: in cafe 0, out cafe 45 -> cafe 0..45 (out).
    # Q: in cafe 30, in cafe 40 (double scan), in shop 50 -> cafe 30..50 (next_in), shop 50..80.
    scans = [
        Scan("1", "p", "cafe", "in", at(0)),
        Scan("2", "p", "cafe", "out", at(45)),
        Scan("3", "q", "cafe", "in", at(30)),
        Scan("4", "q", "cafe", "in", at(40)),
        Scan("5", "q", "shop", "in", at(50)),
    ]
    by_person = reference_visits(scans, make_dwell([Venue("shop", "u", "shop", None, 0)]))
    assert by_person["q"] == [
        Visit("q", "cafe", at(30), at(50), "next_in"),
        Visit("q", "shop", at(50), at(80), "dwell"),
    ]
    result = reference_exposures(by_person, "p", at(0), at(1000))
    assert result["contacts"] == [contact("q", 1, None, 15, [enc("cafe", 30, 45, 15)])]
