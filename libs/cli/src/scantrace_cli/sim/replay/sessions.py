"""Shared steps of every replay: a small registry, and presence records merged into in/out scans."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from scantrace_cli.sim.model import Direction, SimPerson, SimScan, SimUnit, SimVenue, Workload
from scantrace_cli.sim.names import slug

ROOT_UNIT: Final = "replay"
#: Online phones upload a few seconds after scanning.
UPLOAD_DELAY_MS: Final = 5_000
_NAMESPACE: Final = uuid.UUID("6f1c1f4e-4b7a-4d0e-9a57-0c5ad2b1e5a1")


@dataclass(frozen=True, order=True)
class Record:
    """A person known to be at a venue during [start, end] (epoch ms)."""

    person_id: str
    venue_id: str
    start: int
    end: int


@dataclass
class RegistryBuilder:
    """One province-level root `replay`, a district-level unit per data set, its venues under it."""

    name: str
    short: str
    tz: str
    venues: dict[str, SimVenue] = field(default_factory=dict)

    @property
    def unit_id(self) -> str:
        return f"{ROOT_UNIT}.{slug(self.name)}"

    def venue(self, key: str, display: str, kind: str) -> str:
        venue_id = f"{self.short}-{slug(key)}"[:64]
        if venue_id not in self.venues:
            self.venues[venue_id] = SimVenue(
                venue_id=venue_id, name=display[:200], kind=kind, unit_id=self.unit_id
            )
        return venue_id

    def workload(
        self, *, scans: list[SimScan], roles: dict[str, str], first_date: date, last_date: date
    ) -> Workload:
        units = [
            SimUnit(
                unit_id=ROOT_UNIT, name="Dữ liệu thật (replay)", parent_id=None, level="province"
            ),
            SimUnit(unit_id=self.unit_id, name=self.name, parent_id=ROOT_UNIT, level="district"),
        ]
        persons = [
            SimPerson(person_id=p, home_unit_id=self.unit_id, role=roles[p]) for p in sorted(roles)
        ]
        return Workload(
            name=self.name,
            tz=self.tz,
            first_date=first_date.isoformat(),
            last_date=last_date.isoformat(),
            seed=None,
            units=units,
            venues=list(self.venues.values()),
            persons=persons,
            scans=scans,
        )


def scan_id(namespace: str, person_id: str, venue_id: str, direction: str, at: int) -> str:
    """A stable UUID per scan, so a replay sent twice is recognised as duplicates."""
    return str(uuid.uuid5(_NAMESPACE, f"{namespace}|{person_id}|{venue_id}|{direction}|{at}"))


def sessions_to_scans(records: Iterable[Record], *, gap_ms: int, namespace: str) -> list[SimScan]:
    """Merge each person's records into sessions (same venue, gaps <= gap_ms); `in` + `out` each."""
    scans: list[SimScan] = []
    by_person: dict[str, list[Record]] = {}
    for record in records:
        by_person.setdefault(record.person_id, []).append(record)
    for person_id in sorted(by_person):
        ordered = sorted(by_person[person_id], key=lambda r: (r.start, r.end, r.venue_id))
        session: list[int] | None = None  # [start, end]
        venue = ""
        for r in ordered:
            if session is not None and r.venue_id == venue and r.start <= session[1] + gap_ms:
                session[1] = max(session[1], r.end)
                continue
            if session is not None and min(session[1], r.start) > session[0]:
                # Cut where the next place begins; a session left empty (two places in one
                # 20-s window) sends no scans.
                scans.extend(
                    _pair(namespace, person_id, venue, session[0], min(session[1], r.start))
                )
            session, venue = [r.start, r.end], r.venue_id
        if session is not None:
            scans.extend(_pair(namespace, person_id, venue, session[0], session[1]))
    return scans


def _pair(namespace: str, person_id: str, venue_id: str, start: int, end: int) -> list[SimScan]:
    moments: tuple[tuple[Direction, int], ...] = (("in", start), ("out", end))
    return [
        SimScan(
            scan_id=scan_id(namespace, person_id, venue_id, direction, at),
            person_id=person_id,
            venue_id=venue_id,
            direction=direction,
            scanned_at=at,
            uploaded_at=at + UPLOAD_DELAY_MS,
        )
        for direction, at in moments
    ]
