"""SPEC section 10's criteria engine as pure functions: a set's validation, `max_points`, and the
score of an assessment (points, percent, level, failed criteria, valid_until).

Arithmetic is exact. `percent` is the rational 100 x points / max_points and is compared with
a band's `min_percent` (a decimal with at most two places, read as the exact decimal it is
written as) without rounding. The percent shown is that rational rounded down to two places,
so a band boundary reads the same on both: shown >= min_percent exactly when percent >= min_percent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import floor
from typing import Final, Literal, NamedTuple, get_args

import msgspec

from scantrace_common.events import Band, CriteriaSetEvent, SafetyLevel
from scantrace_common.venue_kinds import VENUE_KINDS

CriteriaSet = CriteriaSetEvent
LEVELS: Final[tuple[SafetyLevel, ...]] = get_args(SafetyLevel)
DAY_MS: Final = 24 * 3600 * 1000


class InvalidCriteriaSet(ValueError):
    """A set refused when published or loaded; `reasons` says every problem found."""

    def __init__(self, set_id: str, reasons: Sequence[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__(f"criteria set {set_id!r} refused: " + "; ".join(self.reasons))


ProblemCode = Literal[
    "kind", "unanswered", "unknown_criterion", "other_criterion", "unknown_option"
]


class AnswerProblem(NamedTuple):
    code: ProblemCode
    criterion_id: str | None
    message: str


class InvalidAssessment(ValueError):
    """Answers refused (an HTTP 422); `problems` lists them, in the set's order."""

    def __init__(self, problems: Sequence[AnswerProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(p.message for p in self.problems))


@dataclass(frozen=True, slots=True)
class Score:
    points: int
    max_points: int
    #: Exact: 100 x points / max_points.
    percent: Fraction
    level: SafetyLevel
    #: The criteria answered with one of their fail options, in the set's order.
    failed: tuple[str, ...]

    @property
    def shown_percent(self) -> float:
        return shown_percent(self.percent)


def exact_min_percent(band: Band) -> Fraction:
    """A band's `min_percent` as the exact decimal it is written as (15.01 is 1501/100)."""
    return Fraction(repr(band.min_percent))


def shown_percent(percent: Fraction) -> float:
    """The percent rounded down to two decimal places."""
    return float(Fraction(floor(percent * 100), 100))


def max_points(cs: CriteriaSet) -> int:
    """The sum over criteria of their largest option points."""
    return sum(max((o.points for o in c.options), default=0) for c in cs.criteria)


def _duplicates(values: Sequence[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def set_problems(cs: CriteriaSet) -> list[str]:
    """Every reason to refuse a (well-typed) set; empty when it can be published."""
    problems: list[str] = []
    if not cs.kinds:
        problems.append("kinds is empty")
    problems += [f"kind {k!r} is not a venue kind" for k in cs.kinds if k not in VENUE_KINDS]
    problems += [f"kind {k!r} is listed twice" for k in _duplicates(cs.kinds)]
    if not cs.criteria:
        problems.append("criteria is empty")
    ids = [c.criterion_id for c in cs.criteria]
    problems += [f"criterion {c!r} is defined twice" for c in _duplicates(ids)]
    any_fail = False
    for c in cs.criteria:
        option_ids = [o.option_id for o in c.options]
        if not option_ids:
            problems.append(f"criterion {c.criterion_id!r} has no options")
        problems += [
            f"criterion {c.criterion_id!r} has option {o!r} twice" for o in _duplicates(option_ids)
        ]
        problems += [
            f"criterion {c.criterion_id!r}: fail option {f!r} is not one of its options"
            for f in c.fail_options
            if f not in option_ids
        ]
        problems += [
            f"criterion {c.criterion_id!r} lists fail option {f!r} twice"
            for f in _duplicates(c.fail_options)
        ]
        any_fail = any_fail or bool(c.fail_options)
    if cs.criteria and max_points(cs) == 0:
        problems.append("max_points is 0: no option scores any point")
    if not cs.bands:
        problems.append("bands is empty")
    minima = [exact_min_percent(b) for b in cs.bands]
    problems += [
        f"band min_percent {b.min_percent} has more than two decimal places"
        for b, m in zip(cs.bands, minima, strict=True)
        if (m * 100).denominator != 1
    ]
    problems += [
        f"two bands start at min_percent {m}"
        for m in sorted(m for m, n in Counter(minima).items() if n > 1)
    ]
    if cs.bands and min(minima) != 0:
        problems.append("no band starts at min_percent 0: a low percent would have no level")
    if any_fail and cs.fail_level is None:
        problems.append("fail options are listed but fail_level is null")
    return problems


def validate_set(cs: CriteriaSet) -> CriteriaSet:
    """The set itself when it can be published; raises `InvalidCriteriaSet` otherwise."""
    problems = set_problems(cs)
    if problems:
        raise InvalidCriteriaSet(cs.set_id, problems)
    return cs


def parse_set(data: bytes | str) -> CriteriaSet:
    """Decode a JSON criteria set document and validate it."""
    try:
        cs = msgspec.json.decode(data, type=CriteriaSet)
    except msgspec.ValidationError as exc:
        raise InvalidCriteriaSet("?", [str(exc)]) from exc
    except msgspec.DecodeError as exc:
        raise InvalidCriteriaSet("?", [f"not JSON: {exc}"]) from exc
    return validate_set(cs)


def band_level(bands: Sequence[Band], percent: Fraction) -> SafetyLevel:
    """The level of the band with the largest min_percent <= percent."""
    reached = [b for b in bands if exact_min_percent(b) <= percent]
    if not reached:
        raise ValueError(f"no band reaches {percent}%")  # a validated set always has one at 0
    return max(reached, key=exact_min_percent).level


def answer_problems(
    cs: CriteriaSet, answers: Mapping[str, str], *, kind: str | None = None
) -> list[AnswerProblem]:
    """Why answers are refused: a kind the set is not for, and per criterion, in the set's order,
    an unanswered one or an option that is not its own; then answers to unknown criteria."""
    problems: list[AnswerProblem] = []
    if kind is not None and kind not in cs.kinds:
        problems.append(
            AnswerProblem(
                "kind",
                None,
                f"set {cs.set_id!r} is for venues of kind {', '.join(cs.kinds)}, not {kind!r}",
            )
        )
    owners: dict[str, list[str]] = {}
    for c in cs.criteria:
        for o in c.options:
            owners.setdefault(o.option_id, []).append(c.criterion_id)
    for c in cs.criteria:
        cid = c.criterion_id
        if cid not in answers:
            problems.append(AnswerProblem("unanswered", cid, f"criterion {cid!r} is unanswered"))
            continue
        chosen = answers[cid]
        if any(o.option_id == chosen for o in c.options):
            continue
        if chosen in owners:
            elsewhere = ", ".join(repr(x) for x in owners[chosen])
            problems.append(
                AnswerProblem(
                    "other_criterion",
                    cid,
                    f"option {chosen!r} is an option of criterion {elsewhere}, not of {cid!r}",
                )
            )
        else:
            problems.append(
                AnswerProblem("unknown_option", cid, f"criterion {cid!r} has no option {chosen!r}")
            )
    known = {c.criterion_id for c in cs.criteria}
    problems += [
        AnswerProblem("unknown_criterion", k, f"unknown criterion {k!r}")
        for k in sorted(answers)
        if k not in known
    ]
    return problems


def score(cs: CriteriaSet, answers: Mapping[str, str], *, kind: str | None = None) -> Score:
    """Score one option per criterion of a validated set; raises `InvalidAssessment` with every
    problem found."""
    problems = answer_problems(cs, answers, kind=kind)
    if problems:
        raise InvalidAssessment(problems)
    points = 0
    failed: list[str] = []
    for c in cs.criteria:
        chosen = answers[c.criterion_id]
        points += next(o.points for o in c.options if o.option_id == chosen)
        if chosen in c.fail_options:
            failed.append(c.criterion_id)
    top = max_points(cs)
    percent = Fraction(100 * points, top)
    level = cs.fail_level if failed and cs.fail_level is not None else band_level(cs.bands, percent)
    return Score(points, top, percent, level, tuple(failed))


def valid_until(assessed_at: int, validity_days: int) -> int:
    """The instant (epoch ms) exactly `validity_days` x 24 h after the assessment."""
    return assessed_at + validity_days * DAY_MS
