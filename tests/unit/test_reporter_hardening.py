"""Issue #14 findings of the reporter that need no server: one day parser that refuses what the
reporter cannot compute, the accepted windows of days (5), and metrics without per-unit figures
(11)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from scantrace_common.http import as_api_error
from scantrace_common.kafka import KafkaUnavailable
from scantrace_common.metrics import exposition
from scantrace_reporter.app import TRANSLATIONS
from scantrace_reporter.days import (
    DayClock,
    DayRefused,
    check_quarantine,
    parse_day,
    query_window,
)

pytestmark = pytest.mark.unit
TODAY = date(2026, 12, 4)
METRICS_TXT = Path(__file__).resolve().parents[2] / "deploy" / "metrics.txt"


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31",
        "0001-01-01",
        "1969-12-30",
        "２０２１-05-17",
        "2021-05-17\n",
        "2021-5-17",
        20210517,
    ],
)
def test_finding_5_parse_day_refuses_what_cannot_be_computed(text: object) -> None:
    with pytest.raises(ValueError, match=r".+"):
        parse_day(text)


def test_finding_5_the_days_that_parse_can_be_computed_with() -> None:
    for text in ("9999-12-30", "1969-12-31"):
        for tz in ("Pacific/Kiritimati", "Etc/GMT+12"):
            clock = DayClock(tz)
            start, end = clock.bounds(parse_day(text))
            assert start < end
            assert clock.expire_at_s(parse_day(text), 21) > end // 1000


def test_finding_5_a_quarantine_lies_within_a_year_of_its_registration() -> None:
    check_quarantine(TODAY - timedelta(days=30), TODAY + timedelta(days=5), TODAY)
    check_quarantine(TODAY, TODAY + timedelta(days=366), TODAY)
    for first, last in (
        (date(9999, 12, 1), date(9999, 12, 30)),
        (TODAY - timedelta(days=367), TODAY),
        (TODAY, TODAY + timedelta(days=367)),
        (TODAY, TODAY - timedelta(days=1)),
    ):
        with pytest.raises(DayRefused):
            check_quarantine(first, last, TODAY)


def test_finding_5_queries_ask_about_days_with_figures() -> None:
    window = query_window(TODAY, retention_days=21)
    assert window.check("date", TODAY - timedelta(days=21)) == TODAY - timedelta(days=21)
    assert window.check("date", TODAY + timedelta(days=366)) == TODAY + timedelta(days=366)
    for day in (TODAY - timedelta(days=22), TODAY + timedelta(days=367), date(9999, 12, 30)):
        with pytest.raises(DayRefused, match="date"):
            window.check("date", day)


def test_finding_11_metrics_hold_no_per_unit_figures() -> None:
    text = exposition()[0].decode()
    families = {
        name.removesuffix("_total")
        for name in re.findall(r"# TYPE (scantrace_reporter_\w+) ", text)
    }
    assert families == {
        "scantrace_reporter_events_processed",
        "scantrace_reporter_consumer_lag_messages",
        "scantrace_reporter_compliance_query_duration_seconds",
        "scantrace_reporter_dlq_events",
    }
    assert not [line for line in text.splitlines() if "unit_id" in line]
    listed = [line for line in METRICS_TXT.read_text().splitlines() if "_ratio " in line]
    assert not listed


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (KafkaUnavailable("broker gone"), 503),
        (RedisConnectionError("refused"), 503),
        (RedisTimeoutError("slow"), 503),
        (DayRefused("from: 2500-01-01 is outside"), 422),
    ],
)
def test_domain_exceptions_are_answered_not_500(exc: Exception, status: int) -> None:
    error = as_api_error(exc, TRANSLATIONS)
    assert error.status == status
    if status == 503:
        assert error.headers["Retry-After"] == "5"
