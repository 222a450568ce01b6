"""The criteria engine and the map status against the brute-force reference (tests/reference), on
random sets, answers and histories, and SPEC section 10's refusals with their reasons."""

from __future__ import annotations

import copy
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import msgspec
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scantrace_reporter.criteria import (
    DAY_MS,
    CriteriaSet,
    InvalidAssessment,
    InvalidCriteriaSet,
    answer_problems,
    max_points,
    parse_set,
    score,
    set_problems,
    shown_percent,
    valid_until,
)
from scantrace_reporter.map_status import Assessed, Inspected, status_at
from tests.reference.criteria import (
    LEVELS,
    ref_answer_problems,
    ref_max_points,
    ref_score,
    ref_set_is_valid,
    ref_status,
)

pytestmark = pytest.mark.unit

OPTION_IDS = ["a", "b", "c", "d"]
KINDS = ["restaurant", "cafe", "market", "factory"]


def as_set(doc: dict[str, Any]) -> CriteriaSet:
    return msgspec.convert(doc, CriteriaSet)


@st.composite
def criterion(draw: st.DrawFn, cid: str) -> dict[str, Any]:
    ids = draw(st.lists(st.sampled_from(OPTION_IDS), min_size=1, max_size=4, unique=True))
    options = [
        {"option_id": o, "text": f"{cid} {o}", "points": draw(st.integers(0, 6))} for o in ids
    ]
    fails = draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
    return {"criterion_id": cid, "text": cid, "options": options, "fail_options": fails}


@st.composite
def criteria_docs(draw: st.DrawFn) -> dict[str, Any]:
    """Valid sets: 1-5 criteria sharing option ids, bands at hundredths with one at 0."""
    n = draw(st.integers(1, 5))
    criteria = [draw(criterion(f"c{i}")) for i in range(n)]
    if all(max(o["points"] for o in c["options"]) == 0 for c in criteria):
        criteria[0]["options"][0]["points"] = draw(st.integers(1, 6))
    starts = draw(st.lists(st.integers(1, 10_000), max_size=3, unique=True))
    bands = [{"min_percent": k / 100, "level": draw(st.sampled_from(LEVELS))} for k in [0, *starts]]
    return {
        "set_id": "s",
        "version": 1,
        "title": "t",
        "kinds": draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True)),
        "criteria": criteria,
        "bands": draw(st.permutations(bands)),
        "fail_level": draw(st.sampled_from(LEVELS)),
        "validity_days": draw(st.integers(1, 60)),
    }


def _mutations(doc: dict[str, Any], which: int, k: int) -> dict[str, Any]:
    d = copy.deepcopy(doc)
    if not d["criteria"] or not all(c["options"] for c in d["criteria"]):
        return d  # already refused; the mutations below need options to copy
    c = d["criteria"][k % len(d["criteria"])]
    match which:
        case 0:
            d["criteria"].append(copy.deepcopy(c))  # a criterion defined twice
        case 1:
            c["options"].append(copy.deepcopy(c["options"][0]))  # an option twice
        case 2:
            c["fail_options"].append("zz")  # a fail option that is not an option
        case 3:
            d["bands"] = []
        case 4:
            d["bands"] = [b for b in d["bands"] if b["min_percent"] != 0]
        case 5:
            d["kinds"].append("spaceship")
        case 6:
            d["kinds"].extend(d["kinds"][:1])  # a kind twice (unless emptied before)
        case 7:
            for crit in d["criteria"]:
                for o in crit["options"]:
                    o["points"] = 0
        case 8:
            d["bands"].append({"min_percent": 12.345, "level": "red"})
        case 9:
            d["fail_level"] = None
        case 10:
            # two bands at one min_percent (an earlier mutation may have emptied the bands)
            d["bands"].extend(dict(b) for b in d["bands"][:1])
        case 11:
            c["options"] = []
            c["fail_options"] = []
        case 12:
            d["criteria"] = []
        case _:
            d["kinds"] = []
    return d


