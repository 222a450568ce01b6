"""Targeted cases of the compliance store on a real Redis: registry changes after the scans."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from scantrace_common.events import (
    DeclarationEvent,
    QuarantineEvent,
    ScanEvent,
    UnitEvent,
    VenueEvent,
)
from scantrace_common.redis_client import connect
from scantrace_common.timeparse import day_bounds, local_date
from scantrace_reporter.days import DayClock
from scantrace_reporter.keys import Keys
from scantrace_reporter.registry import Registry
from scantrace_reporter.store import ComplianceStore

pytestmark = pytest.mark.integration
TZ = "Asia/Ho_Chi_Minh"
DAY = local_date(int(time.time() * 1000), TZ) - timedelta(days=3)
START, END = day_bounds(DAY, TZ)
HOUR = 3_600_000


@pytest.fixture
async def store(redis_url: str, namespace: str) -> AsyncIterator[ComplianceStore]:
    redis = connect(redis_url)
    clock = DayClock(TZ)
    store = ComplianceStore(redis, Keys(namespace), Registry(clock), clock, retention_days=21)
    await store.apply_units(
        [
            UnitEvent(unit_id="P", name="P", parent_id=None, level="province", at=0),
            UnitEvent(unit_id="D", name="D", parent_id="P", level="district", at=0),
            UnitEvent(unit_id="C", name="C", parent_id="D", level="commune", at=0),
        ]
    )
    yield store
    keys = [k async for k in redis.scan_iter(match=f"*{namespace}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def venue(venue_id: str, registered: int, revoked: int | None = None) -> VenueEvent:
    return VenueEvent(
        venue_id=venue_id,
        name=venue_id,
        kind="shop",
        unit_id="C",
        registered_at=registered,
        revoked_at=revoked,
    )


def scans(venue_id: str, persons: list[str], at: int) -> list[ScanEvent]:
    return [
        ScanEvent(
            scan_id=str(uuid.uuid4()),
            person_id=p,
            venue_id=venue_id,
            direction="in",
            scanned_at=at + i,
            received_at=at,
            device_id="d",
        )
        for i, p in enumerate(persons)
    ]


async def figures(store: ComplianceStore, unit: str, day: date = DAY) -> dict[str, object]:
    return await store.compliance(unit, day)


async def test_revocation_after_scans_takes_the_venue_out_of_that_day(
    store: ComplianceStore,
) -> None:
    await store.apply_venues([venue("a", START - 48 * HOUR), venue("b", START - 48 * HOUR)])
    await store.ingest_scans(scans("a", ["p1", "p2", "p3"], START + HOUR))
    await store.ingest_scans(scans("b", ["p3", "p4"], START + HOUR))
    await store.ingest_scans(scans("a", ["p1"], START - 20 * HOUR))  # the day before
    before = await figures(store, "P")
    assert (before["scans"], before["persons"], before["venues_active"]) == (5, 4, 2)
    # Revoked in the evening of DAY: not registered on DAY any more, still on the day before.
    await store.apply_venues([venue("a", START - 48 * HOUR, START + 20 * HOUR)])
    after = await figures(store, "P")
    assert (after["scans"], after["persons"], after["venues_active"]) == (2, 2, 1)
    assert after["venues_registered"] == 1
    assert (await figures(store, "C"))["persons"] == 2
    previous = await figures(store, "P", DAY - timedelta(days=1))
    assert (previous["scans"], previous["venues_registered"]) == (1, 2)
    # The consumer re-reading the older registration event does not undo the revocation.
    await store.apply_venues([venue("a", START - 48 * HOUR)])
    assert (await figures(store, "P"))["scans"] == 2
    assert store.registry.venues["a"].revoked_at is not None
    # A late scan at the revoked venue for DAY is kept aside, never counted.
    await store.ingest_scans(scans("a", ["p9"], START + 2 * HOUR))
    assert (await figures(store, "P"))["scans"] == 2
    # Duplicates never count twice, whatever the batch.
    again = scans("b", ["p5"], START + 3 * HOUR)
    assert (await store.ingest_scans(again + again)).new == 1
    assert (await store.ingest_scans(again)).new == 0


async def test_scans_before_the_registration_event_count_once_it_arrives(
    store: ComplianceStore,
) -> None:
    await store.ingest_scans(scans("late-reg", ["p1", "p2"], START + HOUR))
    assert (await figures(store, "P"))["scans"] == 0
    await store.apply_venues([venue("late-reg", START - HOUR)])
    body = await figures(store, "P")
    assert (body["scans"], body["persons"], body["venues_active"], body["venues_registered"]) == (
        2,
        2,
        1,
        1,
    )
    # Registered after DAY: nothing on DAY.
    await store.apply_venues([venue("future", END + HOUR)])
    await store.ingest_scans(scans("future", ["p7"], START + HOUR))
    assert (await figures(store, "P"))["venues_registered"] == 1


async def test_declarations_of_quarantined_persons_in_any_order(store: ComplianceStore) -> None:
    await store.apply_declarations(
        [
            DeclarationEvent(
                declaration_id=str(uuid.uuid4()),
                person_id=p,
                declared_at=START + HOUR,
                received_at=START,
                device_id="d",
            )
            for p in ("q1", "x")
        ]
    )
    await store.apply_quarantines(
        [
            QuarantineEvent(
                person_id=p,
                unit_id="C",
                from_date=(DAY - timedelta(days=1)).isoformat(),
                to_date=DAY.isoformat(),
                registered_at=START,
            )
            for p in ("q1", "q2")
        ]
    )
    body = await figures(store, "P")
    assert (body["quarantined"], body["declarations_done"], body["declaration_ratio"]) == (
        2,
        1,
        0.5,
    )
    assert (await figures(store, "P", DAY + timedelta(days=1)))["quarantined"] == 0


async def test_every_day_key_expires(store: ComplianceStore) -> None:
    await store.apply_venues([venue("a", START - 48 * HOUR), venue("b", START - 48 * HOUR)])
    await store.ingest_scans(scans("a", ["p1", "p2"], START + HOUR))
    await store.ingest_scans(scans("b", ["p3"], START + HOUR) + scans("ghost", ["p4"], START))
    await store.apply_venues([venue("a", START - 48 * HOUR, START + 2 * HOUR)])
    await store.apply_quarantines(
        [
            QuarantineEvent(
                person_id="q",
                unit_id="C",
                from_date=DAY.isoformat(),
                to_date=DAY.isoformat(),
                registered_at=START,
            )
        ]
    )
    keys = [k async for k in store.redis.scan_iter(match=store.keys.day(DAY) + "*")]
    assert len(keys) > 8
    for key in keys:
        assert await store.redis.ttl(key) > 0, key
