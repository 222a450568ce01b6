"""Prefixing every id of a workload, so several runs can share one stack without colliding."""

from __future__ import annotations

from scantrace_cli.sim.model import (
    SimDeclaration,
    SimPerson,
    SimQuarantine,
    SimScan,
    SimUnit,
    SimVenue,
    Workload,
)


def prefixed(workload: Workload, prefix: str) -> Workload:
    """The same workload with every unit, venue and person id prefixed, to isolate this test."""

    def p(value: str) -> str:
        return prefix + value

    return Workload(
        name=workload.name,
        tz=workload.tz,
        first_date=workload.first_date,
        last_date=workload.last_date,
        seed=workload.seed,
        units=[
            SimUnit(
                unit_id=p(u.unit_id),
                name=u.name,
                parent_id=p(u.parent_id) if u.parent_id else None,
                level=u.level,
            )
            for u in workload.units
        ],
        venues=[
            SimVenue(
                venue_id=p(v.venue_id),
                name=v.name,
                kind=v.kind,
                unit_id=p(v.unit_id),
                default_dwell_minutes=v.default_dwell_minutes,
            )
            for v in workload.venues
        ],
        persons=[
            SimPerson(
                person_id=p(x.person_id), home_unit_id=p(x.home_unit_id), role=x.role, scans=x.scans
            )
            for x in workload.persons
        ],
        scans=[
            SimScan(
                scan_id=s.scan_id,
                person_id=p(s.person_id),
                venue_id=p(s.venue_id),
                direction=s.direction,
                scanned_at=s.scanned_at,
                uploaded_at=s.uploaded_at,
            )
            for s in workload.scans
        ],
        declarations=[
            SimDeclaration(
                declaration_id=d.declaration_id,
                person_id=p(d.person_id),
                declared_at=d.declared_at,
                uploaded_at=d.uploaded_at,
                symptoms=d.symptoms,
                note=d.note,
            )
            for d in workload.declarations
        ],
        quarantines=[
            SimQuarantine(
                person_id=p(q.person_id),
                unit_id=p(q.unit_id),
                from_date=q.from_date,
                to_date=q.to_date,
            )
            for q in workload.quarantines
        ],
    )
