"""SPEC section 6 contacts, plus the tracer's visit listings and occupancy, brute force."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tests.reference.dwell import MINUTE_MS
from tests.reference.model import Visit

# Either reference_visits() output or a flat collection of visits.
VisitsInput = Mapping[str, Iterable[Visit]] | Iterable[Visit]


def all_visits(visits: VisitsInput) -> list[Visit]:
    if isinstance(visits, Mapping):
        return [visit for person_visits in visits.values() for visit in person_visits]
    return list(visits)


def overlaps_closed(visit: Visit, t1: int, t2: int) -> bool:
    """The visit overlaps the closed interval [t1, t2]."""
    return visit.start <= t2 and visit.end >= t1


def reference_person_visits(visits: VisitsInput, person_id: str, t1: int, t2: int) -> list[Visit]:
    """Every visit of the person overlapping [t1, t2], unclipped, by start, venue_id, end, closed_by."""
    found = [
        v for v in all_visits(visits) if v.person_id == person_id and overlaps_closed(v, t1, t2)
    ]
    return sorted(found, key=lambda v: (v.start, v.venue_id, v.end, v.closed_by))


def reference_venue_visits(visits: VisitsInput, venue_id: str, t1: int, t2: int) -> list[Visit]:
    """Every visit at the venue overlapping [t1, t2], unclipped, by start, person_id, end, closed_by."""
    found = [v for v in all_visits(visits) if v.venue_id == venue_id and overlaps_closed(v, t1, t2)]
    return sorted(found, key=lambda v: (v.start, v.person_id, v.end, v.closed_by))


def reference_occupancy(visits: VisitsInput, venue_id: str, now: int) -> int:
    """Visits at the venue whose interval contains now: start <= now < end."""
    return sum(1 for v in all_visits(visits) if v.venue_id == venue_id and v.start <= now < v.end)


def clipped(visits: Iterable[Visit], t1: int, t2: int) -> list[Visit]:
    """The visits overlapping [t1, t2], clipped to it."""
    return [
        Visit(v.person_id, v.venue_id, max(v.start, t1), min(v.end, t2), v.closed_by)
        for v in visits
        if overlaps_closed(v, t1, t2)
    ]


def encounter_between(a: Visit, b: Visit, min_overlap_minutes: int) -> dict[str, Any] | None:
    """The encounter of two visits, or None: same venue, overlap >= 0 and >= the minimum."""
    if a.venue_id != b.venue_id:
        return None
    start = max(a.start, b.start)
    end = min(a.end, b.end)
    duration = end - start
    if duration < 0 or duration < min_overlap_minutes * MINUTE_MS:
        return None
    return {
        "venue_id": a.venue_id,
        "start": start,
        "end": end,
        "overlap_minutes": duration // MINUTE_MS,
    }


def encounter_order(encounter: dict[str, Any]) -> tuple[int, str, int]:
    return (encounter["start"], encounter["venue_id"], encounter["end"])


def reference_exposures(
    visits_by_person: VisitsInput,
    person_id: str,
    t1: int,
    t2: int,
    min_overlap_minutes: int = 15,
    depth: int = 1,
) -> dict[str, Any]:
    """The SPEC exposures response, with every time as epoch ms."""
    if depth not in (1, 2):
        raise ValueError("depth must be 1 or 2")
    everything = all_visits(visits_by_person)
    p = person_id

    # Depth 1: P's clipped visits against everyone else's unclipped visits.
    p_visits = clipped([v for v in everything if v.person_id == p], t1, t2)
    depth1: dict[str, list[dict[str, Any]]] = {}
    for pv in p_visits:
        for qv in everything:
            if qv.person_id == p:
                continue
            encounter = encounter_between(pv, qv, min_overlap_minutes)
            if encounter is not None:
                depth1.setdefault(qv.person_id, []).append(encounter)

    contacts: list[dict[str, Any]] = [
        _contact(c, 1, None, encounters) for c, encounters in depth1.items()
    ]

    if depth == 2:
        excluded = {p} | set(depth1)
        # Per depth-2 person: (encounter, the depth-1 contact it came through).
        depth2: dict[str, list[tuple[dict[str, Any], str]]] = {}
        for c, c_encounters_with_p in depth1.items():
            s = min(e["start"] for e in c_encounters_with_p)
            c_visits = clipped([v for v in everything if v.person_id == c], s, t2)
            for cv in c_visits:
                for qv in everything:
                    if qv.person_id in excluded:
                        continue
                    encounter = encounter_between(cv, qv, min_overlap_minutes)
                    if encounter is not None:
                        depth2.setdefault(qv.person_id, []).append((encounter, c))
        for q, pairs in depth2.items():
            via = min(pairs, key=lambda pair: (pair[0]["start"], pair[1]))[1]
            contacts.append(_contact(q, 2, via, [encounter for encounter, _ in pairs]))

    contacts.sort(key=lambda c: (c["depth"], -c["total_overlap_minutes"], c["person_id"]))
    return {
        "person_id": p,
        "from": t1,
        "to": t2,
        "min_overlap_minutes": min_overlap_minutes,
        "depth": depth,
        "contacts": contacts,
    }


def _contact(
    person_id: str, depth: int, via: str | None, encounters: list[dict[str, Any]]
) -> dict[str, Any]:
    ordered = sorted(encounters, key=encounter_order)
    return {
        "person_id": person_id,
        "depth": depth,
        "via": via,
        "total_overlap_minutes": sum(e["overlap_minutes"] for e in ordered),
        "encounters": ordered,
    }
