"""Rate-limit configuration and token buckets."""

from __future__ import annotations

import pytest

from scantrace_gateway.ratelimit import Limit, TokenBuckets, parse_rate_limits

pytestmark = pytest.mark.unit


def test_parse() -> None:
    assert parse_rate_limits("off") == {}
    assert parse_rate_limits("device=2:5") == {"device": Limit(2.0, 5.0)}
    assert set(parse_rate_limits("default")) == {"device", "address", "enrol"}
    for bad in ("device", "bogus=1", "device=0", "device=1:0", "device=x"):
        with pytest.raises(ValueError, match=r"."):
            parse_rate_limits(bad)


def test_bucket_refills_at_its_rate() -> None:
    buckets = TokenBuckets(Limit(rate=2.0, burst=2.0))
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == 0.0
    assert buckets.take("a", now=0.0) == pytest.approx(0.5)
    assert buckets.take("a", now=0.5) == 0.0
    assert buckets.take("b", now=0.5) == 0.0
