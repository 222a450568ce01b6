"""Request bodies of the staff routes, and the public view of an account (never its hash)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from scantrace_common.events import StaffEvent
from scantrace_common.ids import IdStr
from scantrace_common.timeparse import format_time
from scantrace_reporter.models import _clean_name

StaffRole = Literal["admin", "epidemiologist", "official", "operator"]
#: SPEC 8: at least 12 characters; the upper bound keeps one hash from costing a denial of service.
Password = Annotated[str, Field(min_length=12, max_length=256)]


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: IdStr
    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: StaffRole
    units: Annotated[list[IdStr], Field(max_length=100)] | None = None
    password: Password

    _name = field_validator("name")(_clean_name)


class SessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: IdStr
    #: Any length: a wrong password of the wrong length is still just a wrong password (401).
    password: Annotated[str, Field(max_length=256)]


def public_view(account: StaffEvent) -> dict[str, Any]:
    """What the API shows of an account."""
    return {
        "staff_id": account.staff_id,
        "name": account.name,
        "role": account.role,
        "units": account.units,
        "created_at": format_time(account.created_at),
        "created_by": account.created_by,
        "disabled": account.disabled_at is not None,
        "disabled_at": None if account.disabled_at is None else format_time(account.disabled_at),
        "disabled_by": account.disabled_by,
    }
