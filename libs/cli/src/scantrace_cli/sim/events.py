"""A workload as the events the stack would have accepted, for benchmarks that feed Kafka directly.

The HTTP path adds `received_at` and `device_id` to each scan; here `received_at` is the
upload time (clamped to be no earlier than the scan) and `device_id` is derived from the person, so
ingest benchmarks can skip the gateway and still send exactly the events it would have produced.
"""

from __future__ import annotations

from dataclasses import dataclass

from scantrace_cli.sim.model import Workload
from scantrace_common.events import (
    DeclarationEvent,
    Location,
    QuarantineEvent,
    ScanEvent,
    UnitEvent,
    VenueEvent,
)


@dataclass(frozen=True)
class WorkloadEvents:
    units: list[UnitEvent]
    venues: list[VenueEvent]
    quarantines: list[QuarantineEvent]
    scans: list[ScanEvent]
    declarations: list[DeclarationEvent]


def device_of(person_id: str) -> str:
    return f"d-{person_id}"[:64]


def to_events(workload: Workload, registered_at: int) -> WorkloadEvents:
    """Every record as its topic's event; the registry and quarantines stamped `registered_at`."""
    return WorkloadEvents(
        units=[
            UnitEvent(
                unit_id=u.unit_id,
                name=u.name,
                parent_id=u.parent_id,
                level=u.level,
                at=registered_at,
            )
            for u in workload.units
        ],
        venues=[
            VenueEvent(
                venue_id=v.venue_id,
                name=v.name,
                kind=v.kind,
                unit_id=v.unit_id,
                default_dwell_minutes=v.default_dwell_minutes,
                registered_at=registered_at,
                location=None if v.lat is None or v.lon is None else Location(lat=v.lat, lon=v.lon),
            )
            for v in workload.venues
        ],
        quarantines=[
            QuarantineEvent(
                person_id=q.person_id,
                unit_id=q.unit_id,
                from_date=q.from_date,
                to_date=q.to_date,
                registered_at=registered_at,
            )
            for q in workload.quarantines
        ],
        scans=[
            ScanEvent(
                scan_id=s.scan_id,
                person_id=s.person_id,
                venue_id=s.venue_id,
                direction=s.direction,
                scanned_at=s.scanned_at,
                received_at=max(s.uploaded_at, s.scanned_at),
                device_id=device_of(s.person_id),
            )
            for s in workload.scans
        ],
        declarations=[
            DeclarationEvent(
                declaration_id=d.declaration_id,
                person_id=d.person_id,
                declared_at=d.declared_at,
                received_at=max(d.uploaded_at, d.declared_at),
                device_id=device_of(d.person_id),
                symptoms=d.symptoms,
                note=d.note,
            )
            for d in workload.declarations
        ],
    )
