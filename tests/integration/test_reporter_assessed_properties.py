"""Compliance's `venues_assessed` and `assessed_ratio` (SPEC 10) through the REAL reporter stores
on a real Redis, against the brute-force reference: random registries (of
test_reporter_compliance_properties), assessments and inspections in random order, and again
after a restart that reloads the safety view from Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scantrace_common.events import AssessmentEvent, InspectionEvent, UnitEvent
from scantrace_common.redis_client import connect
from scantrace_reporter.days import DayClock
from scantrace_reporter.keys import Keys
from scantrace_reporter.registry import Registry
from scantrace_reporter.safety import SafetyKeys, SafetyStore
from scantrace_reporter.store import ComplianceStore
from tests.integration.test_reporter_compliance_properties import (
    BASE,
    BASE_DAY,
    DAY_MS,
    TZ,
    World,
    _venue_event,
    worlds,
)
from tests.reference.compliance import reference_compliance
from tests.support.reporter import drop_namespace

pytestmark = pytest.mark.integration

HOUR = 3_600_000
#: Instants drawn around the days' ends, where the status at the last millisecond is decided.
NEAR_ENDS = st.integers(-1, 5).map(lambda d: BASE + d * DAY_MS) | st.integers(
    -DAY_MS, 5 * DAY_MS
).map(lambda offset: BASE + offset)


@st.composite
def safety_events(draw: st.DrawFn, venue_ids: list[str]) -> list[AssessmentEvent | InspectionEvent]:
    events: list[AssessmentEvent | InspectionEvent] = []
    for i in range(draw(st.integers(0, 12))):
        venue_id = draw(st.sampled_from([*venue_ids, "ghost"]))
        at = draw(NEAR_ENDS) + draw(st.sampled_from([-1, 0, 1, 7 * HOUR]))
        if draw(st.booleans()):
            events.append(
                AssessmentEvent(
                    assessment_id=str(uuid.UUID(int=i + 1)),
                    venue_id=venue_id,
                    set_id="s",
                    version=1,
                    answers={"c": "o"},
                    assessed_at=at,
                    points=1,
                    max_points=1,
                    percent=100.0,
                    level=draw(st.sampled_from(["green", "red"])),
                    valid_until=at + draw(st.sampled_from([1, DAY_MS - 1, DAY_MS, 2 * DAY_MS])),
                    by="t",
                )
            )
        else:
            events.append(
                InspectionEvent(
                    inspection_id=str(uuid.UUID(int=i + 1)),
                    venue_id=venue_id,
                    result=draw(st.sampled_from(["pass", "fail"])),
                    suspend=draw(st.booleans()),
                    staff_id="o",
                    at=at,
                )
            )
    return events


def _reference_events(events: list[AssessmentEvent | InspectionEvent]) -> dict[str, Any]:
    by_venue: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if isinstance(e, AssessmentEvent):
            record = {
                "type": "assessment",
                "assessment_id": e.assessment_id,
                "assessed_at": e.assessed_at,
                "level": e.level,
                "valid_until": e.valid_until,
            }
        else:
            record = {
                "type": "inspection",
                "inspection_id": e.inspection_id,
                "at": e.at,
                "result": e.result,
                "suspend": e.suspend,
            }
        by_venue.setdefault(e.venue_id, []).append(record)
    return by_venue


async def _check(
    redis_url: str,
    ns: str,
    world: World,
    events: list[AssessmentEvent | InspectionEvent],
    seed: int,
) -> None:
    redis = connect(redis_url)
    try:
        clock = DayClock(TZ)
        store = ComplianceStore(redis, Keys(ns), Registry(clock), clock, retention_days=21)
        await store.apply_units(
            [
                UnitEvent(
                    unit_id=u.unit_id,
                    name=u.name,
                    parent_id=u.parent_id,
                    level=u.level,  # type: ignore[arg-type]
                    at=0,
                )
                for u in world.units
            ]
        )
        for venue in world.venues:
            await store.apply_venues([_venue_event(venue, revoked=venue.revoked_at is not None)])
        safety = SafetyStore(redis, SafetyKeys(ns))
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        for event in shuffled:
            if isinstance(event, AssessmentEvent):
                await safety.apply_assessments([event])
            else:
                await safety.apply_inspections([event])
        restarted = SafetyStore(redis, SafetyKeys(ns))
        await restarted.load()
        reference = _reference_events(events)
        for view in (safety, restarted):
            store.safety = view
            for offset in range(-1, 5):
                day = BASE_DAY + timedelta(days=offset)
                for unit in world.units:
                    want = reference_compliance(
                        world.units, world.venues, [], [], [], unit.unit_id, day, TZ, reference
                    )
                    got = await store.compliance(unit.unit_id, day)
                    where = f"{unit.unit_id}@{day}"
                    assert got["venues_assessed"] == want["venues_assessed"], where
                    assert got["assessed_ratio"] == want["assessed_ratio"], where
    finally:
        await drop_namespace(redis, ns)
        await redis.aclose()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), world=worlds(), seed=st.integers(0, 2**32))
def test_venues_assessed_matches_reference(
    redis_url: str, namespace: str, data: st.DataObject, world: World, seed: int
) -> None:
    events = data.draw(safety_events([v.venue_id for v in world.venues]))
    ns = f"{namespace}{uuid.uuid4().hex[:6]}."
    asyncio.run(_check(redis_url, ns, world, events, seed))
