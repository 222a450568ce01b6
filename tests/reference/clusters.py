"""SPEC section 11 clusters, brute force: walk every UTC hour of the time span and count cases.

Shares no code with the tracer. Overlaps have a positive length (docs/rules.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.reference.dwell import HOUR_MS
from tests.reference.model import Visit

DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class Case:
    case_id: str
    person_id: str
    infectious_from: int
    infectious_to: int


def reference_threshold(kind: str | None, thresholds: Mapping[str, int]) -> int:
    if kind is not None and kind in thresholds:
        return thresholds[kind]
    return 3


def case_in_hour(case: Case, visit: Visit, hour: int) -> bool:
    """The visit overlaps both the hour and the case's infectious period (a positive length)."""
    start = max(visit.start, case.infectious_from, hour)
    end = min(visit.end, case.infectious_to, hour + HOUR_MS)
    return end > start


def hour_id(venue_id: str, hour: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=hour)
    return venue_id + "@" + moment.strftime("%Y%m%dT%H") + "Z"


def reference_clusters(
    cases: Iterable[Case],
    visits: Iterable[Visit],
    kinds: Mapping[str, str],
    thresholds: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Every cluster, by venue_id then start, as SPEC objects without `status` (times in ms)."""
    case_list = list(cases)
    visit_list = list(visits)
    if not case_list or not visit_list:
        return []
    first = min(v.start for v in visit_list) // HOUR_MS * HOUR_MS
    last = max(v.end for v in visit_list)
    found: list[dict[str, Any]] = []
    for venue_id in sorted({v.venue_id for v in visit_list}):
        needed = reference_threshold(kinds.get(venue_id), thresholds)
        current: dict[str, Any] | None = None
        hour = first
        while hour < last + HOUR_MS:
            here = set()
            for case in case_list:
                for visit in visit_list:
                    if (
                        visit.venue_id == venue_id
                        and visit.person_id == case.person_id
                        and case_in_hour(case, visit, hour)
                    ):
                        here.add(case.case_id)
            if len(here) >= needed:
                if current is None:
                    current = {
                        "cluster_id": hour_id(venue_id, hour),
                        "venue_id": venue_id,
                        "start": hour,
                        "end": hour + HOUR_MS,
                        "cases": set(here),
                    }
                    found.append(current)
                else:
                    current["end"] = hour + HOUR_MS
                    current["cases"] |= here
            else:
                current = None
            hour += HOUR_MS
    for cluster in found:
        cluster["cases"] = sorted(cluster["cases"])
    return found


def reference_cluster_status(end: int, now: int, open_days: int = 14) -> str:
    """Open until open_days whole days after the cluster's end, closed from then on."""
    if now >= end + open_days * DAY_MS:
        return "closed"
    return "open"
