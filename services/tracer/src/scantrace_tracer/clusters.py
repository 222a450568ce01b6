"""SPEC section 11 clusters as pure functions: which UTC hours of a venue are cluster hours, how
consecutive hours merge into clusters, their ids and status, and which venues a new case touches.

Times are epoch milliseconds. Guarantees (the decisions are in docs/rules.md, "Clusters and
follow-up"):

- A case is present at a venue over a visit clipped to the case's infectious period, when that
  clipped interval has a positive length; it is present in hour [h, h + 1 h) when the clipped
  interval shares a positive length with it. So interval ends, open or closed, never matter.
- A cluster hour has at least `threshold(kind)` distinct case ids present; consecutive cluster
  hours of one venue are one cluster, `end` exclusive (the end of its last hour), `cases` the
  sorted ids of the cases present in any of its hours.
- The result is a function of the set of (case, visit) pairs: the same whatever order cases and
  visits arrive in. Adding a case never removes a cluster hour, so every cluster id ever
  published still names an hour inside exactly one current cluster (`resolve`).
- Recomputing after a new case: only `venues_touched(case, its visits)` change, each from the
  presences of every case there; cost O(visits of the cases at those venues x hours a visit spans,
  at most 25), plus sorting the venue's cluster hours. Hours before the retention horizon keep
  the clusters last published (`recompute_venue`): expired visits never remove a cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Final, Literal, NamedTuple

from scantrace_common import events
from scantrace_common.venue_kinds import VENUE_KINDS

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS
DEFAULT_THRESHOLD: Final = 3
#: A cluster stays open this many days after its end (SCANTRACE_FOLLOW_UP_DAYS' default): as
#: long as a person exposed in its last hour can still be under follow-up.
DEFAULT_OPEN_DAYS: Final = 14

#: A cluster id: the venue id, `@`, its first UTC hour (events.py checks the same pattern).
CLUSTER_ID_PATTERN: Final = r"^(?P<venue>[A-Za-z0-9_.-]{1,64})@(?P<hour>\d{8}T\d{2}Z)$(?!\n)"
CLUSTER_ID_RE: Final = re.compile(CLUSTER_ID_PATTERN)

ClusterStatus = Literal["open", "closed"]
Thresholds = Mapping[str, int]


class Case(NamedTuple):
    case_id: str
    person_id: str
    infectious_from: int
    infectious_to: int


class CaseVisit(NamedTuple):
    """A visit of a case's person (SPEC 6 visit fields that matter here)."""

    venue_id: str
    start: int
    end: int


class Presence(NamedTuple):
    """A case at a venue over [start, end): one visit clipped to the infectious period."""

    case_id: str
    start: int
    end: int


class Cluster(NamedTuple):
    cluster_id: str
    venue_id: str
    start: int
    end: int
    cases: tuple[str, ...]


class ThresholdsError(ValueError):
    """SCANTRACE_CLUSTER_THRESHOLDS is malformed; the message names the item and what is wrong."""


def parse_thresholds(text: str) -> dict[str, int]:
    """`kind=n,...` (spaces allowed around items, an empty text for none) as {kind: n}.

    Every kind must be a venue kind of SPEC 4, named once, with an integer n >= 1.
    """
    found: dict[str, int] = {}
    if not text.strip():
        return found
    for number, raw in enumerate(text.split(","), start=1):
        item = raw.strip()
        where = f"SCANTRACE_CLUSTER_THRESHOLDS item {number} ({item!r})"
        kind, sep, value = item.partition("=")
        kind, value = kind.strip(), value.strip()
        if not sep or not kind or not value:
            raise ThresholdsError(f"{where}: expected kind=n")
        if kind not in VENUE_KINDS:
            raise ThresholdsError(
                f"{where}: unknown venue kind {kind!r} (one of {', '.join(sorted(VENUE_KINDS))})"
            )
        if kind in found:
            raise ThresholdsError(f"{where}: {kind} is given twice")
        if not value.isascii() or not value.isdigit() or int(value) < 1:
            raise ThresholdsError(f"{where}: the threshold must be an integer >= 1")
        found[kind] = int(value)
    return found


def threshold(kind: str | None, thresholds: Thresholds) -> int:
    """threshold(kind): the configured figure, else 3 (unknown venues and kinds included)."""
    if kind is None:
        return DEFAULT_THRESHOLD
    return thresholds.get(kind, DEFAULT_THRESHOLD)


def presence(case: Case, visit: CaseVisit) -> Presence | None:
    """The visit clipped to the case's infectious period, None unless of positive length."""
    start = max(visit.start, case.infectious_from)
    end = min(visit.end, case.infectious_to)
    return Presence(case.case_id, start, end) if end > start else None


def presences_by_venue(case: Case, visits: Iterable[CaseVisit]) -> dict[str, list[Presence]]:
    """The case's presences, by venue (its person's visits; others are not looked at)."""
    found: dict[str, list[Presence]] = {}
    for visit in visits:
        p = presence(case, visit)
        if p is not None:
            found.setdefault(visit.venue_id, []).append(p)
    return found


def venues_touched(case: Case, visits: Iterable[CaseVisit]) -> set[str]:
    """The venues to recompute when `case` arrives: where it has a presence."""
    return set(presences_by_venue(case, visits))


def hours_of(p: Presence) -> range:
    """Start of every UTC hour sharing a positive length with [p.start, p.end)."""
    first = p.start // HOUR_MS * HOUR_MS
    return range(first, p.end, HOUR_MS)


