"""Random registries, scans, quarantines and declarations through the REAL reporter store on a
real Redis, against the brute-force reference in tests/reference (SPEC section 6).

Events arrive in random order: scans before or after their venue's registration, revocations
after scans of the same day, late scans of past days, duplicates, scans at unknown venues.
Every figure must equal the reference exactly, persons within 2%.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from tests.reference.compliance import reference_compliance
from tests.reference.model import Declaration, Quarantine, Scan, Unit, Venue
from tests.support.reporter import drop_namespace

pytestmark = pytest.mark.integration

TZ = "Asia/Ho_Chi_Minh"
HOUR = 3_600_000
DAY_MS = 24 * HOUR
#: Five days ago (local midnight): the data spans days BASE_DAY - 1 .. BASE_DAY + 4, inside retention.
BASE_DAY = local_date(int(time.time() * 1000), TZ) - timedelta(days=5)
BASE = day_bounds(BASE_DAY, TZ)[0]
PERSONS = [f"p{i}" for i in range(8)]
LEVELS = ("district", "commune", "agency")


@dataclass
class World:
    units: list[Unit]
    venues: list[Venue]
    scans: list[Scan]
    quarantines: list[Quarantine]
    declarations: list[Declaration]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    units = [Unit("P", None, "province", "Tỉnh P")]
    for i in range(draw(st.integers(1, 6))):
        parent = draw(st.sampled_from([u.unit_id for u in units]))
        units.append(Unit(f"u{i}", parent, draw(st.sampled_from(LEVELS)), f"=u{i}"))
    unit_ids = [u.unit_id for u in units]
    venues = []
    for i in range(draw(st.integers(0, 8))):
        registered = BASE + draw(st.integers(-DAY_MS, 4 * DAY_MS))
        delay = draw(st.none() | st.integers(0, 4 * DAY_MS))
        revoked = None if delay is None else registered + delay
        venues.append(
            Venue(f"v{i}", draw(st.sampled_from(unit_ids)), "shop", None, registered, revoked)
        )
    venue_ids = [v.venue_id for v in venues] + ["ghost"]
    scans: list[Scan] = []
    for i in range(draw(st.integers(0, 40))):
        at = BASE + draw(st.integers(-DAY_MS, 5 * DAY_MS - 1) | st.sampled_from([0, DAY_MS - 1]))
        scans.append(
            Scan(
                str(uuid.UUID(int=i + 1)),  # distinct scans have distinct ids
                draw(st.sampled_from(PERSONS)),
                draw(st.sampled_from(venue_ids)),
                draw(st.sampled_from(["in", "out"])),
                at,
            )
        )
    if scans:
        scans.extend(draw(st.lists(st.sampled_from(scans), max_size=8)))  # duplicates
    quarantines = []
    for _ in range(draw(st.integers(0, 5))):
        first = BASE_DAY + timedelta(days=draw(st.integers(-2, 4)))
        last = first + timedelta(days=draw(st.integers(0, 3)))
        quarantines.append(
            Quarantine(draw(st.sampled_from(PERSONS)), draw(st.sampled_from(unit_ids)), first, last)
        )
    declarations = []
    for i in range(draw(st.integers(0, 10))):
        declarations.append(
            Declaration(
                str(uuid.UUID(int=1000 + i)),
                draw(st.sampled_from(PERSONS)),
                BASE + draw(st.integers(-DAY_MS, 5 * DAY_MS - 1)),
            )
        )
    if declarations:
        declarations.extend(draw(st.lists(st.sampled_from(declarations), max_size=3)))
    return World(units, venues, scans, quarantines, declarations)


def _venue_event(venue: Venue, revoked: bool) -> VenueEvent:
    return VenueEvent(
        venue_id=venue.venue_id,
        name=venue.venue_id,
        kind=venue.kind,
        unit_id=venue.unit_id,
        registered_at=venue.registered_at,
        revoked_at=venue.revoked_at if revoked else None,
    )


def _scan_event(scan: Scan) -> ScanEvent:
    return ScanEvent(
        scan_id=scan.scan_id,
        person_id=scan.person_id,
        venue_id=scan.venue_id,
        direction=scan.direction,
        scanned_at=scan.scanned_at,
        received_at=scan.scanned_at,
        device_id="d",
    )


def _operations(world: World, rng: random.Random) -> list[tuple[str, Any]]:
    """Every event as one operation, in a random order that keeps only causal pairs ordered:
    a venue's revocation after its registration; units come first (the API needs parents)."""
    ops: list[tuple[str, Any]] = []
    scans = list(world.scans)
    rng.shuffle(scans)
    while scans:
        size = rng.randint(1, 12)
        ops.append(("scans", [_scan_event(s) for s in scans[:size]]))
        scans = scans[size:]
    for q in world.quarantines:
        ops.append(("quarantine", q))
    decls = list(world.declarations)
    rng.shuffle(decls)
    for i in range(0, len(decls), 4):
        ops.append(("declarations", decls[i : i + 4]))
    rng.shuffle(ops)
    for venue in world.venues:
        at = rng.randint(0, len(ops))
        ops.insert(at, ("venue", _venue_event(venue, revoked=False)))
        if venue.revoked_at is not None:
            ops.insert(rng.randint(at + 1, len(ops)), ("venue", _venue_event(venue, revoked=True)))
    return ops


