"""SPEC section 11 follow-up, brute force: walk every followed day and look at every declaration.

Shares no code with the tracer; local days come from tests/reference/compliance.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.reference.compliance import day_bounds_ms


@dataclass(frozen=True)
class Contact:
    """A depth-1 contact of a case: the person and the ends of its encounters."""

    person_id: str
    encounter_ends: tuple[int, ...]


@dataclass(frozen=True)
class HealthDeclaration:
    declaration_id: str
    person_id: str
    declared_at: int
    symptoms: tuple[str, ...] = ()


def local_day(ms: int, tz: str) -> date:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    return moment.astimezone(ZoneInfo(tz)).date()


def reference_follow_up_id(case_id: str, person_id: str) -> str:
    namespace = uuid.UUID("5f1c2e0a-7b3d-5e8f-9a41-0c6d2b7e9f13")
    return str(uuid.uuid5(namespace, case_id + ":" + person_id))


def reference_day_status(
    person_id: str, day: date, declarations: list[HealthDeclaration], now: int, tz: str
) -> str:
    start, end = day_bounds_ms(day, tz)
    that_day = [
        d for d in declarations if d.person_id == person_id and start <= d.declared_at < end
    ]
    if any(len(d.symptoms) > 0 for d in that_day):
        return "seen_unwell"
    if that_day:
        return "seen_ok"
    if now >= end:
        return "missed"
    return "pending"


def reference_follow_ups(
    case_id: str,
    contacts: Iterable[Contact],
    declarations: Iterable[HealthDeclaration],
    now: int,
    tz: str,
    days: int = 14,
) -> list[dict[str, Any]]:
    """The case's follow-up records at `now`, by person_id, with their days and status."""
    declaration_list = list(declarations)
    records: list[dict[str, Any]] = []
    for contact in sorted(contacts, key=lambda c: c.person_id):
        last_exposure = max(contact.encounter_ends)
        exposure_day = local_day(last_exposure, tz)
        until = exposure_day + timedelta(days=days)
        followed: list[dict[str, str]] = []
        day = exposure_day + timedelta(days=1)
        while day <= until:
            status = reference_day_status(contact.person_id, day, declaration_list, now, tz)
            followed.append({"date": day.isoformat(), "status": status})
            day += timedelta(days=1)
        decided = [d["status"] for d in followed if d["status"] != "pending"]
        if len(decided) >= 3 and decided[-3:] == ["missed", "missed", "missed"]:
            status = "lost"
        elif now >= day_bounds_ms(until, tz)[1]:
            status = "completed"
        else:
            status = "active"
        records.append(
            {
                "follow_up_id": reference_follow_up_id(case_id, contact.person_id),
                "case_id": case_id,
                "person_id": contact.person_id,
                "last_exposure": last_exposure,
                "until": until.isoformat(),
                "status": status,
                "days": followed,
            }
        )
    return records
