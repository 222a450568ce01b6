"""SPEC 11 clusters in the tracer, against the session's real Kafka and Redis.

Three cases' persons at one market over two hours: the first two cases make no cluster (the
threshold is 3), the third makes one, published on `clusters.v1` and listed by
`GET /v1/clusters`; at a shop, `SCANTRACE_CLUSTER_THRESHOLDS=shop=2` makes two enough. A rebuild
from Kafka restores the lists and the cases' presences.
"""

from __future__ import annotations

import uuid

import pytest

from scantrace_common.events import ClustersEvent, ScanEvent, VenueEvent, decode, encode
from scantrace_common.kafka import DurableProducer
from scantrace_common.redis_client import connect
from scantrace_common.timeparse import format_time
from scantrace_common.topics import CLUSTERS, SCANS, topic_name
from scantrace_tracer.cluster_store import stored_clusters
from scantrace_tracer.clusters import HOUR_MS, cluster_id
from scantrace_tracer.ingest import Record
from scantrace_tracer.keys import Keys
from scantrace_tracer.rebuild import rebuild
from scantrace_tracer.store import TracerStore, wall_clock_ms
from tests.chaos.kafka_log import read_values
from tests.integration.test_tracer_follow_ups import _open_done, app_ingest, tracer_app
from tests.integration.test_tracer_hardening import (
    DAY_MS,
    _auth,
    _scan,
    _settings,
    topics,  # noqa: F401 - the fixture
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MINUTE = 60_000


def _venue(venue_id: str, kind: str) -> VenueEvent:
    return VenueEvent(venue_id=venue_id, name=venue_id, kind=kind, unit_id="dn", registered_at=0)


async def _visits(
    kafka_bootstrap: str, redis_url: str, namespace: str, scans: list[ScanEvent]
) -> None:
    """To scans.v1 (for the rebuild) and into the store (the worker's work, done here)."""
    producer = DurableProducer(kafka_bootstrap, client_id="test-scans")
    await producer.start()
    try:
        await producer.send_batch(
            topic_name(SCANS, namespace), [(s.venue_id.encode(), encode(s)) for s in scans]
        )
    finally:
        await producer.stop()
    redis = connect(redis_url)
    try:
        await TracerStore(redis, Keys(namespace)).apply_scans(scans)
    finally:
        await redis.aclose()


async def _nowhere(*_: object) -> None:
    """No poison here: nothing is dead-lettered."""


def _stay(person: str, venue: str, start: int, end: int) -> list[ScanEvent]:
    return [_scan(person, venue, "in", start), _scan(person, venue, "out", end)]


# Ends with a rebuild, which reads each topic up to its end offsets: Tansu advances them by
# fewer than a batch's records, so a rebuild there stops early.
@pytest.mark.kafka_only
async def test_three_cases_at_a_market_make_a_cluster(
    kafka_bootstrap: str,
    redis_url: str,
    topics: str,  # noqa: F811 - the fixture
) -> None:
    sub = f"epi-{uuid.uuid4().hex[:6]}"
    now = wall_clock_ms()
    h = (now - 2 * DAY_MS) // HOUR_MS * HOUR_MS
    scans = [
        *_stay("c-1", "v-market", h + 10 * MINUTE, h + 130 * MINUTE),
        *_stay("c-2", "v-market", h + 20 * MINUTE, h + 80 * MINUTE),
        *_stay("c-3", "v-market", h + 30 * MINUTE, h + 100 * MINUTE),
        # the shop, a day later: c-1 and c-2 within hour h + 1 day
        *_stay("c-1", "v-shop", h + DAY_MS + 5 * MINUTE, h + DAY_MS + 25 * MINUTE),
        *_stay("c-2", "v-shop", h + DAY_MS + 10 * MINUTE, h + DAY_MS + 40 * MINUTE),
    ]
    await _visits(kafka_bootstrap, redis_url, topics, scans)
    settings = _settings(kafka_bootstrap, redis_url, topics, cluster_thresholds="shop=2")
    window = {"from": format_time(h - DAY_MS), "to": format_time(now)}
    async with tracer_app(settings) as (app, client):
        ingest = app_ingest(app, topics, _nowhere)
        venues = [_venue("v-market", "market"), _venue("v-shop", "shop")]
        await ingest.handle_venues(
            [Record("venues", 0, n, None, encode(v)) for n, v in enumerate(venues)]
        )
        cases = [
            await _open_done(client, sub, "c-1", now),
            await _open_done(client, sub, "c-2", now),
        ]
        before = await client.get("/v1/clusters", params=window, headers=_auth(sub))
        cases.append(await _open_done(client, sub, "c-3", now))
        after = await client.get("/v1/clusters", params=window, headers=_auth(sub))
        by_unit = await client.get(
            "/v1/clusters", params={**window, "unit_id": "dn"}, headers=_auth(sub)
        )
    shop = {
        "cluster_id": cluster_id("v-shop", h + DAY_MS),
        "venue_id": "v-shop",
        "start": format_time(h + DAY_MS),
        "end": format_time(h + DAY_MS + HOUR_MS),
        "cases": sorted(cases[:2]),
        "status": "open",
        "closes_at": format_time(h + DAY_MS + HOUR_MS + 14 * DAY_MS),
    }
    market = {
        "cluster_id": cluster_id("v-market", h),
        "venue_id": "v-market",
        "start": format_time(h),
        "end": format_time(h + 2 * HOUR_MS),
        "cases": sorted(cases),
        "status": "open",
        "closes_at": format_time(h + 2 * HOUR_MS + 14 * DAY_MS),
    }
    assert before.json() == {"clusters": [shop]}
    assert after.json() == {"clusters": [market, shop]}
    assert by_unit.status_code == 422
    published = [
        decode(ClustersEvent, v)
        for v in await read_values(kafka_bootstrap, topic_name(CLUSTERS, topics))
    ]
    # one event per venue whose list changed: the shop after c-2, the market after c-3
    assert sorted((e.venue_id, [c.cluster_id for c in e.clusters]) for e in published) == [
        ("v-market", [market["cluster_id"]]),
        ("v-shop", [shop["cluster_id"]]),
    ]
    assert {e.venue_id: e.clusters[0].cases for e in published} == {
        "v-shop": sorted(cases[:2]),
        "v-market": sorted(cases),
    }
    redis = connect(redis_url)
    keys = Keys(topics)
    try:
        presences = await redis.hgetall(keys.case_presences("v-market"))
        report = await rebuild(settings)
        assert await redis.hgetall(keys.case_presences("v-market")) == presences
        assert stored_clusters(await redis.get(keys.venue_clusters("v-market")))[0].cases == tuple(
            sorted(cases)
        )
    finally:
        await redis.aclose()
    assert (report.cluster_events, report.case_events) == (2, 3)
    async with tracer_app(settings) as (_, client):
        again = await client.get("/v1/clusters", params=window, headers=_auth(sub))
    assert again.json() == after.json()
