"""SPEC section 6 rules 1-3 (scans -> visits), walked literally, one person at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tests.reference.dwell import HOUR_MS, MINUTE_MS
from tests.reference.model import Scan, Visit

OUT_CAP_MS = 12 * HOUR_MS


def dedupe_scans(scans: Iterable[Scan]) -> list[Scan]:
    """Drop repeated scan_ids; the first one seen wins."""
    seen: set[str] = set()
    kept: list[Scan] = []
    for scan in scans:
        if scan.scan_id not in seen:
            seen.add(scan.scan_id)
            kept.append(scan)
    return kept


def walk_order(scan: Scan) -> tuple[int, int, str]:
    """scanned_at ascending; ties: `out` before `in`, then scan_id."""
    return (scan.scanned_at, 0 if scan.direction == "out" else 1, scan.scan_id)


def visit_order(visit: Visit) -> tuple[int, str, int]:
    return (visit.start, visit.venue_id, visit.end)


def _walk_person(
    person_id: str, scans: list[Scan], dwell_minutes: Callable[[str], int]
) -> list[Visit]:
    def dwell_ms(venue_id: str) -> int:
        return dwell_minutes(venue_id) * MINUTE_MS

    recorded: list[Visit] = []
    # The open visit, if any, as (venue_id, start).
    open_visit: tuple[str, int] | None = None

    def close_open_as_rule_1(t: int) -> None:
        nonlocal open_visit
        if open_visit is None:
            return
        w, start = open_visit
        limit = start + dwell_ms(w)
        if t < limit:
            recorded.append(Visit(person_id, w, start, t, "next_in"))
        else:
            recorded.append(Visit(person_id, w, start, limit, "dwell"))
        open_visit = None

    for scan in sorted(scans, key=walk_order):
        v, t = scan.venue_id, scan.scanned_at
        if scan.direction == "in":
            # Rule 1.
            if open_visit is not None and open_visit[0] == v and t < open_visit[1] + dwell_ms(v):
                continue  # a double scan
            close_open_as_rule_1(t)
            open_visit = (v, t)
        else:
            # Rule 2.
            if open_visit is not None and open_visit[0] == v:
                start = open_visit[1]
                recorded.append(Visit(person_id, v, start, min(t, start + OUT_CAP_MS), "out"))
                open_visit = None
            else:
                close_open_as_rule_1(t)
                # The end of the latest visit recorded so far (visits are recorded in time order).
                previous_end = recorded[-1].end if recorded else t - dwell_ms(v)
                start = max(t - dwell_ms(v), previous_end)
                recorded.append(Visit(person_id, v, start, t, "out_only"))

    # Rule 3.
    if open_visit is not None:
        v, start = open_visit
        recorded.append(Visit(person_id, v, start, start + dwell_ms(v), "dwell"))

    return sorted(recorded, key=visit_order)


def reference_visits(
    scans: Iterable[Scan], dwell_minutes: Callable[[str], int]
) -> dict[str, list[Visit]]:
    """person_id -> that person's visits, ordered by start, then venue_id, then end."""
    by_person: dict[str, list[Scan]] = {}
    for scan in dedupe_scans(scans):
        by_person.setdefault(scan.person_id, []).append(scan)
    return {
        person_id: _walk_person(person_id, person_scans, dwell_minutes)
        for person_id, person_scans in sorted(by_person.items())
    }