def cluster_hours(presences: Iterable[Presence], at_least: int) -> dict[int, set[str]]:
    """{hour start: case ids present} for the hours with at least `at_least` distinct cases."""
    present: dict[int, set[str]] = {}
    for p in presences:
        for hour in hours_of(p):
            present.setdefault(hour, set()).add(p.case_id)
    return {hour: cases for hour, cases in present.items() if len(cases) >= at_least}


def cluster_id(venue_id: str, first_hour: int) -> str:
    """`<venue_id>@<YYYYMMDD>T<HH>Z`, from the venue and the cluster's first hour."""
    moment = datetime.fromtimestamp(first_hour // 1000, tz=UTC)
    return f"{venue_id}@{moment:%Y%m%dT%H}Z"


def parse_cluster_id(value: str) -> tuple[str, int]:
    """(venue_id, hour start) of a cluster id; ValueError when it is not one."""
    match = CLUSTER_ID_RE.search(value)
    if match is None:
        raise ValueError(f"not a cluster id: {value!r}")
    try:
        moment = datetime.strptime(match["hour"], "%Y%m%dT%HZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ValueError(f"not a cluster id: {value!r}") from exc
    return match["venue"], int(moment.timestamp()) * 1000


def venue_clusters(venue_id: str, presences: Iterable[Presence], at_least: int) -> list[Cluster]:
    """The venue's clusters, by start: runs of consecutive cluster hours."""
    return _runs(venue_id, cluster_hours(presences, at_least))


def recompute_venue(
    venue_id: str,
    presences: Iterable[Presence],
    at_least: int,
    previous: Iterable[Cluster],
    horizon: int,
) -> list[Cluster]:
    """The venue's clusters when case visits before `horizon` may have expired (retention).

    Hours from `horizon` rounded up to an hour are computed from `presences`; earlier hours are
    the ones of `previous` (the list last published), each with its cluster's cases; the two
    merge where they meet. So an old cluster is never recomputed away because its visits
    expired, and with `horizon` at or before every presence it is `venue_clusters`.
    """
    cut = -(-horizon // HOUR_MS) * HOUR_MS
    hours = {h: cases for h, cases in cluster_hours(presences, at_least).items() if h >= cut}
    for cluster in previous:
        for hour in range(cluster.start, min(cluster.end, cut), HOUR_MS):
            hours.setdefault(hour, set()).update(cluster.cases)
    return _runs(venue_id, hours)


def _runs(venue_id: str, hours: Mapping[int, set[str]]) -> list[Cluster]:
    clusters: list[Cluster] = []
    run: list[int] = []
    for hour in sorted(hours):
        if run and hour != run[-1] + HOUR_MS:
            clusters.append(_cluster(venue_id, run, hours))
            run = []
        run.append(hour)
    if run:
        clusters.append(_cluster(venue_id, run, hours))
    return clusters


def _cluster(venue_id: str, run: list[int], hours: Mapping[int, set[str]]) -> Cluster:
    cases: set[str] = set()
    for hour in run:
        cases |= hours[hour]
    return Cluster(
        cluster_id(venue_id, run[0]), venue_id, run[0], run[-1] + HOUR_MS, tuple(sorted(cases))
    )


def clusters(
    cases: Iterable[Case],
    visits_by_person: Mapping[str, Iterable[CaseVisit]],
    kind_of: Mapping[str, str],
    thresholds: Thresholds,
) -> dict[str, list[Cluster]]:
    """Every venue's clusters from scratch: {venue_id: clusters}, venues without any left out.

    `kind_of` maps venue ids to kinds (a venue missing from it has the default threshold).
    """
    by_venue: dict[str, list[Presence]] = {}
    for case in cases:
        for venue_id, found in presences_by_venue(
            case, visits_by_person.get(case.person_id, ())
        ).items():
            by_venue.setdefault(venue_id, []).extend(found)
    result: dict[str, list[Cluster]] = {}
    for venue_id, found in by_venue.items():
        at_least = threshold(kind_of.get(venue_id), thresholds)
        venue_result = venue_clusters(venue_id, found, at_least)
        if venue_result:
            result[venue_id] = venue_result
    return result


def closes_at(cluster_end: int, open_days: int = DEFAULT_OPEN_DAYS) -> int:
    """The instant a cluster ending at `cluster_end` becomes closed."""
    return cluster_end + open_days * DAY_MS


def cluster_status(cluster_end: int, now: int, open_days: int = DEFAULT_OPEN_DAYS) -> ClusterStatus:
    """`open` while now < end + open_days days, then `closed` (a later cluster hour moves `end`)."""
    return "open" if now < closes_at(cluster_end, open_days) else "closed"


def resolve(cluster_id_: str, current: Iterable[Cluster]) -> Cluster | None:
    """The current cluster that an id once published grew or merged into (the one holding its hour)."""
    venue_id, hour = parse_cluster_id(cluster_id_)
    for cluster in current:
        if cluster.venue_id == venue_id and cluster.start <= hour < cluster.end:
            return cluster
    return None


def clusters_event(
    venue_id: str, found: Iterable[Cluster], now: int, open_days: int = DEFAULT_OPEN_DAYS
) -> events.ClustersEvent:
    """The `clusters.v1` event of a venue: its whole current list, statuses as of `now`."""
    return events.ClustersEvent(
        venue_id=venue_id,
        clusters=[
            events.Cluster(
                cluster_id=c.cluster_id,
                venue_id=c.venue_id,
                start=c.start,
                end=c.end,
                cases=list(c.cases),
                status=cluster_status(c.end, now, open_days),
                closes_at=closes_at(c.end, open_days),
            )
            for c in found
        ],
        at=now,
    )
