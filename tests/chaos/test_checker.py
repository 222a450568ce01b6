"""The checker itself: lost, phantom and duplicated figures on hand-made histories."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.chaos.checker import History, check, with_downstream

pytestmark = pytest.mark.unit


def test_ok_dominates_unknown_and_failed() -> None:
    history = History()
    history.record("a", "failed")
    history.record("a", "unknown")
    history.record("a", "ok")
    history.record("a", "failed")  # a later 503 does not undo the promise
    history.record("b", "unknown")
    history.record("b", "failed")
    assert history.outcome("a") == "ok"
    assert history.outcome("b") == "unknown"
    assert history.attempts == Counter({"failed": 3, "unknown": 2, "ok": 1})


def test_nothing_lost_when_every_ok_is_in_the_log() -> None:
    history = History()
    history.record_many(["a", "b", "c"], "ok")
    verdict = check(history, Counter({"a": 1, "b": 2, "c": 1}))
    assert verdict.valid
    assert verdict.lost == 0
    assert verdict.log_copies == 1  # at-least-once copies are a figure, not a failure
    assert verdict.present == 3


def test_ok_missing_from_the_log_is_lost() -> None:
    history = History()
    history.record_many(["a", "b"], "ok")
    verdict = check(history, Counter({"a": 1}))
    assert not verdict.valid
    assert verdict.lost == 1
    assert verdict.lost_ids == ["b"]


def test_unknown_and_failed_may_be_present_or_absent() -> None:
    history = History()
    history.record("u1", "unknown")
    history.record("u2", "unknown")
    history.record("f1", "failed")
    history.record("f2", "failed")
    verdict = check(history, Counter({"u1": 1, "f1": 1}))
    assert verdict.valid
    assert (verdict.unknown, verdict.unknown_present) == (2, 1)
    assert (verdict.failed, verdict.failed_present) == (2, 1)


def test_ids_no_one_sent_are_phantoms() -> None:
    history = History()
    history.record("a", "ok")
    verdict = check(history, Counter({"a": 1, "zz": 1}))
    assert not verdict.valid
    assert verdict.phantom_ids == ["zz"]


def test_downstream_counts_above_and_below_the_distinct_scans() -> None:
    history = History()
    history.record_many(["a", "b"], "ok")
    verdict = check(history, Counter({"a": 1, "b": 1}))
    assert with_downstream(verdict, {"u1": 2}, {"u1": 2}).valid
    twice = with_downstream(verdict, {"u1": 2, "u2": 1}, {"u1": 3, "u2": 1})
    assert (twice.duplicated, twice.missing_downstream, twice.valid) == (1, 0, False)
    short = with_downstream(verdict, {"u1": 2}, {"u1": 1})
    assert (short.duplicated, short.missing_downstream, short.valid) == (0, 1, False)


def test_verdict_serialises_with_its_validity() -> None:
    history = History()
    history.record("a", "ok")
    body = check(history, Counter()).as_json()
    assert body["lost"] == 1
    assert body["valid"] is False
    assert body["attempts"] == {"ok": 1}
