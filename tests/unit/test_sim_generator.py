"""The province generator: deterministic for a seed, and its output in SPEC formats."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from scantrace_cli.sim.config import SimConfig
from scantrace_cli.sim.generator import MAX_UPLOAD_DELAY, generate
from scantrace_cli.sim.model import Workload
from scantrace_cli.sim.province import DISTRICTS, build_units
from scantrace_cli.sim.venues import DISTRICT_BOXES, build_venues, kind_counts
from scantrace_common.ids import is_valid_id, is_valid_uuid
from scantrace_common.timeparse import day_bounds, local_date
from scantrace_common.venue_kinds import VENUE_KINDS

pytestmark = pytest.mark.unit

START = date(2026, 3, 2)  # a Monday
TZ = "Asia/Ho_Chi_Minh"


@pytest.fixture(scope="module")
def workload() -> Workload:
    return generate(
        SimConfig(people=1_500, days=3, start_date=START, seed=11, quarantine_share=0.05)
    )


def test_same_seed_same_workload(workload: Workload) -> None:
    again = generate(
        SimConfig(people=1_500, days=3, start_date=START, seed=11, quarantine_share=0.05)
    )
    assert again == workload


def test_another_seed_another_workload(workload: Workload) -> None:
    other = generate(
        SimConfig(people=1_500, days=3, start_date=START, seed=12, quarantine_share=0.05)
    )
    assert other.scans != workload.scans


def test_the_province_is_dong_nai_shaped() -> None:
    units, communes = build_units()
    levels = Counter(u.level for u in units)
    assert levels["province"] == 1
    assert levels["district"] == 11  # 2 cities and 9 districts
    assert 160 <= levels["commune"] <= 180
    assert levels["agency"] >= 10
    assert len(communes) == levels["commune"]
    names = {u.name for u in units}
    assert {"Thành phố Biên Hòa", "Thành phố Long Khánh", "Huyện Nhơn Trạch", "Sở Y tế"} <= names
    assert len(DISTRICTS) == 11


def test_units_form_a_tree_with_valid_ids(workload: Workload) -> None:
    ids = [u.unit_id for u in workload.units]
    assert len(ids) == len(set(ids))
    seen: set[str] = set()
    for unit in workload.units:  # parents come first
        assert is_valid_id(unit.unit_id)
        assert unit.parent_id is None or unit.parent_id in seen
        assert unit.level in ("province", "district", "commune", "agency")
        assert 1 <= len(unit.name) <= 200
        seen.add(unit.unit_id)


def test_venues_cover_every_kind_with_valid_fields(workload: Workload) -> None:
    unit_ids = {u.unit_id for u in workload.units}
    ids = [v.venue_id for v in workload.venues]
    assert len(ids) == len(set(ids))
    for venue in workload.venues:
        assert is_valid_id(venue.venue_id)
        assert venue.kind in VENUE_KINDS
        assert venue.unit_id in unit_ids
        assert venue.default_dwell_minutes is None or 1 <= venue.default_dwell_minutes <= 1440
    kinds = Counter(v.kind for v in workload.venues)
    assert set(kinds) == VENUE_KINDS
    assert kinds["shop"] > kinds["hospital"]


def test_venues_lie_inside_their_district() -> None:
    _, communes = build_units()
    index = build_venues(random.Random(5), communes, 600)
    assert set(DISTRICT_BOXES) == {d.code for d in DISTRICTS}
    for venue in index.venues:
        south, west, north, east = DISTRICT_BOXES[index.district_of[venue.venue_id]]
        assert venue.lat is not None
        assert venue.lon is not None
        assert south <= venue.lat <= north
        assert west <= venue.lon <= east
    again = build_venues(random.Random(5), communes, 600)
    assert [(v.lat, v.lon) for v in again.venues] == [(v.lat, v.lon) for v in index.venues]


def test_kind_counts_add_up() -> None:
    for total in (13, 60, 999, 2_000):
        counts = kind_counts(total)
        assert sum(counts.values()) == total
        assert min(counts.values()) >= 1


def test_scans_obey_the_formats(workload: Workload) -> None:
    venue_ids = {v.venue_id for v in workload.venues}
    person_ids = {p.person_id for p in workload.persons if p.scans}
    first, _ = day_bounds(START, TZ)
    _, last = day_bounds(START + timedelta(days=2), TZ)
    assert workload.scans
    for scan in workload.scans:
        assert is_valid_uuid(scan.scan_id)
        assert scan.person_id in person_ids
        assert scan.venue_id in venue_ids
        assert scan.direction in ("in", "out")
        assert first <= scan.scanned_at < last
        assert scan.scanned_at % 1000 == 0
        assert 0 < scan.uploaded_at - scan.scanned_at <= MAX_UPLOAD_DELAY


def test_behaviours_show_up(workload: Workload) -> None:
    by_id = Counter(s.scan_id for s in workload.scans)
    assert any(n > 1 for n in by_id.values()), "retried uploads repeat a scan_id"
    assert any(s.uploaded_at - s.scanned_at > 3_600_000 for s in workload.scans), "offline uploads"
    assert any(not p.scans for p in workload.persons), "people without the app"
    directions = Counter(s.direction for s in workload.scans)
    assert directions["out"] < directions["in"], "forgotten check-outs"
    weekdays = {local_date(s.scanned_at, TZ).weekday() for s in workload.scans}
    assert weekdays == {0, 1, 2}


def test_retried_scans_are_identical(workload: Workload) -> None:
    first_seen: dict[str, tuple[str, str, str, int]] = {}
    for s in workload.scans:
        content = (s.person_id, s.venue_id, s.direction, s.scanned_at)
        assert first_seen.setdefault(s.scan_id, content) == content


def test_quarantines_and_declarations(workload: Workload) -> None:
    assert workload.quarantines
    quarantined = {q.person_id for q in workload.quarantines}
    unit_ids = {u.unit_id for u in workload.units}
    for q in workload.quarantines:
        assert q.unit_id in unit_ids
        assert date.fromisoformat(q.from_date) <= date.fromisoformat(q.to_date)
        assert date.fromisoformat(q.to_date) >= START
    assert workload.declarations
    for d in workload.declarations:
        assert is_valid_uuid(d.declaration_id)
        assert d.person_id in quarantined
    # Some quarantined people forget some days.
    days = 3
    assert len(workload.declarations) < len(workload.quarantines) * days


def test_a_persons_scans_do_not_overlap_in_time(workload: Workload) -> None:
    """Stays never overlap, so a person's `in` scans are strictly ordered by time per day."""
    last_in: dict[str, int] = {}
    for s in sorted(workload.scans, key=lambda s: (s.person_id, s.scanned_at)):
        if s.direction == "in":
            assert s.scanned_at >= last_in.get(s.person_id, 0)
            last_in[s.person_id] = s.scanned_at
