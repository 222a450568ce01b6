"""SPEC section 6 compliance for one unit and one local day, brute force."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.reference.criteria import ref_status
from tests.reference.model import Declaration, Quarantine, Scan, Unit, Venue
from tests.reference.visits import dedupe_scans

_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))


def local_midnight_ms(day: date, tz: str) -> int:
    """Epoch ms of 00:00 local time on day (fold=0 if ambiguous)."""
    midnight = datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(tz))
    return (midnight - _EPOCH) // timedelta(milliseconds=1)


def day_bounds_ms(day: date, tz: str) -> tuple[int, int]:
    """[start, end) of the local day in epoch ms."""
    return local_midnight_ms(day, tz), local_midnight_ms(day + timedelta(days=1), tz)


def subtree(units: Iterable[Unit], unit_id: str) -> set[str]:
    """unit_id and all its descendants in the current tree."""
    unit_list = list(units)
    found = {unit_id}
    grew = True
    while grew:
        grew = False
        for unit in unit_list:
            if unit.parent_id in found and unit.unit_id not in found:
                found.add(unit.unit_id)
                grew = True
    return found


def ratio(done: int, total: int) -> float | None:
    return None if total == 0 else done / total


def reference_compliance(
    units: Iterable[Unit],
    venues: Iterable[Venue],
    scans: Iterable[Scan],
    quarantines: Iterable[Quarantine],
    declarations: Iterable[Declaration],
    unit_id: str,
    day: date,
    tz: str,
    safety: Mapping[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The SPEC compliance object for unit_id on day, with children (direct child units).
    `safety`: each venue's assessments and inspections as `criteria.ref_status` reads them."""
    unit_list = list(units)
    if unit_id not in {u.unit_id for u in unit_list}:
        raise KeyError(unit_id)
    # One record per venue: its current state (the last record of an id wins).
    venue_list = list({v.venue_id: v for v in venues}.values())
    scan_list = dedupe_scans(scans)
    quarantine_list = list(quarantines)
    declaration_list = _dedupe_declarations(declarations)

    def one(u: str) -> dict[str, Any]:
        return _figures(
            unit_list,
            venue_list,
            scan_list,
            quarantine_list,
            declaration_list,
            u,
            day,
            tz,
            safety or {},
        )

    result = one(unit_id)
    children = sorted(u.unit_id for u in unit_list if u.parent_id == unit_id)
    result["children"] = [one(child) for child in children]
    return result


def _dedupe_declarations(declarations: Iterable[Declaration]) -> list[Declaration]:
    seen: set[str] = set()
    kept: list[Declaration] = []
    for declaration in declarations:
        if declaration.declaration_id not in seen:
            seen.add(declaration.declaration_id)
            kept.append(declaration)
    return kept


def _figures(
    units: list[Unit],
    venues: list[Venue],
    scans: list[Scan],
    quarantines: list[Quarantine],
    declarations: list[Declaration],
    unit_id: str,
    day: date,
    tz: str,
    safety: Mapping[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    day_start, day_end = day_bounds_ms(day, tz)
    units_here = subtree(units, unit_id)

    registered = {
        v.venue_id
        for v in venues
        if v.unit_id in units_here
        and v.registered_at < day_end
        and not (v.revoked_at is not None and v.revoked_at < day_end)
    }
    day_scans = [
        s for s in scans if s.venue_id in registered and day_start <= s.scanned_at < day_end
    ]
    active = {s.venue_id for s in day_scans}
    persons = {s.person_id for s in day_scans}

    quarantined = {
        q.person_id
        for q in quarantines
        if q.unit_id in units_here and q.from_date <= day <= q.to_date
    }
    declared = {
        d.person_id
        for d in declarations
        if d.person_id in quarantined and day_start <= d.declared_at < day_end
    }
    assessed = {
        v for v in registered if ref_status(list(safety.get(v, [])), day_end - 1)[0] == "current"
    }

    return {
        "unit_id": unit_id,
        "date": day.isoformat(),
        "venues_registered": len(registered),
        "venues_active": len(active),
        "active_ratio": ratio(len(active), len(registered)),
        "scans": len(day_scans),
        "scans_in": sum(1 for s in day_scans if s.direction == "in"),
        "scans_out": sum(1 for s in day_scans if s.direction == "out"),
        "persons": len(persons),
        "quarantined": len(quarantined),
        "declarations_done": len(declared),
        "declaration_ratio": ratio(len(declared), len(quarantined)),
        # SPEC 10: the registered venues whose status is current at the last instant of D
        "venues_assessed": len(assessed),
        "assessed_ratio": ratio(len(assessed), len(registered)),
    }
