"""Plain records used by the reference; every time is epoch milliseconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Direction = Literal["in", "out"]
ClosedBy = Literal["next_in", "dwell", "out", "out_only"]


@dataclass(frozen=True)
class Scan:
    scan_id: str
    person_id: str
    venue_id: str
    direction: Direction
    scanned_at: int


@dataclass(frozen=True)
class Visit:
    person_id: str
    venue_id: str
    start: int
    end: int
    closed_by: ClosedBy


@dataclass(frozen=True)
class Venue:
    venue_id: str
    unit_id: str
    kind: str
    default_dwell_minutes: int | None
    registered_at: int
    revoked_at: int | None = None


@dataclass(frozen=True)
class Unit:
    unit_id: str
    parent_id: str | None
    level: str
    name: str = ""


@dataclass(frozen=True)
class Quarantine:
    person_id: str
    unit_id: str
    from_date: date
    to_date: date


@dataclass(frozen=True)
class Declaration:
    declaration_id: str
    person_id: str
    declared_at: int
