"""Hand-worked cases for the reference of SPEC section 6 compliance."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.reference.compliance import day_bounds_ms, reference_compliance
from tests.reference.model import Declaration, Direction, Quarantine, Scan, Unit, Venue

pytestmark = pytest.mark.unit

TZ = "Asia/Ho_Chi_Minh"  # UTC+07:00, no DST
D = date(2021, 5, 17)
START = 1_621_184_400_000  # 2021-05-16T17:00:00Z = 2021-05-17T00:00+07:00
END = 1_621_270_800_000  # 2021-05-17T17:00:00Z = 2021-05-18T00:00+07:00
HOUR = 3_600_000
DAY = 24 * HOUR


def days(n: int) -> date:
    return D + timedelta(days=n)


UNITS = [
    Unit("prov", None, "province"),
    Unit("d2", "prov", "district"),
    Unit("d1", "prov", "district"),
    Unit("c1", "d1", "commune"),
    Unit("prov2", None, "province"),
    Unit("e1", "prov2", "district"),
]

VENUES = [
    Venue("v1", "c1", "cafe", None, registered_at=START - DAY),
    Venue("v2", "d1", "shop", None, registered_at=START - DAY, revoked_at=START + 10 * HOUR),
    Venue("v3", "d2", "shop", None, registered_at=END),
    Venue("v4", "d2", "office", None, registered_at=END - 1, revoked_at=END),
    Venue("v5", "d2", "school", None, registered_at=START - 10 * DAY),
    Venue("v6", "d2", "market", None, registered_at=START - 10 * DAY, revoked_at=START - 1),
    Venue("v7", "prov", "public_service", None, registered_at=START - DAY),
    Venue("v8", "prov2", "hospital", None, registered_at=START - DAY),
]


def s(scan_id: str, venue_id: str, direction: Direction, person: str, at: int) -> Scan:
    return Scan(scan_id, person, venue_id, direction, at)


SCANS = [
    s("s1", "v1", "in", "a", START),
    s("s2", "v1", "out", "a", START + HOUR),
    s("s2", "v1", "out", "a", START + HOUR),  # duplicate
    s("s3", "v1", "in", "b", END - 1),
    s("s4", "v1", "in", "c", END),  # next day
    s("s5", "v1", "in", "d", START - 1),  # previous day
    s("s6", "v2", "in", "a", START + HOUR),  # venue revoked later that day
    s("s7", "v3", "in", "g", END - 1),  # venue registered after the day
    s("s8", "v4", "out", "a", END - 1),
    s("s9", "v7", "in", "e", START + 2 * HOUR),
    s("s10", "v8", "in", "f", START + 2 * HOUR),  # other province
    s("s11", "ghost", "in", "h", START),  # unknown venue
    s("s12", "v1", "in", "b", START + 3 * HOUR),  # uploaded late: listed last
]

QUARANTINES = [
    Quarantine("x", "c1", D, days(13)),
    Quarantine("x", "d2", days(-5), days(5)),
    Quarantine("y", "d2", days(-13), D),
    Quarantine("z", "d1", days(1), days(14)),
    Quarantine("w", "d2", days(-14), days(-1)),
    Quarantine("u", "prov2", days(-1), days(1)),
    Quarantine("k", "prov", D, D),
]

DECLARATIONS = [
    Declaration("dx1", "x", START),
    Declaration("dx1", "x", START),  # duplicate
    Declaration("dy1", "y", END),  # next day
    Declaration("dy2", "y", START - 1),  # previous day
    Declaration("du", "u", START + HOUR),
    Declaration("dk", "k", END - 1),
]


def compliance(unit_id: str) -> dict[str, Any]:
    return reference_compliance(UNITS, VENUES, SCANS, QUARANTINES, DECLARATIONS, unit_id, D, TZ)


def figures(
    unit_id: str,
    registered: int,
    active: int,
    active_ratio: float | None,
    scans: tuple[int, int, int],
    persons: int,
    quarantined: int,
    done: int,
    declaration_ratio: float | None,
) -> dict[str, Any]:
    return {
        "unit_id": unit_id,
        "date": "2021-05-17",
        "venues_registered": registered,
        "venues_active": active,
        "active_ratio": active_ratio,
        "scans": scans[0],
        "scans_in": scans[1],
        "scans_out": scans[2],
        "persons": persons,
        "quarantined": quarantined,
        "declarations_done": done,
        "declaration_ratio": declaration_ratio,
        "venues_assessed": 0,
        "assessed_ratio": 0.0 if registered else None,
    }


# d1 = d1 + c1: v1 (v2 revoked during the day); s1, s2, s3, s12; a, b; quarantined x, done x.
D1 = figures("d1", 1, 1, 1.0, (4, 3, 1), 2, 1, 1, 1.0)
# d2: v4 (registered 1 ms before the end, revoked exactly at the end) and v5; s8; a;
# quarantined x (second registration) and y (last day), done x.
D2 = figures("d2", 2, 1, 0.5, (1, 0, 1), 1, 2, 1, 0.5)


def test_day_bounds_are_local_midnights() -> None:
    assert day_bounds_ms(D, TZ) == (START, END)
    assert day_bounds_ms(D, "UTC") == (1_621_209_600_000, 1_621_209_600_000 + DAY)


def test_province_with_children() -> None:
    # prov: v1, v4, v5, v7 registered; v1, v4, v7 active; scans s1 s2 s3 s8 s9 s12 (in: s1 s3 s9
    # s12); persons a b e; quarantined x y k; done x k.
    expected = figures("prov", 4, 3, 0.75, (6, 4, 2), 3, 3, 2, 2 / 3)
    expected["children"] = [D1, D2]
    assert compliance("prov") == expected


def test_leaf_unit_has_no_children() -> None:
    # c1: v1; s1 s2 s3 s12; a b; quarantined x (first registration), done x.
    expected = figures("c1", 1, 1, 1.0, (4, 3, 1), 2, 1, 1, 1.0)
    expected["children"] = []
    assert compliance("c1") == expected


def test_empty_unit_has_null_ratios() -> None:
    # prov2: v8; s10; f; quarantined u, done u. e1 has nothing at all.
    expected = figures("prov2", 1, 1, 1.0, (1, 1, 0), 1, 1, 1, 1.0)
    expected["children"] = [figures("e1", 0, 0, None, (0, 0, 0), 0, 0, 0, None)]
    assert compliance("prov2") == expected


def test_another_day() -> None:
    # The next day: v3 is now registered, v4 is revoked; s4 (c at v1) is the only scan;
    # x (both registrations) and z are quarantined; dy1 is y's, who is no longer quarantined.
    got = reference_compliance(UNITS, VENUES, SCANS, QUARANTINES, DECLARATIONS, "prov", days(1), TZ)
    got_children = got.pop("children")
    assert got == {
        **figures("prov", 4, 1, 0.25, (1, 1, 0), 1, 2, 0, 0.0),
        "date": "2021-05-18",
    }
    assert [child["unit_id"] for child in got_children] == ["d1", "d2"]


def _assessment(assessment_id: str, at: int, valid_until: int) -> dict[str, Any]:
    return {
        "type": "assessment",
        "assessment_id": assessment_id,
        "assessed_at": at,
        "level": "green",
        "valid_until": valid_until,
    }


def test_venues_assessed_are_current_at_the_last_instant_of_the_day() -> None:
    safety = {
        "v1": [_assessment("a1", START, END + DAY)],  # current
        "v4": [_assessment("a4", START, END - 1)],  # overdue at the day's last millisecond
        "v5": [
            _assessment("a5", START, END + DAY),
            {
                "type": "inspection",
                "inspection_id": "i5",
                "at": START + 1,
                "result": "fail",
                "suspend": True,
            },
        ],  # suspended
        "v7": [_assessment("a7", END, END + DAY)],  # made after the day
        "v2": [_assessment("a2", START, END + DAY)],  # revoked during the day: not registered
    }
    got = reference_compliance(
        UNITS, VENUES, SCANS, QUARANTINES, DECLARATIONS, "prov", D, TZ, safety
    )
    assert (got["venues_assessed"], got["assessed_ratio"]) == (1, 0.25)
    children = {c["unit_id"]: c for c in got["children"]}
    assert (children["d1"]["venues_assessed"], children["d2"]["venues_assessed"]) == (1, 0)
    later = reference_compliance(
        UNITS, VENUES, SCANS, QUARANTINES, DECLARATIONS, "prov", days(1), TZ, safety
    )
    assert later["venues_assessed"] == 2  # v7 too now; v1's assessment valid to the day's end


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(KeyError):
        compliance("nowhere")
