"""The shipped criteria sets: every file validates with the engine, totals match the decisions
where a set is whole, partial sets say what they lack, and the decisions' rules score as stated."""

from __future__ import annotations

import pytest

from scantrace_common.venue_kinds import VENUE_KINDS
from scantrace_reporter.criteria import CriteriaSet, max_points, score
from scantrace_reporter.criteria_files import (
    pending_band_problems,
    pending_sets,
    publishable_sets,
    shipped_sets,
)

pytestmark = pytest.mark.unit


def _set(set_id: str) -> CriteriaSet:
    return next(s.criteria_set for s in shipped_sets() if s.criteria_set.set_id == set_id)


def test_every_shipped_file_validates_and_names_its_source() -> None:
    shipped = shipped_sets()
    assert {s.criteria_set.set_id for s in shipped} >= {"qd2194-noi-lam-viec", "cv1467-truong-hoc"}
    for s in shipped:
        source = s.criteria_set.source
        assert source is not None, s.file
        assert source.decision, s.file
        assert source.urls, s.file


def test_whole_sets_match_the_decisions_totals_and_partial_ones_say_what_they_lack() -> None:
    for s in shipped_sets():
        cs = s.criteria_set
        assert cs.source is not None
        if s.whole:
            if cs.source.stated_criteria is not None:
                assert len(cs.criteria) == cs.source.stated_criteria, s.file
            if cs.source.stated_max_points is not None:
                assert max_points(cs) == cs.source.stated_max_points, s.file
        else:
            assert cs.gaps, s.file
            assert "CHƯA" in cs.title, f"{s.file}: a partial set says so in its title"


def test_partial_sets_are_not_publishable() -> None:
    assert all(not cs.gaps for cs in publishable_sets())
    partial = [s.criteria_set.set_id for s in shipped_sets() if not s.whole]
    assert not {cs.set_id for cs in publishable_sets()} & set(partial)


def test_2194_risk_percent_and_the_five_risk_classes() -> None:
    cs = _set("qd2194-noi-lam-viec")
    assert cs.source is not None
    assert (cs.source.stated_criteria, cs.source.stated_max_points) == (15, 300)
    assert [b.level for b in cs.bands] == ["green", "green", "yellow", "orange", "red"]
    # Points for risk: the most crowded, densest workplace is the riskiest.
    worst = score(cs, {"cs1": "tu-5000", "cs2": "duoi-1m2"}, kind="factory")
    assert (worst.points, worst.shown_percent, worst.level) == (20, 100.0, "red")
    least = score(cs, {"cs1": "duoi-50", "cs2": "tu-1m2"}, kind="office")
    assert (least.points, least.shown_percent, least.level) == (1, 5.0, "green")


def _school_answers(passed: set[int]) -> dict[str, str]:
    return {f"tc{i:02d}": "dat" if i in passed else "khong-dat" for i in range(1, 16)}


@pytest.mark.parametrize(
    ("passed", "level"),
    [
        (set(range(1, 16)), "green"),
        (set(range(1, 12)), "green"),  # 11 criteria, 4, 5, 10, 11 among them
        (set(range(2, 12)), "yellow"),  # 10 criteria: 2 to 11
        ({4, 5, 10, 11, 1, 2, 3, 6}, "yellow"),  # 8 criteria
        ({4, 5, 10, 11, 1, 2, 3}, "red"),  # 7 criteria
        (set(range(1, 16)) - {10}, "red"),  # 14 criteria but not criterion 10
    ],
)
def test_1467_pass_fail_criteria_and_required_ones(passed: set[int], level: str) -> None:
    cs = _set("cv1467-truong-hoc")
    assert len(cs.criteria) == 15
    assert [c.criterion_id for c in cs.criteria if c.fail_options] == [
        "tc04",
        "tc05",
        "tc10",
        "tc11",
    ]
    got = score(cs, _school_answers(passed), kind="school")
    assert got.level == level


def test_pending_decisions_are_recorded_with_their_gaps() -> None:
    pending = {p.set_id: p for p in pending_sets()}
    assert set(pending) >= {
        "qd3088-benh-vien",
        "qd4999-phong-kham",
        "qd2225-cho-nha-hang",
        "cv4306-van-tai",
    }
    for p in pending.values():
        assert p.gaps, p.set_id
        assert p.urls, p.set_id
        assert set(p.kinds) <= VENUE_KINDS, p.set_id
        assert pending_band_problems(p) == [], p.set_id
    hospital = pending["qd3088-benh-vien"]
    assert (hospital.stated_criteria, hospital.stated_max_points) == (37, 150)
    clinic = pending["qd4999-phong-kham"]
    assert len(clinic.outline) == clinic.stated_criteria == 8
    assert sum(i.max_points or 0 for i in clinic.outline) == clinic.stated_max_points == 30