@st.composite
def mutated_docs(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(criteria_docs())
    for _ in range(draw(st.integers(0, 2))):
        doc = _mutations(doc, draw(st.integers(0, 13)), draw(st.integers(0, 4)))
    return doc


def valid_answers(
    draw: Callable[[st.SearchStrategy[str]], str], doc: dict[str, Any]
) -> dict[str, str]:
    return {
        c["criterion_id"]: draw(st.sampled_from([o["option_id"] for o in c["options"]]))
        for c in doc["criteria"]
    }


# --- properties against the reference --------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(mutated_docs())
def test_a_set_is_refused_exactly_when_the_reference_refuses_it(doc: dict[str, Any]) -> None:
    cs = as_set(doc)
    assert (not set_problems(cs)) == ref_set_is_valid(doc)


@settings(max_examples=300, deadline=None)
@given(criteria_docs())
def test_max_points_is_the_best_total_over_every_answer(doc: dict[str, Any]) -> None:
    assert max_points(as_set(doc)) == ref_max_points(doc)


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_scores_match_the_reference(data: st.DataObject) -> None:
    doc = data.draw(criteria_docs())
    answers = valid_answers(data.draw, doc)
    got = score(as_set(doc), answers)
    want = ref_score(doc, answers)
    assert got.points == want["points"]
    assert got.max_points == want["max_points"]
    assert got.shown_percent == want["percent"]
    assert got.level == want["level"]
    assert list(got.failed) == want["failed"]


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_band_boundaries_either_side(data: st.DataObject) -> None:
    """A band starting exactly at the shown percent is reached; one 0.01 above it is not."""
    doc = data.draw(criteria_docs())
    for c in doc["criteria"]:
        c["fail_options"] = []
    answers = valid_answers(data.draw, doc)
    shown = ref_score(doc, answers)["percent"]
    assume(0 < shown <= 99.99)
    doc["bands"] = [
        {"min_percent": 0.0, "level": "red"},
        {"min_percent": shown, "level": "yellow"},
        {"min_percent": round(shown + 0.01, 2), "level": "green"},
    ]
    got = score(as_set(doc), answers)
    assert got.level == ref_score(doc, answers)["level"] == "yellow"


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_refused_answers_match_the_reference(data: st.DataObject) -> None:
    doc = data.draw(criteria_docs())
    answers = valid_answers(data.draw, doc)
    for _ in range(data.draw(st.integers(0, 3))):
        match data.draw(st.integers(0, 3)):
            case 0 if answers:
                answers.pop(data.draw(st.sampled_from(sorted(answers))))
            case 1:
                answers[data.draw(st.sampled_from(["c0", "c1", "c9", "x"]))] = "a"
            case 2 if answers:
                answers[data.draw(st.sampled_from(sorted(answers)))] = data.draw(
                    st.sampled_from([*OPTION_IDS, "zz"])
                )
            case _:
                pass
    kind = data.draw(st.sampled_from([None, *KINDS]))
    cs = as_set(doc)
    got = {(p.code, p.criterion_id) for p in answer_problems(cs, answers, kind=kind)}
    assert got == ref_answer_problems(doc, answers, kind)
    if got:
        with pytest.raises(InvalidAssessment):
            score(cs, answers, kind=kind)
    else:
        assert score(cs, answers, kind=kind).level in LEVELS


@st.composite
def histories(draw: st.DrawFn) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 8))):
        at = draw(st.integers(0, 40)) * DAY_MS // 4
        if draw(st.booleans()):
            events.append(
                {
                    "type": "inspection",
                    "at": at,
                    "inspection_id": f"i{i}",
                    "result": draw(st.sampled_from(["pass", "fail"])),
                    "suspend": draw(st.booleans()),
                }
            )
        else:
            events.append(
                {
                    "type": "assessment",
                    "assessed_at": at,
                    "assessment_id": f"a{i}",
                    "level": draw(st.sampled_from(LEVELS)),
                    "valid_until": valid_until(at, draw(st.integers(1, 5))),
                }
            )
    return events


