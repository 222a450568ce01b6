"""Time parsing and formatting (SPEC section 2) and local days (SPEC section 6)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scantrace_common.timeparse import day_bounds, format_time, local_date, parse_time

pytestmark = pytest.mark.unit


def test_rfc3339_with_offsets() -> None:
    assert parse_time("2021-05-17T08:30:00+07:00") == 1621215000000
    assert parse_time("2021-05-17T01:30:00Z") == 1621215000000
    assert parse_time("2021-05-17T01:30:00.250z") == 1621215000250
    assert parse_time(1621215000000) == 1621215000000


@pytest.mark.parametrize(
    "value", ["2021-05-17", "2021-05-17T08:30:00", "yesterday", "", -5, True, 1.5, "x" * 100]
)
def test_bad_times_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match=r"time|range|RFC"):
        parse_time(value)  # type: ignore[arg-type]


def test_format_is_utc_with_z() -> None:
    assert format_time(1621215000000) == "2021-05-17T01:30:00Z"
    assert format_time(1621215000250) == "2021-05-17T01:30:00.250Z"


@given(st.integers(min_value=0, max_value=4_102_444_800_000))
def test_format_then_parse_is_identity(ms: int) -> None:
    assert parse_time(format_time(ms)) == ms


def test_local_days_in_ho_chi_minh() -> None:
    start, end = day_bounds(date(2021, 5, 17), "Asia/Ho_Chi_Minh")
    assert format_time(start) == "2021-05-16T17:00:00Z"
    assert end - start == 24 * 3600 * 1000
    assert local_date(start, "Asia/Ho_Chi_Minh") == date(2021, 5, 17)
    assert local_date(start - 1, "Asia/Ho_Chi_Minh") == date(2021, 5, 16)


def test_dst_days_are_not_24_hours() -> None:
    start, end = day_bounds(date(2021, 3, 28), "Europe/Paris")
    assert end - start == 23 * 3600 * 1000
