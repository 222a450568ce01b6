"""The live driver's planning (no server): upload order, future scans held back, parents first."""

from __future__ import annotations

from datetime import date

import pytest

from scantrace_cli.sim.config import SimConfig
from scantrace_cli.sim.driver import (
    FUTURE_MARGIN_MS,
    MAX_SCANS_PER_REQUEST,
    plan_uploads,
    registry_levels,
)
from scantrace_cli.sim.generator import generate
from scantrace_cli.sim.tables import render_table
from scantrace_common.timeparse import day_bounds

pytestmark = pytest.mark.unit


def test_uploads_follow_upload_time_and_hold_back_the_future() -> None:
    workload = generate(SimConfig(people=400, start_date=date(2026, 3, 4), seed=2))
    noon = day_bounds(date(2026, 3, 4), workload.tz)[0] + 12 * 3_600_000
    uploads, not_due = plan_uploads(workload, noon)
    sent = [s for u in uploads for s in u.scans]
    assert not_due == sum(1 for s in workload.scans if s.scanned_at > noon + FUTURE_MARGIN_MS)
    assert len(sent) + not_due == len(workload.scans)
    assert [u.at for u in uploads] == sorted(u.at for u in uploads)
    for upload in uploads:
        assert len(upload.scans) <= MAX_SCANS_PER_REQUEST
        assert {s.person_id for s in upload.scans} <= {upload.person_id}
    assert any(len(u.scans) > 1 for u in uploads), "an offline phone uploads its day at once"


def test_registry_levels_put_parents_first() -> None:
    workload = generate(SimConfig(people=10, start_date=date(2026, 3, 4)))
    levels = registry_levels(workload.units)
    assert [u.level for u in levels[0]] == ["province"]
    created: set[str] = set()
    for level in levels:
        for unit in level:
            assert unit.parent_id is None or unit.parent_id in created
        created.update(u.unit_id for u in level)


def test_render_table_aligns_numbers_and_names() -> None:
    text = render_table(
        ("unit", "scans", "ratio"), [("Biên Hòa", 1234, 0.5), ("Xã Phú Lý", 7, None)]
    )
    lines = text.splitlines()
    assert lines[0].startswith("unit")
    assert "1,234" in lines[2]
    assert "50.0%" in lines[2]
    assert lines[3].rstrip().endswith("-")


def test_workload_as_topic_events_round_trips() -> None:
    from scantrace_cli.sim.events import to_events
    from scantrace_common.events import (
        DeclarationEvent,
        QuarantineEvent,
        ScanEvent,
        UnitEvent,
        VenueEvent,
        decode,
        encode,
    )

    workload = generate(
        SimConfig(people=200, start_date=date(2026, 3, 4), seed=6, quarantine_share=0.1)
    )
    events = to_events(workload, registered_at=1_772_500_000_000)
    assert len(events.scans) == len(workload.scans)
    for kind, items in (
        (ScanEvent, events.scans),
        (UnitEvent, events.units),
        (VenueEvent, events.venues),
        (DeclarationEvent, events.declarations),
        (QuarantineEvent, events.quarantines),
    ):
        for event in items:
            assert decode(kind, encode(event)) == event
