"""The pure clusters of SPEC section 11 against the brute-force reference, and their parts."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scantrace_common.events import ClustersEvent, decode, encode
from scantrace_tracer.clusters import (
    Case,
    CaseVisit,
    Cluster,
    Presence,
    ThresholdsError,
    cluster_hours,
    cluster_id,
    cluster_status,
    clusters,
    clusters_event,
    parse_cluster_id,
    parse_thresholds,
    presences_by_venue,
    recompute_venue,
    resolve,
    threshold,
    venue_clusters,
    venues_touched,
)
from tests.reference import clusters as ref
from tests.reference.model import Visit

pytestmark = pytest.mark.unit

T0 = 1_621_209_600_000  # 2021-05-17T00:00:00Z
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR


# --- thresholds ------------------------------------------------------------------------------


def test_thresholds_parse() -> None:
    assert parse_thresholds("") == {}
    assert parse_thresholds("  ") == {}
    assert parse_thresholds("hospital=2, market = 5,cafe=1") == {
        "hospital": 2,
        "market": 5,
        "cafe": 1,
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("hospital", r"item 1 \('hospital'\): expected kind=n"),
        ("hospital=2,", r"item 2 \(''\): expected kind=n"),
        ("=2", "expected kind=n"),
        ("hospital=", "expected kind=n"),
        ("hospitl=2", "unknown venue kind 'hospitl'"),
        ("cafe=2,cafe=3", r"item 2 .*cafe is given twice"),
        ("cafe=0", "integer >= 1"),
        ("cafe=-1", "integer >= 1"),
        ("cafe=2.5", "integer >= 1"),
        ("cafe=two", "integer >= 1"),
        ("cafe=\u0663", "integer >= 1"),
    ],
)
def test_malformed_thresholds_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ThresholdsError, match=reason):
        parse_thresholds(text)


def test_threshold_defaults_to_three() -> None:
    thresholds = {"hospital": 2}
    assert threshold("hospital", thresholds) == 2
    assert threshold("cafe", thresholds) == 3
    assert threshold("a-kind-from-later", thresholds) == 3
    assert threshold(None, thresholds) == 3


# --- hours, ids, status ----------------------------------------------------------------------


def test_hours_share_a_positive_length() -> None:
    presences = [
        Presence("c1", T0 + 8 * HOUR, T0 + 9 * HOUR),  # hour 8 only
        Presence("c2", T0 + 9 * HOUR - 1, T0 + 9 * HOUR + 1),  # hours 8 and 9
        Presence("c3", T0 + 9 * HOUR, T0 + 10 * HOUR),  # hour 9 only
    ]
    assert cluster_hours(presences, 1) == {
        T0 + 8 * HOUR: {"c1", "c2"},
        T0 + 9 * HOUR: {"c2", "c3"},
    }
    assert cluster_hours(presences, 3) == {}


def test_cluster_ids_name_the_venue_and_first_hour() -> None:
    assert cluster_id("dn-bh-cafe-0042", T0 + 8 * HOUR) == "dn-bh-cafe-0042@20210517T08Z"
    assert parse_cluster_id("dn-bh-cafe-0042@20210517T08Z") == ("dn-bh-cafe-0042", T0 + 8 * HOUR)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "cafe",
        "@20210517T08Z",
        "a@b@20210517T08Z",
        "cafe@20210517T08Z\n",
        "cafe@20210517T8Z",
        "cafe@20210517T24Z",
        "cafe@20211317T08Z",
    ],
)
def test_malformed_cluster_ids_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a cluster id"):
        parse_cluster_id(value)


def test_status_open_until_fourteen_days_after_the_end() -> None:
    end = T0 + 10 * HOUR
    assert cluster_status(end, end - DAY) == "open"
    assert cluster_status(end, end + 14 * DAY - 1) == "open"
    assert cluster_status(end, end + 14 * DAY) == "closed"
    assert cluster_status(end, end + 3 * DAY, open_days=3) == "closed"


def test_a_late_case_that_merges_two_clusters_keeps_the_first_id() -> None:
    early = [Presence(c, T0 + 8 * HOUR, T0 + 9 * HOUR) for c in ("c1", "c2", "c3")]
    late = [Presence(c, T0 + 10 * HOUR, T0 + 11 * HOUR) for c in ("c1", "c2", "c3")]
    before = venue_clusters("cafe", early + late, 3)
    assert [c.cluster_id for c in before] == ["cafe@20210517T08Z", "cafe@20210517T10Z"]
    bridge = [Presence(c, T0 + 9 * HOUR, T0 + 10 * HOUR) for c in ("c2", "c3", "c4")]
    after = venue_clusters("cafe", early + late + bridge, 3)
    assert after == [
        Cluster(
            "cafe@20210517T08Z", "cafe", T0 + 8 * HOUR, T0 + 11 * HOUR, ("c1", "c2", "c3", "c4")
        )
    ]
    assert all(resolve(c.cluster_id, after) == after[0] for c in before)
    assert resolve("shop@20210517T08Z", after) is None


def test_expired_visits_keep_the_clusters_last_published() -> None:
    def three(hour: int, *cases: str) -> list[Presence]:
        return [Presence(c, T0 + hour * HOUR, T0 + (hour + 1) * HOUR) for c in cases]

    old = three(8, "c1", "c2", "c3") + three(9, "c1", "c2", "c3")
    previous = venue_clusters("cafe", old, 3)
    # Three weeks later the visits of hours 8 and 9 have expired; a late case c4 at hour 10
    # joins c2 and c3 there: 10 becomes a cluster hour and extends the kept cluster.
    horizon = T0 + 9 * HOUR + 1  # hour 9 may have lost visits too: kept as published
    retained = three(9, "c2") + three(10, "c2", "c3", "c4")
    got = recompute_venue("cafe", retained, 3, previous, horizon)
    assert got == [
        Cluster(
            "cafe@20210517T08Z", "cafe", T0 + 8 * HOUR, T0 + 11 * HOUR, ("c1", "c2", "c3", "c4")
        )
    ]
    assert venue_clusters("cafe", retained, 3) == [
        Cluster("cafe@20210517T10Z", "cafe", T0 + 10 * HOUR, T0 + 11 * HOUR, ("c2", "c3", "c4"))
    ]
    assert recompute_venue("cafe", old, 3, [], 0) == previous


def test_the_event_carries_the_whole_list_and_decodes() -> None:
    cases = ("0b6f5a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d")
    found = [
        Cluster(cluster_id("v-1", T0), "v-1", T0, T0 + HOUR, cases),
        Cluster(
            cluster_id("v-1", T0 + 20 * DAY), "v-1", T0 + 20 * DAY, T0 + 20 * DAY + HOUR, cases
        ),
    ]
    now = T0 + 21 * DAY
    event = decode(ClustersEvent, encode(clusters_event("v-1", found, now)))
    assert (event.venue_id, event.at) == ("v-1", now)
    assert [(c.cluster_id, c.status, c.closes_at) for c in event.clusters] == [
        ("v-1@20210517T00Z", "closed", T0 + HOUR + 14 * DAY),
        ("v-1@20210606T00Z", "open", T0 + 20 * DAY + HOUR + 14 * DAY),
    ]
    assert decode(ClustersEvent, encode(clusters_event("v-1", [], now))).clusters == []


def test_venues_touched_are_those_with_a_presence() -> None:
    case = Case("c1", "a", T0 + 8 * HOUR, T0 + 12 * HOUR)
    visits = [
        CaseVisit("cafe", T0 + 7 * HOUR, T0 + 9 * HOUR),
        CaseVisit("shop", T0 + 12 * HOUR, T0 + 13 * HOUR),  # starts as the period ends
        CaseVisit("bus", T0 + 10 * HOUR, T0 + 10 * HOUR),  # zero length
        CaseVisit("market", T0 + 11 * HOUR, T0 + 14 * HOUR),
    ]
    assert venues_touched(case, visits) == {"cafe", "market"}
    assert presences_by_venue(case, visits)["market"] == [
        Presence("c1", T0 + 11 * HOUR, T0 + 12 * HOUR)
    ]


# --- against the reference -------------------------------------------------------------------

VENUES = {"v1": "cafe", "v2": "hospital", "v3": "market", "v4": "unregistered"}
PERSONS = ["a", "b", "c", "d", "e"]
# Times over eight hours, often on the hour or one millisecond either side of it; infectious
# periods often wider than all of it.
times = st.builds(
    lambda minute, edge: T0 + minute * MIN + edge,
    st.integers(0, 8 * 60) | st.integers(0, 8).map(lambda h: h * 60) | st.sampled_from([150, 180]),
    st.sampled_from([0, 0, 0, -1, 1]),
)
visit_st = st.builds(
    lambda p, venue, start, minutes: Visit(p, venue, start, start + minutes * MIN, "dwell"),
    st.sampled_from(PERSONS),
    st.sampled_from(["v1", "v1", "v1", "v2", "v3", "v4"]),
    times,
    st.integers(0, 180) | st.sampled_from([0, 60, 120]),
)
period = st.tuples(times, times).map(sorted) | st.just([T0 - DAY, T0 + DAY])
case_st = st.builds(
    lambda i, p, ab: ref.Case(f"00000000-0000-4000-8000-{i:012d}", p, ab[0], ab[1]),
    st.integers(0, 7),
    st.sampled_from(PERSONS),
    period,
)
thresholds_st = st.dictionaries(
    st.sampled_from(["cafe", "hospital", "market", "school"]), st.integers(1, 4)
)


def unique_cases(cases: list[ref.Case]) -> list[ref.Case]:
    return list({c.case_id: c for c in cases}.values())


#: cases, visits, thresholds and a random order for them
WORLD = (
    st.lists(case_st, max_size=8).map(unique_cases),
    st.lists(visit_st, min_size=8, max_size=40),
    thresholds_st,
    st.randoms(use_true_random=False),
)


def to_module(
    cases: Iterable[ref.Case], visits: Iterable[Visit]
) -> tuple[list[Case], dict[str, list[CaseVisit]]]:
    by_person: dict[str, list[CaseVisit]] = {}
    for visit in visits:
        by_person.setdefault(visit.person_id, []).append(
            CaseVisit(visit.venue_id, visit.start, visit.end)
        )
    module_cases = [Case(c.case_id, c.person_id, c.infectious_from, c.infectious_to) for c in cases]
    return module_cases, by_person


def as_dicts(result: dict[str, list[Cluster]]) -> list[dict[str, Any]]:
    return [
        {
            "cluster_id": c.cluster_id,
            "venue_id": c.venue_id,
            "start": c.start,
            "end": c.end,
            "cases": list(c.cases),
        }
        for venue_id in sorted(result)
        for c in result[venue_id]
    ]


@settings(max_examples=300, deadline=None)
@given(*WORLD)
def test_clusters_equal_the_reference(
    cases: list[ref.Case],
    visits: list[Visit],
    thresholds: dict[str, int],
    rnd: random.Random,
) -> None:
    expected = ref.reference_clusters(cases, visits, VENUES, thresholds)
    module_cases, by_person = to_module(cases, visits)
    found = clusters(module_cases, by_person, VENUES, thresholds)
    assert as_dicts(found) == expected
    for venue_id, venue_found in found.items():  # every id and case list fits the event schema
        decode(ClustersEvent, encode(clusters_event(venue_id, venue_found, T0)))
    # Whatever order the cases and visits come in.
    rnd.shuffle(module_cases)
    for person_visits in by_person.values():
        rnd.shuffle(person_visits)
    assert as_dicts(clusters(module_cases, by_person, VENUES, thresholds)) == expected


def at_venue(
    venue_id: str, cases: list[Case], by_person: dict[str, list[CaseVisit]]
) -> list[Presence]:
    """The presences of `cases` at one venue."""
    return [
        p
        for c in cases
        for p in presences_by_venue(c, by_person.get(c.person_id, [])).get(venue_id, [])
    ]


@settings(max_examples=300, deadline=None)
@given(*WORLD)
def test_late_cases_recompute_only_the_venues_they_touch(
    cases: list[ref.Case],
    visits: list[Visit],
    thresholds: dict[str, int],
    rnd: random.Random,
) -> None:
    module_cases, by_person = to_module(cases, visits)
    rnd.shuffle(module_cases)
    state: dict[str, list[Cluster]] = {}
    published: list[str] = []
    seen: list[Case] = []
    for case in module_cases:
        seen.append(case)
        for venue_id in venues_touched(case, by_person.get(case.person_id, [])):
            here = at_venue(venue_id, seen, by_person)
            state[venue_id] = venue_clusters(
                venue_id, here, threshold(VENUES.get(venue_id), thresholds)
            )
            published += [c.cluster_id for c in state[venue_id]]
    final = {venue_id: found for venue_id, found in state.items() if found}
    assert as_dicts(final) == ref.reference_clusters(cases, visits, VENUES, thresholds)
    # Every id once published still names an hour of exactly one current cluster.
    for old in published:
        venue_id, _ = parse_cluster_id(old)
        assert resolve(old, final.get(venue_id, [])) is not None


@given(st.integers(0, 100 * 365 * DAY), st.integers(-30 * DAY, 30 * DAY))
def test_status_equals_the_reference(end: int, delta: int) -> None:
    now = max(0, end + delta)
    assert cluster_status(end, now) == ref.reference_cluster_status(end, now)


@settings(max_examples=100, deadline=None)
@given(*WORLD, st.integers(0, 10), st.integers(0, 10 * 60) | st.just(-120))
def test_recompute_after_expiry_keeps_old_hours_and_recomputes_new_ones(
    cases: list[ref.Case],
    visits: list[Visit],
    thresholds: dict[str, int],
    rnd: random.Random,
    n_old: int,
    horizon_minute: int,
) -> None:
    module_cases, by_person = to_module(cases, visits)
    horizon = T0 + horizon_minute * MIN
    cut = -(-horizon // HOUR) * HOUR

    def reference_hours(some: list[ref.Case], venue_id: str) -> set[int]:
        found = ref.reference_clusters(some, visits, VENUES, thresholds)
        return {
            h for c in found if c["venue_id"] == venue_id for h in range(c["start"], c["end"], HOUR)
        }

    for venue_id in {v.venue_id for v in visits}:
        at_least = threshold(VENUES.get(venue_id), thresholds)
        previous = venue_clusters(
            venue_id, at_venue(venue_id, module_cases[:n_old], by_person), at_least
        )
        # What the store still holds: the presences of every case ending after the horizon.
        present = at_venue(venue_id, module_cases, by_person)
        retained = [p for p in present if p.end > horizon]
        rnd.shuffle(retained)
        got = recompute_venue(venue_id, retained, at_least, previous, horizon)
        hours = {h for c in got for h in range(c.start, c.end, HOUR)}
        assert hours == {h for h in reference_hours(cases[:n_old], venue_id) if h < cut} | {
            h for h in reference_hours(cases, venue_id) if h >= cut
        }
        assert all(resolve(c.cluster_id, got) is not None for c in previous)
        if horizon < T0 - HOUR:  # before every presence: nothing has expired
            assert got == venue_clusters(venue_id, present, at_least)
