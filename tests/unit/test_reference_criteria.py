"""Hand-worked cases for the brute-force reference of SPEC section 10 (tests/reference/criteria.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reference.criteria import ref_max_points, ref_score, ref_set_is_valid, ref_status

pytestmark = pytest.mark.unit


def _doc(bands: list[tuple[float, str]]) -> dict[str, Any]:
    yes_no = [
        {"option_id": "yes", "text": "yes", "points": 1},
        {"option_id": "no", "text": "no", "points": 0},
    ]
    return {
        "kinds": ["school"],
        "criteria": [
            {"criterion_id": f"t{i}", "options": yes_no, "fail_options": ["no"] if i == 1 else []}
            for i in range(1, 4)
        ],
        "bands": [{"min_percent": m, "level": level} for m, level in bands],
        "fail_level": "red",
    }


def test_three_pass_fail_criteria() -> None:
    doc = _doc([(0, "red"), (66.66, "yellow"), (100, "green")])
    assert ref_set_is_valid(doc)
    assert ref_max_points(doc) == 3
    two = ref_score(doc, {"t1": "yes", "t2": "yes", "t3": "no"})
    assert (two["points"], two["percent"], two["level"], two["failed"]) == (2, 66.66, "yellow", [])
    failed = ref_score(doc, {"t1": "no", "t2": "yes", "t3": "yes"})
    assert (failed["level"], failed["failed"]) == ("red", ["t1"])


def test_a_band_just_above_the_percent_is_not_reached() -> None:
    doc = _doc([(0, "red"), (66.67, "yellow")])
    assert ref_score(doc, {"t1": "yes", "t2": "yes", "t3": "no"})["level"] == "red"


def test_sets_without_a_band_at_zero_or_with_three_decimals_are_invalid() -> None:
    assert not ref_set_is_valid(_doc([(10, "red")]))
    assert not ref_set_is_valid(_doc([(0, "red"), (33.333, "green")]))


def test_status_replay() -> None:
    events = [
        {
            "type": "assessment",
            "assessed_at": 0,
            "assessment_id": "a",
            "level": "green",
            "valid_until": 100,
        },
        {"type": "inspection", "at": 50, "inspection_id": "i", "result": "fail", "suspend": True},
        {"type": "inspection", "at": 60, "inspection_id": "j", "result": "pass", "suspend": False},
    ]
    assert ref_status(events, -1) == ("none", None)
    assert ref_status(events, 10) == ("current", "green")
    assert ref_status(events, 55) == ("suspended", None)
    assert ref_status(events, 60) == ("current", "green")
    assert ref_status(events, 100) == ("overdue", None)
