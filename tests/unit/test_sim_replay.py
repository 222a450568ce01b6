"""Replay of the real data sets in ../shared/data (skipped when the folder is not there)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from scantrace_cli.commands.replay import default_data_dir
from scantrace_cli.sim.replay import DATASETS, load_dataset
from scantrace_cli.sim.replay.sessions import Record, sessions_to_scans
from scantrace_common.ids import is_valid_id, is_valid_uuid
from scantrace_common.timeparse import local_date
from scantrace_common.venue_kinds import VENUE_KINDS

pytestmark = pytest.mark.unit

DATA = default_data_dir()
END = date(2026, 3, 6)
TZ = "Asia/Ho_Chi_Minh"


def test_sessions_merge_close_records_and_split_on_venue_change() -> None:
    m = 60_000
    records = [
        Record("p", "a", 0, 20_000),
        Record("p", "a", 5 * m, 5 * m + 20_000),  # within the gap: same session
        Record("p", "b", 30 * m, 30 * m + 20_000),  # another venue
        Record("p", "a", 31 * m, 31 * m + 20_000),
    ]
    scans = sessions_to_scans(records, gap_ms=10 * m, namespace="t")
    assert [(s.venue_id, s.direction, s.scanned_at) for s in scans] == [
        ("a", "in", 0),
        ("a", "out", 5 * m + 20_000),
        ("b", "in", 30 * m),
        ("b", "out", 30 * m + 20_000),
        ("a", "in", 31 * m),
        ("a", "out", 31 * m + 20_000),
    ]
    assert sessions_to_scans(records, gap_ms=10 * m, namespace="t") == scans


@pytest.mark.skipif(not DATA.is_dir(), reason=f"no data sets at {DATA}")
@pytest.mark.parametrize("name", DATASETS)
def test_each_data_set_becomes_a_valid_workload(name: str) -> None:
    workload = load_dataset(name, DATA, end_date=END, tz=TZ, limit=3_000)
    assert workload.last_date == END.isoformat()
    venue_ids = {v.venue_id for v in workload.venues}
    assert all(is_valid_id(v) for v in venue_ids)
    assert all(v.kind in VENUE_KINDS for v in workload.venues)
    assert workload.scans
    for scan in workload.scans:
        assert is_valid_uuid(scan.scan_id)
        assert is_valid_id(scan.person_id)
        assert scan.venue_id in venue_ids
        assert local_date(scan.scanned_at, TZ) <= END
    assert len({s.scan_id for s in workload.scans}) == len(workload.scans)


@pytest.mark.skipif(not DATA.is_dir(), reason=f"no data sets at {DATA}")
def test_contacts_become_co_presence() -> None:
    """Every SocioPatterns contact lies inside sessions of both people at one venue."""
    workload = load_dataset("sociopatterns-workplace-2013", DATA, end_date=END, tz=TZ, limit=500)
    sessions: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    opened: dict[str, tuple[str, int]] = {}
    for s in sorted(workload.scans, key=lambda s: (s.person_id, s.scanned_at, s.direction == "in")):
        if s.direction == "in":
            opened[s.person_id] = (s.venue_id, s.scanned_at)
        else:
            venue, start = opened.pop(s.person_id)
            sessions[s.person_id].append((venue, start, s.scanned_at))
    shared = 0
    persons = sorted(sessions)
    for i, a in enumerate(persons):
        for b in persons[i + 1 :]:
            for va, sa, ea in sessions[a]:
                for vb, sb, eb in sessions[b]:
                    if va == vb and max(sa, sb) < min(ea, eb):
                        shared += 1
    assert shared > 0