async def _apply(store: ComplianceStore, world: World, ops: list[tuple[str, Any]]) -> None:
    await store.apply_units(
        [
            UnitEvent(unit_id=u.unit_id, name=u.name, parent_id=u.parent_id, level=u.level, at=0)  # type: ignore[arg-type]
            for u in world.units
        ]
    )
    for kind, payload in ops:
        if kind == "scans":
            await store.ingest_scans(payload)
        elif kind == "venue":
            await store.apply_venues([payload])
        elif kind == "quarantine":
            q: Quarantine = payload
            await store.apply_quarantines(
                [
                    QuarantineEvent(
                        person_id=q.person_id,
                        unit_id=q.unit_id,
                        from_date=q.from_date.isoformat(),
                        to_date=q.to_date.isoformat(),
                        registered_at=BASE,
                    )
                ]
            )
        else:
            await store.apply_declarations(
                [
                    DeclarationEvent(
                        declaration_id=d.declaration_id,
                        person_id=d.person_id,
                        declared_at=d.declared_at,
                        received_at=d.declared_at,
                        device_id="d",
                    )
                    for d in payload
                ]
            )


def _assert_same(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    got_persons, want_persons = got.pop("persons"), want.pop("persons")
    assert abs(got_persons - want_persons) <= 0.02 * want_persons, where
    got_children, want_children = got.pop("children", []), want.pop("children", [])
    assert got == want, where
    assert len(got_children) == len(want_children), where
    for got_child, want_child in zip(got_children, want_children, strict=True):
        _assert_same(got_child, want_child, where + "/" + want_child["unit_id"])


async def _check(redis_url: str, ns: str, world: World, seed: int) -> None:
    redis = connect(redis_url)
    try:
        clock = DayClock(TZ)
        store = ComplianceStore(redis, Keys(ns), Registry(clock), clock, retention_days=21)
        await store.load()
        await _apply(store, world, _operations(world, random.Random(seed)))
        # A second store loaded from the Redis view answers the same (restart).
        restarted = ComplianceStore(redis, Keys(ns), Registry(clock), clock, retention_days=21)
        await restarted.load()
        venue_events = list({v.venue_id: v for v in world.venues}.values())
        for offset in range(-1, 5):
            day: date = BASE_DAY + timedelta(days=offset)
            for unit in world.units:
                want = reference_compliance(
                    world.units,
                    venue_events,
                    world.scans,
                    world.quarantines,
                    world.declarations,
                    unit.unit_id,
                    day,
                    TZ,
                )
                for which in (store, restarted):
                    got = await which.compliance(unit.unit_id, day)
                    _assert_same(
                        got,
                        dict(want, children=[dict(c) for c in want["children"]]),
                        f"{unit.unit_id}@{day}",
                    )
    finally:
        await drop_namespace(redis, ns)
        await redis.aclose()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(world=worlds(), seed=st.integers(0, 2**32))
def test_compliance_matches_reference(
    redis_url: str, namespace: str, world: World, seed: int
) -> None:
    ns = f"{namespace}{uuid.uuid4().hex[:6]}."
    asyncio.run(_check(redis_url, ns, world, seed))
