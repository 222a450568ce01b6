"""Event schemas of every topic (SPEC section 7): msgpack maps with a `v` version, validated on decode.

Times inside events are integer epoch milliseconds; dates are `YYYY-MM-DD` strings.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from scantrace_common.ids import Id, Uuid

EpochMs = Annotated[int, msgspec.Meta(ge=0, le=253_402_300_799_999)]
Day = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d{2}-\d{2}$(?!\n)")]
Text = Annotated[str, msgspec.Meta(max_length=1000)]
Direction = Literal["in", "out"]
Level = Literal["province", "district", "commune", "agency"]
Role = Literal["admin", "epidemiologist", "official", "operator"]


class InvalidEvent(ValueError):
    """An event that cannot be processed: it goes to the dead-letter topic with this reason."""


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every event; `v` is the schema version on the wire."""

    v: Literal[1] = 1


class ScanEvent(Event, frozen=True, kw_only=True):
    scan_id: Uuid
    person_id: Id
    venue_id: Id
    direction: Direction
    scanned_at: EpochMs
    received_at: EpochMs
    device_id: Id


class DeclarationEvent(Event, frozen=True, kw_only=True):
    declaration_id: Uuid
    person_id: Id
    declared_at: EpochMs
    received_at: EpochMs
    device_id: Id
    symptoms: list[Annotated[str, msgspec.Meta(max_length=64)]] = []
    note: Text = ""


class UnitEvent(Event, frozen=True, kw_only=True):
    unit_id: Id
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    parent_id: Id | None
    level: Level
    at: EpochMs


class VenueEvent(Event, frozen=True, kw_only=True):
    """The venue's whole current state; a revocation is the same venue with `revoked_at` set."""

    venue_id: Id
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: Annotated[str, msgspec.Meta(max_length=32)]
    unit_id: Id
    default_dwell_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None
    registered_at: EpochMs
    revoked_at: EpochMs | None = None


class QuarantineEvent(Event, frozen=True, kw_only=True):
    person_id: Id
    unit_id: Id
    from_date: Day = msgspec.field(name="from")
    to_date: Day = msgspec.field(name="to")
    registered_at: EpochMs


class CaseEvent(Event, frozen=True, kw_only=True):
    case_id: Uuid
    person_id: Id
    infectious_from: EpochMs
    infectious_to: EpochMs
    min_overlap_minutes: Annotated[int, msgspec.Meta(ge=0, le=1440)] = 15
    opened_by: Id
    at: EpochMs


class Encounter(msgspec.Struct, frozen=True, kw_only=True):
    venue_id: Id
    start: EpochMs
    end: EpochMs
    overlap_minutes: int


class ExposureEvent(Event, frozen=True, kw_only=True):
    """A notice to `person_id` (the contact, and the key) that they met the case's person."""

    case_id: Uuid
    person_id: Id
    case_person_id: Id
    depth: Literal[1, 2]
    via: Id | None = None
    total_overlap_minutes: int
    encounters: list[Encounter]
    at: EpochMs


class AuditEvent(Event, frozen=True, kw_only=True):
    staff_id: Annotated[str, msgspec.Meta(max_length=128)]
    role: Annotated[str, msgspec.Meta(max_length=32)]
    action: Annotated[str, msgspec.Meta(max_length=64)]
    method: Annotated[str, msgspec.Meta(max_length=8)]
    path: Annotated[str, msgspec.Meta(max_length=512)]
    query: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    person_id: Id | None = None
    venue_id: Id | None = None
    status: int
    at: EpochMs


class StaffEvent(Event, frozen=True, kw_only=True):
    """An account's whole current state; disabling it is the same account with `disabled_at` set.

    `password_hash` is an argon2id PHC string: the topic is readable only by the reporter, and
    no API answers it.
    """

    staff_id: Id
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    role: Role
    units: list[Id] | None = None
    password_hash: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]
    created_at: EpochMs
    created_by: Annotated[str, msgspec.Meta(max_length=128)]
    disabled_at: EpochMs | None = None
    disabled_by: Annotated[str, msgspec.Meta(max_length=128)] | None = None


E = TypeVar("E", bound=msgspec.Struct)

_ENCODER = msgspec.msgpack.Encoder()


def encode(event: msgspec.Struct) -> bytes:
    """msgpack bytes of an event (a map with field names as keys)."""
    return _ENCODER.encode(event)


@cache
def _decoder(cls: type[Any]) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(cls)


def decode(cls: type[E], data: bytes | None) -> E:
    """Decode and validate one event; raises `InvalidEvent` with a reason fit for a DLQ header."""
    if data is None:
        raise InvalidEvent("empty value (tombstone)")
    try:
        return _decoder(cls).decode(data)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise InvalidEvent(f"invalid {cls.__name__}: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"undecodable {cls.__name__}: {exc}") from exc


#: Event class of each base topic name.
TOPIC_EVENTS: dict[str, type[Event]] = {
    "scans.v1": ScanEvent,
    "declarations.v1": DeclarationEvent,
    "units.v1": UnitEvent,
    "venues.v1": VenueEvent,
    "quarantines.v1": QuarantineEvent,
    "cases.v1": CaseEvent,
    "exposures.v1": ExposureEvent,
    "audit.v1": AuditEvent,
    "staff.v1": StaffEvent,
}
