"""Request bodies and parameter types of the reporter API (validated by pydantic; errors answer 422)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Final, Literal

from fastapi import Body
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    WithJsonSchema,
    field_validator,
)

from scantrace_common.ids import IdStr
from scantrace_common.venue_kinds import VENUE_KINDS
from scantrace_reporter.days import parse_day

Name = Annotated[str, Field(min_length=1, max_length=200)]
#: A `YYYY-MM-DD` day, read by `days.parse_day` (the one parser: what it refuses is a 422).
Day = Annotated[
    date,
    PlainValidator(parse_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}),
]
Level = Literal["province", "district", "commune", "agency"]
#: Items of one batch request.
MAX_BATCH: Final = 1000
#: A batch body: a JSON array of objects, each judged on its own (into UnitIn or VenueIn).
BatchItems = Annotated[list[dict[str, Any]], Body(max_length=MAX_BATCH)]


def _clean_name(value: str) -> str:
    cleaned = " ".join(value.split())
    if not cleaned:
        raise ValueError("name must not be blank")
    return cleaned


class UnitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: IdStr
    name: Name
    parent_id: IdStr | None = None
    level: Level

    _name = field_validator("name")(_clean_name)


class LocationIn(BaseModel):
    """WGS 84 degrees; NaN and infinities are refused like any value out of range."""

    model_config = ConfigDict(extra="forbid")

    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class VenueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    venue_id: IdStr | None = None
    name: Name
    kind: str
    unit_id: IdStr
    default_dwell_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None
    location: LocationIn | None = None
    address: Annotated[str, Field(max_length=500)] | None = None

    _name = field_validator("name")(_clean_name)

    @field_validator("address")
    @classmethod
    def _clean_address(cls, value: str | None) -> str | None:
        """Whitespace folded; a blank address is no address."""
        if value is None:
            return None
        return " ".join(value.split()) or None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in VENUE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(sorted(VENUE_KINDS))}")
        return value


class QuarantineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    person_id: IdStr
    unit_id: IdStr
    from_date: Day = Field(alias="from")
    to_date: Day = Field(alias="to")


#: A criterion or option id as an answer names it (checked against the set by the engine).
AnswerKey = Annotated[str, Field(min_length=1, max_length=64)]


class AssessmentIn(BaseModel):
    """SPEC 10: one option per criterion of the set (its newest version unless `version`)."""

    model_config = ConfigDict(extra="forbid")

    set_id: IdStr
    version: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    answers: Annotated[dict[AnswerKey, AnswerKey], Field(max_length=1000)]


class InspectionIn(BaseModel):
    """SPEC 10: an official's inspection; `suspend` suspends the venue until a later one passes."""

    model_config = ConfigDict(extra="forbid")

    result: Literal["pass", "fail"]
    note: Annotated[str, Field(max_length=1000)] = ""
    suspend: StrictBool = False
