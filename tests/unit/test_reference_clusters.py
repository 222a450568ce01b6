"""Hand-worked cases for the reference of SPEC section 11 clusters."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reference.clusters import Case, reference_cluster_status, reference_clusters
from tests.reference.model import Visit

pytestmark = pytest.mark.unit

T0 = 1_621_209_600_000  # 2021-05-17T00:00:00Z
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


def at(hours: float) -> int:
    return T0 + round(hours * HOUR)


def case(case_id: str, person: str, start: float = -24, end: float = 72) -> Case:
    return Case(case_id, person, at(start), at(end))


def v(person: str, venue_id: str, start: float, end: float) -> Visit:
    return Visit(person, venue_id, at(start), at(end), "dwell")


def cluster(venue_id: str, start: int, end: int, cases: list[str]) -> dict[str, Any]:
    return {
        "cluster_id": f"{venue_id}@20210517T{start:02d}Z",
        "venue_id": venue_id,
        "start": at(start),
        "end": at(end),
        "cases": cases,
    }


CASES = [case("c1", "a"), case("c2", "b"), case("c3", "c"), case("c4", "d")]


def test_three_cases_in_two_hours_make_one_cluster() -> None:
    visits = [v("a", "cafe", 8.5, 9.5), v("b", "cafe", 8.5, 9.5), v("c", "cafe", 8.5, 9.5)]
    assert reference_clusters(CASES, visits, {}, {}) == [cluster("cafe", 8, 10, ["c1", "c2", "c3"])]


def test_two_cases_are_no_cluster_at_the_default_threshold() -> None:
    visits = [v("a", "cafe", 8, 9), v("b", "cafe", 8, 9)]
    assert reference_clusters(CASES, visits, {}, {}) == []


def test_a_visit_ending_on_the_hour_is_not_in_the_next_hour() -> None:
    visits = [v("a", "cafe", 8, 9), v("b", "cafe", 8.5, 9.5), v("c", "cafe", 8.5, 9.5)]
    assert reference_clusters(CASES, visits, {}, {}) == [cluster("cafe", 8, 9, ["c1", "c2", "c3"])]


def test_a_visit_starting_on_the_hour_is_not_in_the_hour_before() -> None:
    visits = [v("a", "cafe", 9, 10), v("b", "cafe", 8.5, 9.5), v("c", "cafe", 8.5, 9.5)]
    assert reference_clusters(CASES, visits, {}, {}) == [cluster("cafe", 9, 10, ["c1", "c2", "c3"])]


def test_one_millisecond_inside_the_hour_counts() -> None:
    visits = [
        Visit("a", "cafe", at(8), at(9) + 1, "dwell"),
        v("b", "cafe", 8.5, 9.5),
        v("c", "cafe", 8.5, 9.5),
    ]
    assert reference_clusters(CASES, visits, {}, {}) == [cluster("cafe", 8, 10, ["c1", "c2", "c3"])]


def test_the_infectious_period_clips_the_visit() -> None:
    cases = [case("c1", "a", start=9), case("c2", "b", end=9), case("c3", "c")]
    visits = [v("a", "cafe", 8, 10), v("b", "cafe", 8, 10), v("c", "cafe", 8, 10)]
    # a counts from 09:00 only, b until 09:00 only: two cases in each hour.
    assert reference_clusters(cases, visits, {}, {}) == []
    assert reference_clusters(cases, visits, {"cafe": "cafe"}, {"cafe": 2}) == [
        cluster("cafe", 8, 10, ["c1", "c2", "c3"])
    ]


def test_a_visit_outside_the_infectious_period_does_not_count() -> None:
    cases = [case("c1", "a", start=10), case("c2", "b"), case("c3", "c")]
    visits = [v("a", "cafe", 8, 10), v("b", "cafe", 8, 10), v("c", "cafe", 8, 10)]
    assert reference_clusters(cases, visits, {}, {}) == []


def test_zero_length_visits_do_not_count() -> None:
    visits = [v("a", "cafe", 8.5, 8.5), v("b", "cafe", 8, 9), v("c", "cafe", 8, 9)]
    assert reference_clusters(CASES, visits, {}, {}) == []


def test_one_case_with_two_visits_in_an_hour_counts_once() -> None:
    visits = [v("a", "cafe", 8, 8.2), v("a", "cafe", 8.5, 8.7), v("b", "cafe", 8, 9)]
    assert reference_clusters(CASES, visits, {}, {}) == []


def test_two_cases_of_one_person_are_two_cases() -> None:
    cases = [case("c1", "a"), case("c1b", "a"), case("c2", "b")]
    visits = [v("a", "cafe", 8, 9), v("b", "cafe", 8, 9)]
    assert reference_clusters(cases, visits, {}, {}) == [cluster("cafe", 8, 9, ["c1", "c1b", "c2"])]


def test_visits_of_persons_without_a_case_are_ignored() -> None:
    visits = [v("a", "cafe", 8, 9), v("b", "cafe", 8, 9), v("x", "cafe", 8, 9)]
    assert reference_clusters(CASES, visits, {}, {}) == []


def test_other_venues_do_not_add_up() -> None:
    visits = [v("a", "cafe", 8, 9), v("b", "cafe", 8, 9), v("c", "shop", 8, 9)]
    assert reference_clusters(CASES, visits, {}, {}) == []


def test_cases_lists_every_case_of_every_hour() -> None:
    visits = [
        v("a", "cafe", 8, 9),
        v("b", "cafe", 8, 10),
        v("c", "cafe", 8, 10),
        v("d", "cafe", 9, 10),
    ]
    assert reference_clusters(CASES, visits, {}, {}) == [
        cluster("cafe", 8, 10, ["c1", "c2", "c3", "c4"])
    ]


def test_a_gap_splits_and_a_late_case_merges() -> None:
    visits = [
        v("a", "cafe", 8, 11),
        v("b", "cafe", 8, 11),
        v("c", "cafe", 8, 9),
        v("c", "cafe", 10, 11),
        v("d", "cafe", 9, 10),
    ]
    assert reference_clusters(CASES[:3], visits, {}, {}) == [
        cluster("cafe", 8, 9, ["c1", "c2", "c3"]),
        cluster("cafe", 10, 11, ["c1", "c2", "c3"]),
    ]
    assert reference_clusters(CASES, visits, {}, {}) == [
        cluster("cafe", 8, 11, ["c1", "c2", "c3", "c4"])
    ]


def test_thresholds_per_kind() -> None:
    visits = [v("a", "ward", 8, 9), v("b", "ward", 8, 9), v("a", "cafe", 10, 11)]
    visits += [v("b", "cafe", 10, 11)]
    kinds = {"ward": "hospital", "cafe": "cafe"}
    assert reference_clusters(CASES, visits, kinds, {"hospital": 2}) == [
        cluster("ward", 8, 9, ["c1", "c2"])
    ]
    assert reference_clusters(CASES, visits, kinds, {"hospital": 2, "cafe": 1}) == [
        cluster("cafe", 10, 11, ["c1", "c2"]),
        cluster("ward", 8, 9, ["c1", "c2"]),
    ]


def test_an_hour_crossing_midnight_utc_keeps_one_cluster() -> None:
    visits = [v(p, "bus", 23.5, 24.5) for p in "abc"]
    assert reference_clusters(CASES, visits, {}, {}) == [
        {
            "cluster_id": "bus@20210517T23Z",
            "venue_id": "bus",
            "start": at(23),
            "end": at(25),
            "cases": ["c1", "c2", "c3"],
        }
    ]


def test_status_is_open_for_fourteen_days_after_the_end() -> None:
    end = at(10)
    assert reference_cluster_status(end, end) == "open"
    assert reference_cluster_status(end, end + 14 * DAY - 1) == "open"
    assert reference_cluster_status(end, end + 14 * DAY) == "closed"
    assert reference_cluster_status(end, end + 2 * DAY, open_days=2) == "closed"
