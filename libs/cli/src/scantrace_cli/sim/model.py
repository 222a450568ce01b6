"""The records a workload is made of; every time is epoch milliseconds, every date `YYYY-MM-DD`.

Scans carry a `venue_id`, not a QR payload: only the reporter can sign QR codes, so the live
driver swaps each venue_id for the `qr` the reporter returned when the venue was registered.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Direction = Literal["in", "out"]
Level = Literal["province", "district", "commune", "agency"]


class SimUnit(msgspec.Struct, frozen=True, kw_only=True):
    unit_id: str
    name: str
    parent_id: str | None
    level: Level


class SimVenue(msgspec.Struct, frozen=True, kw_only=True):
    venue_id: str
    name: str
    kind: str
    unit_id: str
    default_dwell_minutes: int | None = None
    #: WGS 84 degrees inside the venue's district (sim/venues.py), or None (replayed data sets).
    lat: float | None = None
    lon: float | None = None


class SimPerson(msgspec.Struct, frozen=True, kw_only=True):
    person_id: str
    home_unit_id: str
    #: What fills their weekdays: worker, office, student, teacher, trader, health, retired, ...
    role: str
    #: Whether they have the app at all (people who never scan have no device).
    scans: bool = True


class SimScan(msgspec.Struct, frozen=True, kw_only=True):
    scan_id: str
    person_id: str
    venue_id: str
    direction: Direction
    scanned_at: int
    #: When the phone uploads it: seconds after the scan when online, hours or days when offline.
    uploaded_at: int


class SimDeclaration(msgspec.Struct, frozen=True, kw_only=True):
    declaration_id: str
    person_id: str
    declared_at: int
    uploaded_at: int
    symptoms: list[str] = []
    note: str = ""


class SimQuarantine(msgspec.Struct, frozen=True, kw_only=True):
    person_id: str
    unit_id: str
    from_date: str
    to_date: str


class Workload(msgspec.Struct, kw_only=True):
    """Everything one run sends: the registry first, then quarantines, then the phones' uploads."""

    name: str
    tz: str
    #: The local days the workload covers, first and last (inclusive).
    first_date: str
    last_date: str
    seed: int | None = None
    units: list[SimUnit]
    venues: list[SimVenue]
    persons: list[SimPerson]
    scans: list[SimScan]
    declarations: list[SimDeclaration] = []
    quarantines: list[SimQuarantine] = []
