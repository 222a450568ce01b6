"""SCANTRACE_CLUSTER_THRESHOLDS and the follow-up settings are checked when the settings are read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scantrace_tracer.settings import TracerSettings

pytestmark = pytest.mark.unit


def test_defaults_are_spec_11s() -> None:
    settings = TracerSettings()
    assert (settings.thresholds, settings.follow_up_days) == ({}, 14)
    assert (settings.follow_up_quarantine, settings.follow_up_unit) == (False, None)


def test_thresholds_are_parsed_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCANTRACE_CLUSTER_THRESHOLDS", " market=5, school=2 ")
    monkeypatch.setenv("SCANTRACE_FOLLOW_UP_QUARANTINE", "on")
    monkeypatch.setenv("SCANTRACE_FOLLOW_UP_UNIT", "dn")
    settings = TracerSettings()
    assert settings.thresholds == {"market": 5, "school": 2}
    assert (settings.follow_up_quarantine, settings.follow_up_unit) == (True, "dn")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("market", r"item 1 \('market'\): expected kind=n"),
        ("market=2,markte=3", "unknown venue kind 'markte'"),
        ("market=0", "integer >= 1"),
    ],
)
def test_malformed_thresholds_refuse_to_start(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TracerSettings(cluster_thresholds=value)


def test_quarantine_on_needs_a_unit() -> None:
    with pytest.raises(ValidationError, match="needs SCANTRACE_FOLLOW_UP_UNIT"):
        TracerSettings(follow_up_quarantine=True)
    with pytest.raises(ValidationError, match="unit id"):
        TracerSettings(follow_up_quarantine=True, follow_up_unit="not a unit")


def test_follow_up_days_is_bounded() -> None:
    with pytest.raises(ValidationError):
        TracerSettings(follow_up_days=0)