@settings(max_examples=500, deadline=None)
@given(histories(), st.integers(-1, 60))
def test_map_status_matches_a_replay_of_the_history(
    events: list[dict[str, Any]], quarter_days: int
) -> None:
    t = quarter_days * DAY_MS // 4
    inspections = [
        Inspected(e["at"], e["inspection_id"], e["result"], e["suspend"])
        for e in events
        if e["type"] == "inspection"
    ]
    assessments = [
        Assessed(e["assessed_at"], e["assessment_id"], e["level"], e["valid_until"])
        for e in events
        if e["type"] == "assessment"
    ]
    got = status_at(inspections, assessments, t)
    assert (got.status, got.level) == ref_status(events, t)


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 10_000), st.integers(0, 10_000))
def test_the_shown_percent_reaches_exactly_the_bands_the_exact_one_reaches(
    points: int, top: int, hundredths: int
) -> None:
    assume(points <= top)
    exact = Fraction(100 * points, top)
    minimum = hundredths / 100
    assert (shown_percent(exact) >= minimum) == (exact >= Fraction(hundredths, 100))


# --- worked cases ------------------------------------------------------------------------------


def doc_of(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "set_id": "quan-an",
        "version": 1,
        "title": "Quán ăn",
        "kinds": ["restaurant"],
        "criteria": [
            {
                "criterion_id": "khau-trang",
                "text": "Đeo khẩu trang",
                "options": [
                    {"option_id": "dat", "text": "Đạt", "points": 1},
                    {"option_id": "khong", "text": "Không đạt", "points": 0},
                ],
                "fail_options": ["khong"],
            },
            {
                "criterion_id": "khoang-cach",
                "text": "Khoảng cách",
                "options": [
                    {"option_id": "du", "text": "Đủ", "points": 2},
                    {"option_id": "mot-phan", "text": "Một phần", "points": 1},
                    {"option_id": "khong", "text": "Không", "points": 0},
                ],
                "fail_options": [],
            },
        ],
        "bands": [
            {"min_percent": 0, "level": "red"},
            {"min_percent": 66.66, "level": "yellow"},
            {"min_percent": 100, "level": "green"},
        ],
        "fail_level": "red",
        "validity_days": 30,
    }
    return doc | changes


def test_percent_is_exact_and_shown_rounded_down() -> None:
    got = score(as_set(doc_of()), {"khau-trang": "dat", "khoang-cach": "mot-phan"})
    assert (got.points, got.max_points, got.percent) == (2, 3, Fraction(200, 3))
    assert got.shown_percent == 66.66
    assert got.level == "yellow"  # 66.666... >= 66.66
    assert shown_percent(Fraction(2, 3)) == 0.66


def test_a_fail_option_gives_the_fail_level_and_is_listed() -> None:
    got = score(as_set(doc_of()), {"khau-trang": "khong", "khoang-cach": "du"})
    assert (got.points, got.level, got.failed) == (2, "red", ("khau-trang",))


def test_a_zero_point_option_that_is_not_a_fail_option_is_not_failed() -> None:
    got = score(as_set(doc_of()), {"khau-trang": "dat", "khoang-cach": "khong"})
    assert got.failed == ()
    assert got.level == "red"  # 33.33% is below every band but the one at 0


def test_full_points_reach_the_band_at_100() -> None:
    got = score(as_set(doc_of()), {"khau-trang": "dat", "khoang-cach": "du"})
    assert (got.percent, got.level) == (Fraction(100), "green")


def test_answer_refusals_say_why() -> None:
    with pytest.raises(InvalidAssessment) as caught:
        score(
            as_set(doc_of()),
            {"khau-trang": "mot-phan", "extra": "dat"},
            kind="school",
        )
    assert [str(p.message) for p in caught.value.problems] == [
        "set 'quan-an' is for venues of kind restaurant, not 'school'",
        "option 'mot-phan' is an option of criterion 'khoang-cach', not of 'khau-trang'",
        "criterion 'khoang-cach' is unanswered",
        "unknown criterion 'extra'",
    ]


