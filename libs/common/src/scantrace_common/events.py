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
#: Who acted, as the staff token's `sub` says (truncated to 128 characters): a bounded text, not
#: an `Id`, because tokens minted by `scantrace token --sub` may hold `@` or spaces.
StaffRef = Annotated[str, msgspec.Meta(max_length=128)]


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


class Location(msgspec.Struct, frozen=True, kw_only=True):
    """WGS 84 degrees (SPEC 10)."""

    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class VenueEvent(Event, frozen=True, kw_only=True):
    """The venue's whole current state; a revocation is the same venue with `revoked_at` set.
    `location` and `address` (SPEC 10) are optional, so events written before them still decode."""

    venue_id: Id
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: Annotated[str, msgspec.Meta(max_length=32)]
    unit_id: Id
    default_dwell_minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None
    registered_at: EpochMs
    revoked_at: EpochMs | None = None
    location: Location | None = None
    address: Annotated[str, msgspec.Meta(max_length=500)] | None = None


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
    opened_by: StaffRef
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
    staff_id: StaffRef
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


# --- SPEC section 10: criteria sets, assessments, inspections, residents' reports ---------------

SafetyLevel = Literal["green", "yellow", "orange", "red"]
CriteriaText = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class CriterionOption(msgspec.Struct, frozen=True, kw_only=True):
    option_id: Id
    text: CriteriaText
    points: Annotated[int, msgspec.Meta(ge=0, le=100_000)]


class Criterion(msgspec.Struct, frozen=True, kw_only=True):
    criterion_id: Id
    text: CriteriaText
    #: A heading the criterion sits under in its decision (a part or a phase); display only.
    section: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    options: list[CriterionOption]
    fail_options: list[Id] = []


class Band(msgspec.Struct, frozen=True, kw_only=True):
    min_percent: Annotated[float, msgspec.Meta(ge=0, le=100)]
    level: SafetyLevel
    #: The decision's own name of the class (several classes may share a level).
    label: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class CriteriaSource(msgspec.Struct, frozen=True, kw_only=True):
    """Where a shipped set comes from: the decision's number, issuer and date, and what was read."""

    decision: Annotated[str, msgspec.Meta(max_length=200)]
    issuer: Annotated[str, msgspec.Meta(max_length=200)] = ""
    date: Day
    urls: list[Annotated[str, msgspec.Meta(max_length=1000)]] = []
    note: Text = ""
    #: The number of criteria and the points the decision itself states, to check a whole set by.
    stated_criteria: Annotated[int, msgspec.Meta(ge=1)] | None = None
    stated_max_points: Annotated[int, msgspec.Meta(ge=1)] | None = None


class CriteriaSetEvent(Event, frozen=True, kw_only=True):
    """A criteria set document of SPEC section 10 (one version); the reporter stamps `published_at`."""

    set_id: Id
    version: Annotated[int, msgspec.Meta(ge=1)]
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    kinds: list[Annotated[str, msgspec.Meta(max_length=32)]]
    criteria: list[Criterion]
    bands: list[Band]
    fail_level: SafetyLevel | None = None
    validity_days: Annotated[int, msgspec.Meta(ge=1, le=3660)]
    source: CriteriaSource | None = None
    #: What of the decision is not in this set (empty when the set is whole).
    gaps: list[Text] = []
    published_at: EpochMs | None = None


class AssessmentEvent(Event, frozen=True, kw_only=True):
    assessment_id: Uuid
    venue_id: Id
    set_id: Id
    version: Annotated[int, msgspec.Meta(ge=1)]
    answers: dict[Id, Id]
    assessed_at: EpochMs
    points: Annotated[int, msgspec.Meta(ge=0)]
    max_points: Annotated[int, msgspec.Meta(ge=1)]
    percent: Annotated[float, msgspec.Meta(ge=0, le=100)]
    level: SafetyLevel
    failed: list[Id] = []
    valid_until: EpochMs
    #: The staff id, or the venue id for a venue owner's token.
    by: Annotated[str, msgspec.Meta(max_length=128)]


class InspectionEvent(Event, frozen=True, kw_only=True):
    inspection_id: Uuid
    venue_id: Id
    result: Literal["pass", "fail"]
    note: Text = ""
    suspend: bool = False
    staff_id: Annotated[str, msgspec.Meta(max_length=128)]
    at: EpochMs


class VenueReportEvent(Event, frozen=True, kw_only=True):
    """A resident's report of a venue; `person_id` and `device_id` are for abuse control only."""

    report_id: Uuid
    venue_id: Id
    category: Literal["no_distancing", "no_masks", "no_checkin", "crowded", "other"]
    text: Text = ""
    person_id: Id
    device_id: Id
    received_at: EpochMs


# --- SPEC section 11: clusters -----------------------------------------------------------------

#: `<venue_id>@<YYYYMMDD>T<HH>Z`: the venue and the cluster's first UTC hour (docs/rules.md).
ClusterId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,64}@\d{8}T\d{2}Z$(?!\n)")]


class Cluster(msgspec.Struct, frozen=True, kw_only=True):
    """One cluster as SPEC 11 shows it, `end` exclusive; `status` as of the event's `at`, and
    `closes_at` the instant it turns `closed` if no later cluster hour extends it."""

    cluster_id: ClusterId
    venue_id: Id
    start: EpochMs
    end: EpochMs
    cases: list[Uuid]
    status: Literal["open", "closed"]
    closes_at: EpochMs


class ClustersEvent(Event, frozen=True, kw_only=True):
    """A venue's whole current cluster list (key venue_id, compacted): each event replaces the
    previous one, so merged or vanished cluster ids need no event of their own; `[]` when the
    venue has none left."""

    venue_id: Id
    clusters: list[Cluster]
    at: EpochMs


E = TypeVar("E", bound=msgspec.Struct)

_ENCODER = msgspec.msgpack.Encoder()


def encode(event: msgspec.Struct) -> bytes:
    """msgpack bytes of an event (a map with field names as keys)."""
    return _ENCODER.encode(event)


def encode_valid(event: msgspec.Struct) -> bytes:
    """msgpack bytes of an event checked against its schema; raises `InvalidEvent` otherwise.

    msgspec does not validate on construction: a struct built from unchecked values would
    otherwise reach a topic (or Redis) that every reader then refuses.
    """
    data = encode(event)
    decode(type(event), data)
    return data


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
    "criteria.v1": CriteriaSetEvent,
    "assessments.v1": AssessmentEvent,
    "inspections.v1": InspectionEvent,
    "venue-reports.v1": VenueReportEvent,
    "clusters.v1": ClustersEvent,
}