def test_an_option_of_no_criterion_is_unknown() -> None:
    problems = answer_problems(as_set(doc_of()), {"khau-trang": "zz", "khoang-cach": "du"})
    assert [p.message for p in problems] == ["criterion 'khau-trang' has no option 'zz'"]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"kinds": ["restaurant", "spaceship"]}, "kind 'spaceship' is not a venue kind"),
        ({"kinds": []}, "kinds is empty"),
        ({"bands": []}, "bands is empty"),
        ({"bands": [{"min_percent": 10, "level": "red"}]}, "no band starts at min_percent 0"),
        (
            {
                "bands": [
                    {"min_percent": 0, "level": "red"},
                    {"min_percent": 50.125, "level": "green"},
                ]
            },
            "more than two decimal places",
        ),
        ({"fail_level": None}, "fail_level is null"),
        ({"criteria": []}, "criteria is empty"),
    ],
)
def test_set_refusals_say_why(changes: dict[str, Any], reason: str) -> None:
    problems = set_problems(as_set(doc_of(**changes)))
    assert any(reason in p for p in problems), problems


def test_refused_sets_name_the_criterion() -> None:
    doc = doc_of()
    doc["criteria"][0]["fail_options"] = ["du"]
    doc["criteria"][1]["options"].append({"option_id": "du", "text": "x", "points": 1})
    doc["criteria"].append(copy.deepcopy(doc["criteria"][0]))
    with pytest.raises(InvalidCriteriaSet) as caught:
        parse_set(msgspec.json.encode(doc))
    assert set(caught.value.reasons) == {
        "criterion 'khau-trang' is defined twice",
        "criterion 'khau-trang': fail option 'du' is not one of its options",
        "criterion 'khoang-cach' has option 'du' twice",
    }


def test_zero_max_points_is_refused() -> None:
    doc = doc_of()
    for c in doc["criteria"]:
        for o in c["options"]:
            o["points"] = 0
    assert "max_points is 0: no option scores any point" in set_problems(as_set(doc))


def test_parse_set_refuses_bad_types_and_bad_json() -> None:
    with pytest.raises(InvalidCriteriaSet, match="level"):
        parse_set(msgspec.json.encode(doc_of(bands=[{"min_percent": 0, "level": "purple"}])))
    with pytest.raises(InvalidCriteriaSet, match="not JSON"):
        parse_set(b"{")


def test_valid_until_is_validity_days_of_24_hours_after() -> None:
    assert valid_until(1_621_231_200_000, 30) == 1_621_231_200_000 + 30 * 86_400_000


def test_map_status_transitions() -> None:
    a = Assessed(0, "a1", "green", valid_until(0, 1))
    assert status_at([], [], 0).status == "none"
    assert status_at([], [a], DAY_MS - 1)[:2] == ("current", "green")
    assert status_at([], [a], DAY_MS)[:2] == ("overdue", None)  # valid_until <= t
    suspend = Inspected(10, "i1", "fail", True)
    lift = Inspected(20, "i2", "pass", False)
    assert status_at([suspend], [a], 15).status == "suspended"
    assert status_at([suspend, Inspected(18, "i3", "fail", False)], [a], 19).status == "suspended"
    assert status_at([suspend, lift], [a], 20)[:2] == ("current", "green")
    assert status_at([suspend, lift], [a], 9)[:2] == ("current", "green")  # not yet suspended


def test_all_options_equal_always_scores_full_points() -> None:
    doc = doc_of()
    for c in doc["criteria"]:
        for o in c["options"]:
            o["points"] = 2
        c["fail_options"] = []
    cs = as_set(doc)
    for answers in (
        {"khau-trang": "dat", "khoang-cach": "du"},
        {"khau-trang": "khong", "khoang-cach": "khong"},
    ):
        got = score(cs, answers)
        assert (got.points, got.max_points, got.percent, got.level) == (
            4,
            4,
            Fraction(100),
            "green",
        )
